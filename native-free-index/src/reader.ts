/**
 * The read API shared by the writer's engine and by read-only views in other
 * threads. Every method takes one snapshot (epoch view + committed count) and
 * answers from it, so multi-key reads never mix two commits.
 */
import type { EpochView } from './epoch.js'
import { copyBytes } from './arena.js'

export interface KeyRange {
  /** Inclusive lower bound. */
  readonly start?: number
  /** Exclusive upper bound. */
  readonly end?: number
}

/**
 * A private copy of a value. Buffer.allocUnsafe takes small copies from Node's
 * slab pool, about 3x faster than slice() (which allocates a backing store per
 * call); the result is re-wrapped as a plain Uint8Array so every read API returns
 * one type.
 */
function copyOf (value: Uint8Array | undefined): Uint8Array | undefined {
  if (value === undefined) return undefined
  const pooled = Buffer.allocUnsafe(value.length)
  copyBytes(pooled, 0, value, 0, value.length)
  return new Uint8Array(pooled.buffer, pooled.byteOffset, value.length)
}

export abstract class IndexReader {
  /** The newest epoch view this thread can see. */
  protected abstract current (): EpochView

  /**
   * Synchronous point read without copying: the bytes usually view shared memory.
   * Base and delta values are never overwritten in place, so the view stays
   * correct; callers should still treat it as valid only until their next call.
   */
  getFast (key: number): Uint8Array | undefined {
    const view = this.current()
    return view.read(key, view.committed())
  }

  /** Point read returning a private copy. */
  get (key: number): Uint8Array | undefined {
    const view = this.current()
    return copyOf(view.read(key, view.committed()))
  }

  /** Copies of many keys' values from one snapshot, in input order. */
  getMany (keys: readonly number[]): Array<Uint8Array | undefined> {
    const view = this.current()
    const committed = view.committed()
    const out = new Array<Uint8Array | undefined>(keys.length)
    for (let i = 0; i < keys.length; i++) out[i] = copyOf(view.read(keys[i]!, committed))
    return out
  }

  getMeta (name: string): Uint8Array | undefined {
    return this.current().meta.get(name)?.slice()
  }

  count (): number {
    return this.current().count()
  }

  /** Records in ascending key order from one snapshot; values are copies. */
  * entries (range: KeyRange = {}): Generator<[number, Uint8Array]> {
    const view = this.current()
    const committed = view.committed()
    for (const [key, value] of view.range(committed, range.start ?? 0, range.end ?? Infinity)) yield [key, copyOf(value)!]
  }
}
