/**
 * The base index: an immutable, sorted snapshot of every record as of the last
 * compaction, held in SharedArrayBuffers so every thread reads one copy.
 *
 * Memory per record: 8 bytes of key (Float64Array) plus, only when values differ in
 * length, 4 bytes of value offset (Uint32Array; offsets are monotonic, so the rare
 * 4 GiB wrap points are kept in a tiny side list), plus a radix directory of about
 * 0.5 bytes per record. Values themselves sit contiguously in key order, so with
 * fixed-length values (the service's case) the offset is implicit: i * valueLength.
 *
 * Lookup: the directory maps (key - min) scaled to a bucket onto the index range
 * holding that bucket's keys; a binary search finishes inside the bucket. PINs are
 * clustered by province and birth year, so a pure interpolation search would
 * misjudge; the directory adapts to the clusters and random suffixes spread keys
 * evenly inside them.
 */
import { toViews } from './arena.js'

export interface BaseState {
  readonly count: number
  /** Float64Array(count), strictly ascending. */
  readonly keys: SharedArrayBuffer
  /** Uint32Array(count + 1): low 32 bits of each value's start offset; null when fixed-length. */
  readonly offsets: SharedArrayBuffer | null
  /** Indexes where the 32-bit offsets wrap past 4 GiB (computed once, not per thread). */
  readonly wraps: readonly number[]
  /** Length of every value when uniform, else -1. */
  readonly valueLength: number
  readonly valuesBytes: number
  readonly chunks: readonly SharedArrayBuffer[]
  /** Uint32Array(dirSize + 1): first index of each bucket. */
  readonly dir: SharedArrayBuffer
  readonly dirSize: number
  readonly dirMin: number
  readonly dirScale: number
}

export function emptyBase (): BaseState {
  return {
    count: 0,
    keys: new SharedArrayBuffer(0),
    offsets: null,
    wraps: [],
    valueLength: -1,
    valuesBytes: 0,
    chunks: [],
    dir: new SharedArrayBuffer(8),
    dirSize: 1,
    dirMin: 0,
    dirScale: 0
  }
}

/** Builds the bucket directory over sorted keys; about one bucket per 8 keys. */
export function buildDirectory (keys: Float64Array): Pick<BaseState, 'dir' | 'dirSize' | 'dirMin' | 'dirScale'> {
  const n = keys.length
  let dirSize = 1
  while (dirSize * 8 < n) dirSize *= 2
  const dir = new SharedArrayBuffer((dirSize + 1) * 4)
  const d = new Uint32Array(dir)
  if (n === 0) return { dir, dirSize, dirMin: 0, dirScale: 0 }
  const dirMin = keys[0]!
  const dirScale = dirSize / (keys[n - 1]! - dirMin + 1)
  let next = 0
  for (let i = 0; i < n; i++) {
    const b = bucketOf(keys[i]!, dirMin, dirScale, dirSize)
    while (next <= b) d[next++] = i
  }
  while (next <= dirSize) d[next++] = n
  return { dir, dirSize, dirMin, dirScale }
}

function bucketOf (key: number, min: number, scale: number, size: number): number {
  const b = Math.floor((key - min) * scale)
  return b >= size ? size - 1 : b
}

/** Indexes where the 32-bit offset wraps, i.e. where the high part increments. */
export function findWraps (offsets: Uint32Array): number[] {
  const wraps: number[] = []
  for (let i = 1; i < offsets.length; i++) if (offsets[i]! < offsets[i - 1]!) wraps.push(i)
  return wraps
}

/** Thread-local typed-array views over a BaseState. */
export class BaseView {
  readonly state: BaseState
  readonly count: number
  readonly keys: Float64Array
  readonly chunks: Uint8Array[]
  private readonly offsets: Uint32Array | null
  private readonly wraps: readonly number[]
  private readonly valueLength: number
  private readonly dir: Uint32Array
  private readonly dirSize: number
  private readonly dirMin: number
  private readonly dirScale: number

  constructor (state: BaseState) {
    this.state = state
    this.count = state.count
    this.keys = new Float64Array(state.keys, 0, state.count)
    this.offsets = state.offsets === null ? null : new Uint32Array(state.offsets, 0, state.count + 1)
    this.wraps = state.wraps
    this.valueLength = state.valueLength
    this.chunks = toViews(state.chunks)
    this.dir = new Uint32Array(state.dir)
    this.dirSize = state.dirSize
    this.dirMin = state.dirMin
    this.dirScale = state.dirScale
  }

  /** Index of key, or -1. */
  find (key: number): number {
    if (this.count === 0) return -1
    const rel = key - this.dirMin
    if (rel < 0) return -1
    let b = Math.floor(rel * this.dirScale)
    if (b >= this.dirSize) {
      if (key > this.keys[this.count - 1]!) return -1
      b = this.dirSize - 1
    }
    const keys = this.keys
    let lo = this.dir[b]!
    let hi = this.dir[b + 1]! - 1
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1
      const k = keys[mid]!
      if (k < key) lo = mid + 1
      else if (k > key) hi = mid - 1
      else return mid
    }
    return -1
  }

  /** First index whose key is >= key (count when none). */
  lowerBound (key: number): number {
    const keys = this.keys
    let lo = 0
    let hi = this.count
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (keys[mid]! < key) lo = mid + 1
      else hi = mid
    }
    return lo
  }

  valueOffset (i: number): number {
    if (this.offsets === null) return i * this.valueLength
    let high = 0
    for (const w of this.wraps) if (w <= i) high++
    return high * 4294967296 + this.offsets[i]!
  }

  valueLengthAt (i: number): number {
    if (this.offsets === null) return this.valueLength
    return this.valueOffset(i + 1) - this.valueOffset(i)
  }
}
