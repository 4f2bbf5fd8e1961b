/**
 * Epochs: the unit of publication between the writer and reader threads.
 *
 * An EpochState is a plain, structured-cloneable object naming the buffers that
 * make up the index (base, delta, value chunks) plus the metadata. Within an epoch
 * the writer publishes commits by bumping the epoch's own committed-entry counter
 * (Atomics), which is cheap and needs no message. Anything that replaces a buffer
 * (delta growth, a new value chunk, compaction) or changes metadata starts a new
 * epoch with a fresh counter; the old epoch's counter is frozen, so a reader still
 * on it keeps a consistent (older) snapshot until it adopts the new epoch.
 *
 * EpochView is the thread-local face of an EpochState: typed-array views, lookup
 * and ordered iteration against a committed count (a snapshot).
 */
import { BaseView } from './base-index.js'
import type { BaseState } from './base-index.js'
import { DeltaView, TOMBSTONE } from './delta-index.js'
import type { DeltaState } from './delta-index.js'
import { viewValue } from './arena.js'

/** Int32 slots of an epoch's control buffer. */
export const CTL_COMMITTED = 0
export const CTL_COUNT = 1
export const CTL_SLOTS = 2

export interface EpochState {
  readonly epoch: number
  readonly chunkBits: number
  /** Int32Array(CTL_SLOTS): committed delta entries, record count. */
  readonly ctl: SharedArrayBuffer
  readonly base: BaseState
  readonly delta: DeltaState
  readonly meta: ReadonlyArray<readonly [string, Uint8Array]>
}

export class EpochView {
  readonly state: EpochState
  readonly base: BaseView
  readonly delta: DeltaView
  readonly ctl: Int32Array
  readonly meta: ReadonlyMap<string, Uint8Array>
  private readonly chunkBits: number

  constructor (state: EpochState, base?: BaseView, delta?: DeltaView) {
    this.state = state
    this.base = base ?? new BaseView(state.base)
    this.delta = delta ?? new DeltaView(state.delta)
    this.ctl = new Int32Array(state.ctl)
    this.meta = new Map(state.meta)
    this.chunkBits = state.chunkBits
  }

  committed (): number {
    return Atomics.load(this.ctl, CTL_COMMITTED)
  }

  count (): number {
    return Atomics.load(this.ctl, CTL_COUNT)
  }

  /** The value of key in the snapshot `committed`; a view into shared memory when possible. */
  read (key: number, committed: number): Uint8Array | undefined {
    const delta = this.delta
    const e = delta.find(key, committed)
    if (e >= 0) {
      const len = delta.lenPrev[e * 2]!
      if (len === TOMBSTONE) return undefined
      return viewValue(delta.chunks, this.chunkBits, delta.keyLoc[e * 2 + 1]!, len)
    }
    const base = this.base
    const i = base.find(key)
    if (i < 0) return undefined
    return viewValue(base.chunks, this.chunkBits, base.valueOffset(i), base.valueLengthAt(i))
  }

  /** Records with start <= key < end in ascending key order, as of `committed`; values are views. */
  * range (committed: number, start: number, end: number): Generator<[number, Uint8Array]> {
    const delta = this.delta
    const found: number[] = []
    for (let e = 0; e < committed; e++) {
      const key = delta.keyLoc[e * 2]!
      if (key >= start && key < end && delta.find(key, committed) === e) found.push(key)
    }
    const dkeys = Float64Array.from(found).sort()
    const base = this.base
    let i = base.lowerBound(start)
    let j = 0
    for (;;) {
      const bk = i < base.count ? base.keys[i]! : Infinity
      const dk = j < dkeys.length ? dkeys[j]! : Infinity
      if (bk >= end && dk >= end) return
      if (dk <= bk) {
        j++
        if (dk === bk) i++
        const value = this.read(dk, committed)
        if (value !== undefined) yield [dk, value]
      } else {
        yield [bk, viewValue(base.chunks, this.chunkBits, base.valueOffset(i), base.valueLengthAt(i))]
        i++
      }
    }
  }
}
