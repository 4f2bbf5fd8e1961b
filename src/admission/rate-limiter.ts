/**
 * Per-party rate limits (token bucket: sustained requests/s and burst) and a
 * daily quota, with the state in one SharedArrayBuffer so every server thread
 * of a process draws from the same buckets: N threads never grant N times a
 * party's budget.
 *
 * Layout: an Int32 region (header, directory lock, then per party: a lock and
 * the 64-bit hash of its id) and a Float64 region (per party: tokens, time of
 * the last refill, quota day, units used that day).
 *
 * Why a lock per party rather than a lock-free CAS on a packed word: the check
 * spans two budgets (tokens and the day's quota) that must be taken together or
 * not at all, and a refill needs the time and the count; one uncontended
 * compare-and-swap for the lock is as cheap as the CAS loop would be.
 *
 * Limits are passed with every call, from the calling thread's registry, so a
 * reloaded registry takes effect at once; only the counters are shared.
 * Parties get a slot on first use through a shared directory (hash of the id,
 * open addressing), so threads agree on slots without coordinating registries.
 */
import { createHash } from 'node:crypto'
import { lock, unlock } from './shared-lock.js'
import type { RateLimits } from '../parties/schema.js'
import './codes.js'

export type { RateLimits }

const MAGIC = 0x52415445 // 'RATE'
const HEADER_CELLS = 8 // [magic, maxParties, dirLock, _, ...] keeps the Float64 region 8-byte aligned
const DIR_LOCK = 2
const CELLS_PER_PARTY = 4 // lock, hashHi, hashLo, used flag
const F64_PER_PARTY = 4 // tokens, lastMs, day, used
const DAY_MS = 86_400_000

export interface RateLimiterOptions {
  /** Distinct parties the table can hold. Default 4096. */
  readonly maxParties?: number
  /** Where the quota day starts, as an offset from UTC in minutes. Default 420 (Vietnam, UTC+7: quotas reset at local midnight). */
  readonly dayOffsetMinutes?: number
}

export interface RateLimiterHandle {
  readonly buffer: SharedArrayBuffer
  readonly dayOffsetMinutes: number
}

export interface ConsumeOptions {
  /** Tokens this request takes from the bucket. Default 1. */
  readonly tokens?: number
  /** Units it takes from the daily quota (a batch may count its items). Default 1. */
  readonly quota?: number
  readonly nowMs?: number
}

export type RateDecision =
  | { readonly ok: true, readonly remainingTokens: number, readonly remainingQuota: number | undefined }
  | { readonly ok: false, readonly code: 'IDV_ERR_RATE_LIMITED' | 'IDV_ERR_QUOTA_EXCEEDED', readonly retryAfterSeconds: number, readonly detail: string }

export class RateLimiter {
  readonly #cells: Int32Array
  readonly #state: Float64Array
  readonly #maxParties: number
  readonly #dayOffsetMs: number
  /** Thread-local cache of directory lookups. */
  readonly #slots = new Map<string, number>()

  private constructor (handle: RateLimiterHandle) {
    const cells = new Int32Array(handle.buffer)
    if (cells[0] !== MAGIC) throw new TypeError('not a RateLimiter buffer')
    this.#cells = cells
    this.#maxParties = cells[1] ?? 0
    const f64Offset = (HEADER_CELLS + this.#maxParties * CELLS_PER_PARTY) * 4
    this.#state = new Float64Array(handle.buffer, f64Offset, this.#maxParties * F64_PER_PARTY)
    this.#dayOffsetMs = handle.dayOffsetMinutes * 60_000
  }

  static create (options: RateLimiterOptions = {}): RateLimiter {
    const maxParties = options.maxParties ?? 4096
    if (!Number.isInteger(maxParties) || maxParties < 1) throw new RangeError('maxParties must be a positive integer')
    const intBytes = (HEADER_CELLS + maxParties * CELLS_PER_PARTY) * 4
    const buffer = new SharedArrayBuffer(intBytes + maxParties * F64_PER_PARTY * 8)
    const cells = new Int32Array(buffer)
    cells[0] = MAGIC
    cells[1] = maxParties
    return new RateLimiter({ buffer, dayOffsetMinutes: options.dayOffsetMinutes ?? 420 })
  }

  static fromHandle (handle: RateLimiterHandle): RateLimiter {
    return new RateLimiter(handle)
  }

  shareHandle (): RateLimiterHandle {
    return { buffer: this.#cells.buffer as SharedArrayBuffer, dayOffsetMinutes: this.#dayOffsetMs / 60_000 }
  }

  /** Takes tokens and quota for one request, both or neither. */
  consume (partyId: string, limits: RateLimits, options: ConsumeOptions = {}): RateDecision {
    const tokens = options.tokens ?? 1
    const quota = options.quota ?? 1
    const now = options.nowMs ?? Date.now()
    const slot = this.#slot(partyId)
    if (slot < 0) return { ok: false, code: 'IDV_ERR_RATE_LIMITED', retryAfterSeconds: 60, detail: 'the rate-limit table is full; the operator must raise maxParties' }
    const cells = this.#cells
    const lockCell = HEADER_CELLS + slot * CELLS_PER_PARTY
    lock(cells, lockCell)
    try {
      return takeFromBucket(this.#state, slot * F64_PER_PARTY, limits, tokens, quota, now, this.#dayOffsetMs)
    } finally {
      unlock(cells, lockCell)
    }
  }

  /** The party's slot, found or claimed in the shared directory; -1 when the table is full. */
  #slot (partyId: string): number {
    const cached = this.#slots.get(partyId)
    if (cached !== undefined) return cached
    const h = createHash('sha256').update(partyId).digest()
    // 0/0 marks a free directory slot, so a (2^-64) zero hash is nudged.
    const hi = h.readInt32BE(0)
    const lo = (hi === 0 && h.readInt32BE(4) === 0) ? 1 : h.readInt32BE(4)
    const start = h.readUInt32BE(8) % this.#maxParties
    const cells = this.#cells
    lock(cells, DIR_LOCK)
    try {
      for (let i = 0; i < this.#maxParties; i++) {
        const slot = (start + i) % this.#maxParties
        const c = HEADER_CELLS + slot * CELLS_PER_PARTY
        if (cells[c + 3] === 0) {
          cells[c + 1] = hi
          cells[c + 2] = lo
          Atomics.store(cells, c + 3, 1)
          this.#slots.set(partyId, slot)
          return slot
        }
        if (cells[c + 1] === hi && cells[c + 2] === lo) {
          this.#slots.set(partyId, slot)
          return slot
        }
      }
      return -1
    } finally {
      unlock(cells, DIR_LOCK)
    }
  }
}

/**
 * The token-bucket and daily-quota step on one party's four Float64 cells at
 * `f` (tokens, time of the last refill, quota day, units used that day), under
 * whatever lock the caller holds: shared by the threads' SharedArrayBuffer and
 * the cluster's LMDB state (cluster-state.ts).
 */
export function takeFromBucket (st: Float64Array, f: number, limits: RateLimits, tokens: number, quota: number, now: number, dayOffsetMs: number): RateDecision {
  const last = st[f + 1] as number
  let available: number
  if (last === 0) {
    available = limits.burst // a party's first request finds a full bucket
  } else {
    // Wall clocks can step back; never refill negatively nor move `last` backwards.
    const elapsed = Math.max(0, now - last)
    available = Math.min(limits.burst, (st[f] as number) + elapsed * limits.perSecond / 1000)
  }
  st[f] = available
  st[f + 1] = Math.max(last, now)
  const day = Math.floor((now + dayOffsetMs) / DAY_MS)
  if (st[f + 2] !== day) {
    st[f + 2] = day
    st[f + 3] = 0
  }
  const used = st[f + 3] as number
  if (limits.dailyQuota !== undefined && used + quota > limits.dailyQuota) {
    const nextDay = (day + 1) * DAY_MS - dayOffsetMs
    return { ok: false, code: 'IDV_ERR_QUOTA_EXCEEDED', retryAfterSeconds: Math.max(1, Math.ceil((nextDay - now) / 1000)), detail: `daily quota of ${limits.dailyQuota} used up` }
  }
  if (available < tokens) {
    const wait = limits.perSecond > 0 ? (tokens - available) / limits.perSecond : 3600
    return { ok: false, code: 'IDV_ERR_RATE_LIMITED', retryAfterSeconds: Math.max(1, Math.ceil(wait)), detail: `over ${limits.perSecond} requests/s (burst ${limits.burst})` }
  }
  st[f] = available - tokens
  st[f + 3] = used + quota
  return { ok: true, remainingTokens: available - tokens, remainingQuota: limits.dailyQuota === undefined ? undefined : limits.dailyQuota - used - quota }
}
