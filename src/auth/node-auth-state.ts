/**
 * Nonce memory and rate buckets shared by every process of a node (cluster
 * mode, `idv serve --processes N`), in a small LMDB environment beside the
 * index. SharedArrayBuffers (replay-guard.ts, rate-limiter.ts) serve the
 * threads of one process; processes share no memory Node can reach, so here
 * each check is one synchronous LMDB write transaction: LMDB's writer lock
 * (a robust mutex in its lock file) makes "is this nonce live, and if not
 * remember it" and "refill, then take" atomic across processes and threads.
 * Measured at about 7 µs a transaction (bench/auth.ts), against about 0.3 µs
 * for the SharedArrayBuffer, which is why one process keeps the latter.
 *
 * Durability is not wanted: noSync, so a transaction is a memory write (the
 * kernel keeps the pages if a process dies; only a power cut loses the last
 * seconds, which the signature window bounds). useWritemap halves the cost.
 * Nothing personal is stored: 96-bit hashes of (party id, nonce) with their
 * expiry, and each party's four bucket numbers under its id.
 *
 * Bounded memory: at most `slots` nonces (counted in the same transactions,
 * since lmdb-js grows a full map rather than failing); beyond that `remember`
 * answers 'full' (503, as the SharedArrayBuffer does) rather than forget a live
 * nonce. `sweep` deletes expired nonces a slice of the key space at a time (the
 * supervisor calls it), so a sweep never holds the writer lock for long.
 */
import { open, type Database, type RootDatabase } from 'lmdb'
import type { RememberResult } from './replay-guard.js'
import { nonceHash } from './replay-guard.js'
import { takeFromBucket, type ConsumeOptions, type RateDecision, type RateLimits } from './rate-limiter.js'

/** Bytes of the nonce hash kept as the key: 96 bits, so two live nonces of a party collide about once in 10^16 windows at a million live. */
const KEY_BYTES = 12
/** Bytes of map per remembered nonce, overheads included (≈ 45 measured with random keys), for the initial map size. */
const BYTES_PER_NONCE = 64
/** The nonce count's key in the meta database. */
const COUNT = 'nonces'
const DAY_OFFSET_MINUTES = 420

export interface NodeAuthStateOptions {
  /** Nonces remembered at once (as IDV_NONCE_SLOTS): sizes the map. */
  readonly slots: number
  /** Where the quota day starts, minutes east of UTC. Default 420 (Vietnam). */
  readonly dayOffsetMinutes?: number
}

export class NodeAuthState {
  readonly #env: RootDatabase
  readonly #nonces: Database<Buffer, Buffer>
  readonly #rates: Database<Buffer, string>
  readonly #meta: Database<number, string>
  readonly #slots: number
  readonly #dayOffsetMs: number
  readonly #expiry = Buffer.alloc(4)
  readonly #bucket = new Float64Array(4)
  #sweepSlice = 0

  private constructor (path: string, options: NodeAuthStateOptions) {
    this.#env = open({
      path,
      noSync: true,
      noMetaSync: true,
      useWritemap: true,
      mapSize: Math.max(1024 ** 2, options.slots * BYTES_PER_NONCE),
      maxDbs: 4,
      compression: false,
      cache: false
    })
    this.#nonces = this.#env.openDB<Buffer, Buffer>({ name: 'nonces', keyEncoding: 'binary', encoding: 'binary' })
    this.#rates = this.#env.openDB<Buffer, string>({ name: 'rates', encoding: 'binary' })
    this.#meta = this.#env.openDB<number, string>({ name: 'meta', encoding: 'ordered-binary' })
    this.#slots = options.slots
    this.#dayOffsetMs = (options.dayOffsetMinutes ?? DAY_OFFSET_MINUTES) * 60_000
  }

  /** Opens (creating if needed) the state at `path`; every process and thread of the node opens the same path. */
  static open (path: string, options: NodeAuthStateOptions): NodeAuthState {
    return new NodeAuthState(path, options)
  }

  /** NonceMemory for RequestVerifier: atomically 'replay' if (party, nonce) is live, else remembered until expiresAtSec. */
  remember (partyId: string, nonce: string, expiresAtSec: number, nowSec: number): RememberResult {
    const key = nonceHash(partyId, nonce).subarray(0, KEY_BYTES)
    const now = nowSec >>> 0
    return this.#env.transactionSync(() => {
      const seen = this.#nonces.getBinaryFast(key)
      if (seen !== undefined && seen.readUInt32BE(0) > now) return 'replay'
      if (seen === undefined) { // a new entry, not an expired one reused
        const count = this.#count()
        if (count >= this.#slots) return 'full'
        this.#meta.putSync(COUNT, count + 1)
      }
      this.#expiry.writeUInt32BE(Math.max(expiresAtSec >>> 0, now + 1))
      this.#nonces.putSync(key, this.#expiry)
      return 'fresh'
    })
  }

  /** Takes tokens and quota for one request, both or neither, as RateLimiter.consume does. */
  consume (partyId: string, limits: RateLimits, options: ConsumeOptions = {}): RateDecision {
    const now = options.nowMs ?? Date.now()
    const st = this.#bucket
    return this.#env.transactionSync(() => {
      const stored = this.#rates.getBinaryFast(partyId)
      if (stored === undefined) st.fill(0)
      else st.set(new Float64Array(stored.buffer.slice(stored.byteOffset, stored.byteOffset + 32)))
      const decision = takeFromBucket(st, 0, limits, options.tokens ?? 1, options.quota ?? 1, now, this.#dayOffsetMs)
      this.#rates.putSync(partyId, Buffer.from(st.buffer, 0, 32))
      return decision
    })
  }

  /**
   * Deletes expired nonces in the next of `slices` slices of the key space
   * (keys are hashes, so each slice holds about 1/slices of them); returns how
   * many. Called every second with 64 slices, a nonce outlives its expiry by at
   * most about a minute.
   */
  sweep (nowSec: number, slices = 64): number {
    const slice = this.#sweepSlice
    this.#sweepSlice = (slice + 1) % slices
    const start = sliceBound(slice, slices)
    const end = slice + 1 === slices ? undefined : sliceBound(slice + 1, slices)
    const now = nowSec >>> 0
    return this.#env.transactionSync(() => {
      const expired: Buffer[] = []
      for (const { key, value } of this.#nonces.getRange({ start, end })) {
        if (value.readUInt32BE(0) <= now) expired.push(Buffer.from(key))
      }
      for (const key of expired) this.#nonces.removeSync(key)
      if (expired.length > 0) this.#meta.putSync(COUNT, this.#count() - expired.length)
      return expired.length
    })
  }

  /** Live and expired-but-unswept nonces. */
  nonceCount (): number {
    return this.#count()
  }

  #count (): number {
    return this.#meta.get(COUNT) ?? 0
  }

  async close (): Promise<void> {
    await this.#env.close()
  }
}

/** The first key of slice i of n: its leading 32 bits at i/n of their range. */
function sliceBound (i: number, n: number): Buffer {
  const key = Buffer.alloc(4)
  key.writeUInt32BE(Math.floor(i * 2 ** 32 / n))
  return key
}
