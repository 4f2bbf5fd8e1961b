/**
 * A replica's state, in a SharedArrayBuffer the replicator (main thread) writes
 * and every server thread's /readyz reads: no message passing on the probe's
 * path, and no string in shared memory (the reason is built from the numbers
 * when a probe asks).
 *
 * Lag is computed when it is read, from two times the replicator writes: up to
 * when the index is known to hold every change (`currentAt`), and when the
 * stream's last sequence was last learned (`seenAt`). A node cut off from NATS
 * learns nothing new, so its last-seen stream info turns old: past
 * `staleAfterMs` it no longer counts as current and its lag grows with the
 * clock, whether or not its replicator runs, until /readyz turns 503. A stored
 * lag figure would stay at whatever the last probe wrote.
 */

export const ReplicaState = {
  /** Not yet reached the change feed since start. */
  connecting: 0,
  /** Applying; ready while the lag is within the threshold. */
  following: 1,
  /** A gap in the feed: stopped applying; re-bootstraps from a snapshot that covers it. */
  gap: 2,
  /** The feed was made with another hash key: stopped. */
  otherKey: 3,
  /** Another writer moved the applied sequence: stopped. */
  conflict: 4,
  /** The feed's stream begins after what this index holds: re-bootstraps from a snapshot. */
  needsBootstrap: 5
} as const
export type ReplicaStateCode = typeof ReplicaState[keyof typeof ReplicaState]

export const STATE_NAMES = ['connecting', 'following', 'gap', 'other_key', 'conflict', 'needs_bootstrap'] as const

const STATE = 0
const APPLIED = 1
const LAST = 2
const CURRENT_AT = 3
const SEEN_AT = 4
const STALE_AFTER_MS = 5
/** The first sequence a re-bootstrap waits for a snapshot to cover (0: none). */
const WAITING_FOR = 6
const SLOTS = 7

export class ReplicaStatus {
  readonly buffer: SharedArrayBuffer
  readonly #cells: Float64Array
  readonly #maxLagSeconds: number
  readonly #now: () => number

  constructor (maxLagSeconds: number, buffer: SharedArrayBuffer = new SharedArrayBuffer(SLOTS * 8), now: () => number = Date.now) {
    this.buffer = buffer
    this.#cells = new Float64Array(buffer)
    this.#maxLagSeconds = maxLagSeconds
    this.#now = now
    if (buffer.byteLength !== SLOTS * 8) throw new RangeError(`a replica status takes ${SLOTS * 8} bytes, not ${buffer.byteLength}`)
  }

  get state (): ReplicaStateCode { return this.#cells[STATE] as ReplicaStateCode }
  get applied (): number { return this.#cells[APPLIED]! }
  /** The stream's last sequence as last seen (never below what is applied). */
  get last (): number { return this.#cells[LAST]! }
  get lagChanges (): number { return Math.max(0, this.last - this.applied) }
  /** When the stream's last sequence was last learned (ms since the epoch; NaN: never). */
  get seenAt (): number { return this.#cells[SEEN_AT]! }
  /** The sequence a re-bootstrap needs a snapshot to reach, or 0. */
  get waitingFor (): number { return this.#cells[WAITING_FOR]! }

  /**
   * How long ago the index last held every change of the feed, in seconds;
   * NaN until the feed was first measured. 0 only while the node holds the
   * last sequence it saw and saw it recently.
   */
  get lagSeconds (): number {
    const currentAt = this.#cells[CURRENT_AT]!
    if (Number.isNaN(currentAt)) return Number.NaN
    const now = this.#now()
    const fresh = now - this.seenAt <= this.#cells[STALE_AFTER_MS]!
    if (fresh && this.applied >= this.last) return 0
    return Math.max(0, (now - currentAt) / 1000)
  }

  /** Written once, before the first `set`: how old the last-seen stream info may be and still count. */
  init (staleAfterMs: number): void {
    this.#cells[CURRENT_AT] = Number.NaN
    this.#cells[SEEN_AT] = Number.NaN
    this.#cells[STALE_AFTER_MS] = staleAfterMs
  }

  /**
   * The replicator's view: `currentAt` up to when the index held every change
   * (NaN: not measured yet), `seenAt` when `last` was learned.
   */
  set (state: ReplicaStateCode, applied: number, last: number, currentAt: number, seenAt: number, waitingFor = 0): void {
    this.#cells[APPLIED] = applied
    this.#cells[LAST] = Math.max(last, applied)
    this.#cells[CURRENT_AT] = currentAt
    this.#cells[SEEN_AT] = seenAt
    this.#cells[WAITING_FOR] = waitingFor
    this.#cells[STATE] = state
  }

  /** What a stopped node does about it: waits for a covering snapshot, or (without re-bootstrap) needs a restart. */
  #rebootstrap (): string {
    return this.waitingFor > 0 ? `re-bootstrapping: waiting for a snapshot at seq ${this.waitingFor} or later in the Object Store` : 'restart the node to bootstrap from a snapshot'
  }

  /** Why this replica must not take traffic, or undefined when it may. */
  notReadyReason (): string | undefined {
    switch (this.state) {
      case ReplicaState.connecting: return `the replica has not reached its change feed yet (it holds changes up to ${this.applied})`
      case ReplicaState.gap: return `gap in the change feed after seq ${this.applied}: the node stopped applying; ${this.#rebootstrap()}`
      case ReplicaState.otherKey: return 'the change feed was made with another hash key than this node\'s: the node stopped applying'
      case ReplicaState.conflict: return 'another writer moved this index\'s applied sequence: the node stopped applying (one applier per index)'
      case ReplicaState.needsBootstrap: return `the change feed no longer holds the changes after seq ${this.applied}: ${this.#rebootstrap()}`
      default: {
        const lag = this.lagSeconds
        if (Number.isNaN(lag)) return `the replica has not measured its lag yet (it holds changes up to ${this.applied})`
        if (lag > this.#maxLagSeconds) {
          return `the replica is ${this.lagChanges} changes and ${lag.toFixed(1)} s behind its change feed (threshold ${this.#maxLagSeconds} s)`
        }
        return undefined
      }
    }
  }
}
