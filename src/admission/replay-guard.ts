/**
 * Nonce memory shared by every server thread of a process, in one
 * SharedArrayBuffer, with bounded memory.
 *
 * Layout (Int32 cells): a header; one lock per bucket; then the slots, three
 * cells each: the first 64 bits of SHA-256(partyId ‖ 0 ‖ nonce) as two Int32s
 * and the expiry (seconds since the epoch, unsigned; 0 = never used).
 * A nonce's bucket comes from other bits of the same hash.
 *
 * Why buckets with a lock each rather than lock-free linear probing: "is this
 * nonce live anywhere in its probe window, and if not claim a slot" must be one
 * atomic step, or two threads can both accept the same nonce (one reusing an
 * expired slot early in the window while the other claims a later one).
 * A per-bucket lock makes that step atomic with one compare-and-swap in the
 * common case, and 64-slot buckets make overflow negligible at half load.
 *
 * Reuse: an entry lives until its request's `created` falls out of the window;
 * after that its slot is reused. Used slots form a prefix of each bucket (an
 * insert takes the first expired-or-never-used slot), so a lookup stops at the
 * first never-used slot.
 *
 * Full bucket: answer 'full' (the caller refuses with 503) rather than evict a
 * live nonce, which would reopen a replay window. Size it at about twice the
 * nonces live at peak: slots ≈ 2 × peak requests/s × (window + 1 s).
 *
 * 64-bit hashes: two different nonces of one party collide with probability
 * about n²/2⁶⁵ (n live nonces); at 6 million that is 1 in 10⁶ per window, and a
 * collision only refuses a request as a replay, it never accepts one.
 */
import { hash } from 'node:crypto'
import { lock, unlock } from './shared-lock.js'

const MAGIC = 0x4e4f4e43 // 'NONC'
const HEADER_CELLS = 4
const CELLS_PER_SLOT = 3
export const DEFAULT_SLOTS_PER_BUCKET = 64

export interface ReplayGuardOptions {
  /** Total slots (rounded up to whole buckets). Default 2^20 (12 MiB). */
  readonly slots?: number
  readonly slotsPerBucket?: number
}

/** What a worker thread needs to attach to the same memory (SharedArrayBuffers pass by reference through postMessage/workerData). */
export interface ReplayGuardHandle {
  readonly buffer: SharedArrayBuffer
}

export type RememberResult = 'fresh' | 'replay' | 'full'

export class ReplayGuard {
  readonly #cells: Int32Array
  readonly #buckets: number
  readonly #perBucket: number
  readonly #slotBase: number

  private constructor (buffer: SharedArrayBuffer) {
    const cells = new Int32Array(buffer)
    if (cells[0] !== MAGIC) throw new TypeError('not a ReplayGuard buffer')
    this.#cells = cells
    this.#buckets = cells[1] ?? 0
    this.#perBucket = cells[2] ?? 0
    this.#slotBase = HEADER_CELLS + this.#buckets
  }

  static create (options: ReplayGuardOptions = {}): ReplayGuard {
    const perBucket = options.slotsPerBucket ?? DEFAULT_SLOTS_PER_BUCKET
    const slots = options.slots ?? 1 << 20
    if (!Number.isInteger(perBucket) || perBucket < 1) throw new RangeError('slotsPerBucket must be a positive integer')
    if (!Number.isInteger(slots) || slots < 1) throw new RangeError('slots must be a positive integer')
    const buckets = Math.ceil(slots / perBucket)
    const buffer = new SharedArrayBuffer((HEADER_CELLS + buckets + buckets * perBucket * CELLS_PER_SLOT) * 4)
    const cells = new Int32Array(buffer)
    cells[0] = MAGIC
    cells[1] = buckets
    cells[2] = perBucket
    return new ReplayGuard(buffer)
  }

  static fromHandle (handle: ReplayGuardHandle): ReplayGuard {
    return new ReplayGuard(handle.buffer)
  }

  shareHandle (): ReplayGuardHandle {
    return { buffer: this.#cells.buffer as SharedArrayBuffer }
  }

  get capacity (): number {
    return this.#buckets * this.#perBucket
  }

  /** NonceMemory for RequestVerifier: nonces are per party, so parties cannot collide with each other. */
  remember (partyId: string, nonce: string, expiresAtSec: number, nowSec: number): RememberResult {
    return this.rememberHash(nonceHash(partyId, nonce), expiresAtSec, nowSec)
  }

  /**
   * Atomically: if the hash is live (expiry > nowSec) answer 'replay', else
   * remember it until expiresAtSec and answer 'fresh'. `hash` needs 12 bytes.
   */
  rememberHash (hash: Uint8Array, expiresAtSec: number, nowSec: number): RememberResult {
    if (hash.length < 12) throw new RangeError('a nonce hash needs 12 bytes')
    // Big-endian words read by hand: a DataView per request was a measurable share of the signed path's garbage.
    const hi = (hash[0]! << 24) | (hash[1]! << 16) | (hash[2]! << 8) | hash[3]!
    const lo = (hash[4]! << 24) | (hash[5]! << 16) | (hash[6]! << 8) | hash[7]!
    const bucket = (((hash[8]! << 24) | (hash[9]! << 16) | (hash[10]! << 8) | hash[11]!) >>> 0) % this.#buckets
    const now = nowSec >>> 0
    const cells = this.#cells
    const first = this.#slotBase + bucket * this.#perBucket * CELLS_PER_SLOT
    const end = first + this.#perBucket * CELLS_PER_SLOT
    lock(cells, HEADER_CELLS + bucket)
    try {
      let free = -1
      for (let s = first; s < end; s += CELLS_PER_SLOT) {
        const expiry = (cells[s + 2] as number) >>> 0
        if (expiry === 0) {
          if (free < 0) free = s
          break // never used: nothing beyond it (used slots form a prefix)
        }
        if (expiry <= now) {
          if (free < 0) free = s
          continue
        }
        if (cells[s] === hi && cells[s + 1] === lo) return 'replay'
      }
      if (free < 0) return 'full'
      cells[free] = hi
      cells[free + 1] = lo
      cells[free + 2] = Math.max(expiresAtSec >>> 0, now + 1) | 0
      return 'fresh'
    } finally {
      unlock(cells, HEADER_CELLS + bucket)
    }
  }

  /** Live entries (a full scan; for tests and metrics, not the request path). */
  liveCount (nowSec: number): number {
    const now = nowSec >>> 0
    let n = 0
    for (let s = this.#slotBase + 2; s < this.#cells.length; s += CELLS_PER_SLOT) {
      if (((this.#cells[s] as number) >>> 0) > now) n++
    }
    return n
  }
}

/** SHA-256(partyId ‖ 0x00 ‖ nonce): the 0 byte keeps ("ab","c") and ("a","bc") apart. */
export function nonceHash (partyId: string, nonce: string): Buffer {
  return hash('sha256', `${partyId}\0${nonce}`, 'buffer')
}
