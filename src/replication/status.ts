/**
 * A replica's state, in a SharedArrayBuffer the replicator (main thread) writes
 * and every server thread's /readyz reads: no message passing on the probe's
 * path, and no string in shared memory (the reason is built from the numbers
 * when a probe asks).
 */

export const ReplicaState = {
  /** Not yet reached the change feed since start. */
  connecting: 0,
  /** Applying; ready while the lag is within the threshold. */
  following: 1,
  /** A gap in the feed: stopped; restarting bootstraps from a snapshot. */
  gap: 2,
  /** The feed was made with another hash key: stopped. */
  otherKey: 3,
  /** Another writer moved the applied sequence: stopped. */
  conflict: 4,
  /** The feed's stream begins after what this index holds: it must bootstrap from a snapshot. */
  needsBootstrap: 5
} as const
export type ReplicaStateCode = typeof ReplicaState[keyof typeof ReplicaState]

export const STATE_NAMES = ['connecting', 'following', 'gap', 'other_key', 'conflict', 'needs_bootstrap'] as const

const STATE = 0
const APPLIED = 1
const LAST = 2
const LAG_SECONDS = 3
const SLOTS = 4

export class ReplicaStatus {
  readonly buffer: SharedArrayBuffer
  readonly #cells: Float64Array
  readonly #maxLagSeconds: number

  constructor (maxLagSeconds: number, buffer: SharedArrayBuffer = new SharedArrayBuffer(SLOTS * 8)) {
    this.buffer = buffer
    this.#cells = new Float64Array(buffer)
    this.#maxLagSeconds = maxLagSeconds
  }

  get state (): ReplicaStateCode { return this.#cells[STATE] as ReplicaStateCode }
  get applied (): number { return this.#cells[APPLIED]! }
  /** The stream's last sequence as last seen. */
  get last (): number { return this.#cells[LAST]! }
  get lagSeconds (): number { return this.#cells[LAG_SECONDS]! }
  get lagChanges (): number { return Math.max(0, this.last - this.applied) }

  set (state: ReplicaStateCode, applied: number, last: number, lagSeconds: number): void {
    this.#cells[APPLIED] = applied
    this.#cells[LAST] = last
    this.#cells[LAG_SECONDS] = lagSeconds
    this.#cells[STATE] = state
  }

  /** Why this replica must not take traffic, or undefined when it may. */
  notReadyReason (): string | undefined {
    switch (this.state) {
      case ReplicaState.connecting: return `the replica has not reached its change feed yet (it holds changes up to ${this.applied})`
      case ReplicaState.gap: return `gap in the change feed after seq ${this.applied}: the node stopped applying; restart it to re-bootstrap from a snapshot`
      case ReplicaState.otherKey: return 'the change feed was made with another hash key than this node\'s: the node stopped applying'
      case ReplicaState.conflict: return 'another writer moved this index\'s applied sequence: the node stopped applying (one applier per index)'
      case ReplicaState.needsBootstrap: return `the change feed no longer holds the changes after seq ${this.applied}: restart the node to bootstrap from a snapshot`
      default:
        if (this.lagSeconds > this.#maxLagSeconds) {
          return `the replica is ${this.lagChanges} changes and ${this.lagSeconds.toFixed(1)} s behind its change feed (threshold ${this.#maxLagSeconds} s)`
        }
        return undefined
    }
  }
}
