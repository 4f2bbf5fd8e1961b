/**
 * Compaction: merges the base index and the delta (as of one snapshot) into a new
 * sorted base, ready to be written as a segment and installed as a new epoch.
 *
 * Two passes over the merged key order: the first sizes the output (record count,
 * value bytes, whether all values share one length so the offsets array can be
 * dropped), the second fills new SharedArrayBuffers. Runs of untouched base
 * records are contiguous in both the old and the new value arena, so they are
 * copied with one memcpy per run rather than per record. The loop yields to the
 * event loop regularly so that reads on the writer's thread keep being served.
 */
import { allocateContiguous, copyBetween, copyIn, toViews, viewValue } from './arena.js'
import { buildDirectory } from './base-index.js'
import type { BaseState } from './base-index.js'
import { TOMBSTONE } from './delta-index.js'
import type { EpochView } from './epoch.js'

const YIELD_EVERY = 1 << 18

const yieldToLoop = async (): Promise<void> => { await new Promise<void>((resolve) => setImmediate(resolve)) }

/** Keys whose newest visible delta entry is entry e, sorted ascending. */
function visibleDeltaKeys (view: EpochView, committed: number): Float64Array {
  const delta = view.delta
  const out = new Float64Array(committed)
  let m = 0
  for (let e = 0; e < committed; e++) {
    const key = delta.keyLoc[e * 2]!
    if (delta.find(key, committed) === e) out[m++] = key
  }
  return out.subarray(0, m).sort()
}

export async function mergeSnapshot (view: EpochView, committed: number): Promise<BaseState> {
  const chunkBits = view.state.chunkBits
  const base = view.base
  const delta = view.delta
  const dkeys = visibleDeltaKeys(view, committed)
  const dentry = new Int32Array(dkeys.length)
  for (let j = 0; j < dkeys.length; j++) dentry[j] = delta.find(dkeys[j]!, committed)

  // Pass 1: size the output.
  let count = 0
  let bytes = 0
  let uniform = -2
  const note = (len: number): void => {
    count++
    bytes += len
    uniform = uniform === -2 || uniform === len ? len : -1
  }
  {
    let i = 0
    let j = 0
    while (i < base.count || j < dkeys.length) {
      const bk = i < base.count ? base.keys[i]! : Infinity
      const dk = j < dkeys.length ? dkeys[j]! : Infinity
      if (dk <= bk) {
        const len = delta.lenPrev[dentry[j]! * 2]!
        if (len !== TOMBSTONE) note(len)
        j++
        if (dk === bk) i++
      } else {
        note(base.valueLengthAt(i))
        i++
      }
      if (((i + j) & (YIELD_EVERY - 1)) === 0) await yieldToLoop()
    }
  }
  const valueLength = uniform === -2 ? -1 : uniform

  // Pass 2: fill.
  const keysSab = new SharedArrayBuffer(count * 8)
  const keys = new Float64Array(keysSab)
  const offsetsSab = valueLength < 0 ? new SharedArrayBuffer((count + 1) * 4) : null
  const offsets = offsetsSab === null ? null : new Uint32Array(offsetsSab)
  const wraps: number[] = []
  const chunkSabs = allocateContiguous(bytes, chunkBits)
  const chunks = toViews(chunkSabs)
  let out = 0
  let g = 0
  // A pending run of consecutive base records [runStart, runEnd) to copy at once.
  let runStart = 0
  let runEnd = 0
  let runDest = 0
  const flushRun = (): void => {
    if (runEnd > runStart) {
      const from = base.valueOffset(runStart)
      copyBetween(base.chunks, chunks, chunkBits, from, runDest, base.valueOffset(runEnd) - from)
    }
    runStart = runEnd = -1
  }
  flushRun()
  const emit = (key: number, len: number): void => {
    keys[out] = key
    if (offsets !== null) {
      const low = g % 4294967296
      if (out > 0 && low < offsets[out - 1]!) wraps.push(out)
      offsets[out] = low
    }
    out++
    g += len
  }
  let i = 0
  let j = 0
  let steps = 0
  while (i < base.count || j < dkeys.length) {
    const bk = i < base.count ? base.keys[i]! : Infinity
    const dk = j < dkeys.length ? dkeys[j]! : Infinity
    if (dk <= bk) {
      flushRun()
      const e = dentry[j]!
      const len = delta.lenPrev[e * 2]!
      if (len !== TOMBSTONE) {
        const dest = g
        emit(dk, len)
        copyIn(chunks, chunkBits, dest, viewValue(delta.chunks, chunkBits, delta.keyLoc[e * 2 + 1]!, len))
      }
      j++
      if (dk === bk) i++
    } else {
      if (runEnd !== i) {
        flushRun()
        runStart = i
        runDest = g
      }
      runEnd = i + 1
      emit(bk, base.valueLengthAt(i))
      i++
    }
    if ((++steps & (YIELD_EVERY - 1)) === 0) {
      flushRun()
      await yieldToLoop()
    }
  }
  flushRun()
  if (offsets !== null) {
    const low = g % 4294967296
    if (count > 0 && low < offsets[count - 1]!) wraps.push(count)
    offsets[count] = low
  }
  return {
    count,
    keys: keysSab,
    offsets: offsetsSab,
    wraps,
    valueLength,
    valuesBytes: bytes,
    chunks: chunkSabs,
    ...buildDirectory(keys)
  }
}
