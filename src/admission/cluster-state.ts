/**
 * Nonce memory and rate buckets shared by every process of a node (cluster
 * mode, `idv serve --processes N`), in a small LMDB environment beside the
 * index. SharedArrayBuffers (replay-guard.ts, rate-limiter.ts) serve the
 * threads of one process; processes share no memory Node can reach, so here
 * each check is one synchronous LMDB write transaction: LMDB's writer lock
 * (a robust mutex in its lock file) makes "is this nonce live, and if not
 * remember it" and "refill, then take" atomic across processes and threads.
 * The gate does both in one transaction: 12–15 µs uncontended, against 2.8–3.9 µs
 * for the SharedArrayBuffers (`npm run bench:auth`, two runs), which is why one process
 * keeps the latter.
 *
 * Durability is not wanted: noSync, so a transaction is a memory write (the
 * kernel keeps the pages if a process dies; only a power cut loses the last
 * seconds, which the signature window bounds). useWritemap halves the cost.
 * Nothing personal is stored: 96-bit hashes of (party id, nonce) with their
 * expiry, and each party's four bucket numbers under its id.
 *
 * Bounded memory: `sweep` (the supervisor calls it every second) deletes
 * expired nonces a slice of the key space at a time, so it never holds the
 * writer lock for long, then counts what is left and raises a `full` flag at
 * `slots` nonces; while it is up `remember` answers 'full' (503, as the
 * SharedArrayBuffer does) rather than forget a live nonce. So the count can
 * pass `slots` by at most one second of new nonces, and no request pays for
 * counting (a counter kept in every transaction measured 4 µs).
 */
import { open, type Database, type RootDatabase } from 'lmdb'
import type { RememberResult } from './replay-guard.js'
import { nonceHash } from './replay-guard.js'
import { takeFromBucket, type ConsumeOptions, type RateDecision, type RateLimits } from './rate-limiter.js'

/** Bytes of the nonce hash kept as the key: 96 bits, so two live nonces of a party collide about once in 10^16 windows at a million live. */
const KEY_BYTES = 12
/** Bytes of map per remembered nonce, overheads included (≈ 45 measured with random keys), for the initial map size. */
const BYTES_PER_NONCE = 64
/** Nonces deleted per write transaction while sweeping: the writer lock is held for well under a millisecond. */
const SWEEP_CHUNK = 256
/** The meta database's key for the flag `sweep` raises when the nonces reach `slots`. */
const FULL = 'full'
const DAY_OFFSET_MINUTES = 420

export interface NodeAuthStateOptions {
  /** Nonces remembered at once (as IDV_NONCE_SLOTS): sizes the map. */
  readonly slots: number
  /** Where the quota day starts, minutes east of UTC. Default 420 (Vietnam). */
  readonly dayOffsetMinutes?: number
}

export class ClusterState {
  readonly #env: RootDatabase
  readonly #nonces: Database<Buffer, Buffer>
  readonly #rates: Database<Buffer, string>
  readonly #meta: Database<boolean, string>
  readonly #slots: number
  readonly #dayOffsetMs: number
  readonly #expiry = Buffer.alloc(4)
  readonly #bucket = new Float64Array(4)
  /** The same 32 bytes, to copy a stored bucket in and write it back without allocating. */
  readonly #bucketBytes = Buffer.from(this.#bucket.buffer)
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
    this.#meta = this.#env.openDB<boolean, string>({ name: 'meta', encoding: 'ordered-binary' })
    this.#slots = options.slots
    this.#dayOffsetMs = (options.dayOffsetMinutes ?? DAY_OFFSET_MINUTES) * 60_000
  }

  /** Opens (creating if needed) the state at `path`; every process and thread of the node opens the same path. */
  static open (path: string, options: NodeAuthStateOptions): ClusterState {
    return new ClusterState(path, options)
  }

  /** Atomically 'replay' if (party, nonce) is live, else remembered until expiresAtSec (alone: tests and bench:auth; the gate uses rememberAndConsume). */
  remember (partyId: string, nonce: string, expiresAtSec: number, nowSec: number): RememberResult {
    return this.#env.transactionSync(() => this.#remember(partyId, nonce, expiresAtSec, nowSec))
  }

  /** Takes tokens and quota for one request, both or neither, as RateLimiter.consume does. */
  consume (partyId: string, limits: RateLimits, options: ConsumeOptions = {}): RateDecision {
    return this.#env.transactionSync(() => this.#consume(partyId, limits, options.tokens ?? 1, options.quota ?? 1, options.nowMs ?? Date.now()))
  }

  /**
   * Both in one transaction (what the gate uses: one writer-lock round instead
   * of two, which halves the cost when members contend): a live nonce is
   * 'replay' and takes nothing; else it is remembered and the bucket decides.
   */
  rememberAndConsume (partyId: string, nonce: string, expiresAtSec: number, limits: RateLimits, options: ConsumeOptions = {}): Exclude<RememberResult, 'fresh'> | RateDecision {
    const nowMs = options.nowMs ?? Date.now()
    return this.#env.transactionSync(() => {
      const seen = this.#remember(partyId, nonce, expiresAtSec, Math.floor(nowMs / 1000))
      return seen === 'fresh' ? this.#consume(partyId, limits, options.tokens ?? 1, options.quota ?? 1, nowMs) : seen
    })
  }

  #remember (partyId: string, nonce: string, expiresAtSec: number, nowSec: number): RememberResult {
    const key = nonceHash(partyId, nonce).subarray(0, KEY_BYTES)
    const now = nowSec >>> 0
    const seen = this.#nonces.getBinaryFast(key)
    if (seen !== undefined && seen.readUInt32BE(0) > now) return 'replay'
    if (seen === undefined && this.#meta.get(FULL) === true) return 'full' // an expired entry is still reused in place
    this.#expiry.writeUInt32BE(Math.max(expiresAtSec >>> 0, now + 1))
    this.#nonces.putSync(key, this.#expiry)
    return 'fresh'
  }

  #consume (partyId: string, limits: RateLimits, tokens: number, quota: number, nowMs: number): RateDecision {
    const stored = this.#rates.getBinaryFast(partyId)
    if (stored === undefined) this.#bucket.fill(0)
    else for (let i = 0; i < 32; i++) this.#bucketBytes[i] = stored[i] as number // byte by byte: lmdb-js's fast buffer refuses Buffer.copy
    const decision = takeFromBucket(this.#bucket, 0, limits, tokens, quota, nowMs, this.#dayOffsetMs)
    this.#rates.putSync(partyId, this.#bucketBytes)
    return decision
  }

  /**
   * Deletes expired nonces in the next of `slices` slices of the key space
   * (keys are hashes, so each slice holds about 1/slices of them), then sets
   * the `full` flag from the count left; returns how many it deleted. Called
   * every second with 64 slices, a nonce outlives its expiry by about a minute.
   */
  sweep (nowSec: number, slices = 64): number {
    const slice = this.#sweepSlice
    this.#sweepSlice = (slice + 1) % slices
    const start = sliceBound(slice, slices)
    const end = slice + 1 === slices ? undefined : sliceBound(slice + 1, slices)
    const now = nowSec >>> 0
    // Scan a read snapshot (no writer lock), then delete in short write transactions,
    // each re-checking expiry (a member may have remembered the nonce anew meanwhile).
    const expired: Buffer[] = []
    for (const { key, value } of this.#nonces.getRange({ start, end, snapshot: true })) {
      if (value.readUInt32BE(0) <= now) expired.push(Buffer.from(key))
    }
    let deleted = 0
    for (let i = 0; i < expired.length; i += SWEEP_CHUNK) {
      deleted += this.#env.transactionSync(() => {
        let n = 0
        for (const key of expired.slice(i, i + SWEEP_CHUNK)) {
          const value = this.#nonces.getBinaryFast(key)
          if (value !== undefined && value.readUInt32BE(0) <= now) { this.#nonces.removeSync(key); n++ }
        }
        return n
      })
    }
    const full = this.nonceCount() >= this.#slots
    if (full !== (this.#meta.get(FULL) === true)) this.#meta.putSync(FULL, full)
    return deleted
  }

  /** Live and expired-but-unswept nonces (about 12 µs: not for the request path). */
  nonceCount (): number {
    return (this.#nonces.getStats() as { entryCount: number }).entryCount
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
