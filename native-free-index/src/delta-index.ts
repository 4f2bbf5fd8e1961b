/**
 * The delta index: writes since the last compaction, in SharedArrayBuffers, readable
 * from any thread while the single writer appends.
 *
 * Entries are append-only and never modified once published: entry e holds key,
 * value location (global arena offset), value length (-1 = tombstone) and `prev`,
 * the entry this one superseded for the same key. An open-addressing table maps a
 * key to its newest entry. A reader takes a snapshot by reading the published
 * entry count C (an Atomics.load on the epoch's control word) and ignores entries
 * >= C by walking `prev`, so it never sees half a batch. The writer fills an entry
 * with plain stores and then publishes the table slot with Atomics.store; a reader's
 * Atomics.load of that slot therefore sees the whole entry (JS memory model:
 * seq-cst atomics order the plain writes before them).
 *
 * Growth (more entries than capacity, or a new value chunk) builds new buffers and
 * is announced as a new epoch; old buffers stay valid for readers still on them,
 * because the writer never touches them again.
 */
import { hashKey } from './keys.js'
import { copyBytes, toViews } from './arena.js'

/** Value length marking a delete; equal to the log's DELETE_LENGTH so lengths pass straight through. */
export const TOMBSTONE = -1

export interface DeltaState {
  readonly capacity: number
  /** Float64Array(2 * capacity): [key, global value offset] per entry. */
  readonly keyLoc: SharedArrayBuffer
  /** Int32Array(2 * capacity): [value length or TOMBSTONE, prev entry or -1] per entry. */
  readonly lenPrev: SharedArrayBuffer
  /** Int32Array(power of two >= 2 * capacity): newest entry + 1 for a key, 0 = empty. */
  readonly table: SharedArrayBuffer
  readonly chunks: readonly SharedArrayBuffer[]
}

function tableSizeFor (capacity: number): number {
  let size = 16
  while (size < capacity * 2) size *= 2
  return size
}

export function emptyDelta (capacity: number): DeltaState {
  return {
    capacity,
    keyLoc: new SharedArrayBuffer(capacity * 16),
    lenPrev: new SharedArrayBuffer(capacity * 8),
    table: new SharedArrayBuffer(tableSizeFor(capacity) * 4),
    chunks: []
  }
}

/** Thread-local views over a DeltaState. */
export class DeltaView {
  readonly state: DeltaState
  readonly keyLoc: Float64Array
  readonly lenPrev: Int32Array
  readonly table: Int32Array
  readonly mask: number
  readonly chunks: Uint8Array[]

  constructor (state: DeltaState) {
    this.state = state
    this.keyLoc = new Float64Array(state.keyLoc)
    this.lenPrev = new Int32Array(state.lenPrev)
    this.table = new Int32Array(state.table)
    this.mask = this.table.length - 1
    this.chunks = toViews(state.chunks)
  }

  /** Newest entry for key below `committed`; -1 when the delta has no visible entry. */
  find (key: number, committed: number): number {
    const table = this.table
    const keyLoc = this.keyLoc
    let h = hashKey(key) & this.mask
    for (;;) {
      const slot = Atomics.load(table, h)
      if (slot === 0) return -1
      const e = slot - 1
      if (keyLoc[e * 2] === key) {
        let x = e
        while (x >= committed) x = this.lenPrev[x * 2 + 1]!
        return x
      }
      h = (h + 1) & this.mask
    }
  }
}

/** The writer's side: appends entries and values, growing buffers as needed. */
export class DeltaWriter {
  state: DeltaState
  view: DeltaView
  /** Entries written (published or not). */
  used: number
  /** Set when buffers were replaced or a chunk added; the engine then announces a new epoch. */
  changed = false
  private readonly chunkBits: number
  private fill: number
  private nextChunkSize: number

  constructor (state: DeltaState, used: number, chunkBits: number) {
    this.state = state
    this.view = new DeltaView(state)
    this.used = used
    this.chunkBits = chunkBits
    const last = state.chunks[state.chunks.length - 1]
    // A reopened or inherited delta starts filling a fresh chunk: simpler than
    // tracking the old chunk's fill level, and chunks are small at first.
    this.fill = last === undefined ? 0 : last.byteLength
    this.nextChunkSize = Math.min(2 ** chunkBits, Math.max(1 << 20, (last?.byteLength ?? 0) * 2))
  }

  /** Makes room for n more entries, growing the buffers by doubling. */
  reserve (n: number): void {
    if (this.used + n <= this.state.capacity) return
    let capacity = this.state.capacity * 2
    while (capacity < this.used + n) capacity *= 2
    const next = emptyDelta(capacity)
    new Float64Array(next.keyLoc).set(this.view.keyLoc.subarray(0, this.used * 2))
    new Int32Array(next.lenPrev).set(this.view.lenPrev.subarray(0, this.used * 2))
    this.state = { ...next, chunks: this.state.chunks }
    this.view = new DeltaView(this.state)
    const keyLoc = this.view.keyLoc
    const table = this.view.table
    const mask = this.view.mask
    for (let e = 0; e < this.used; e++) {
      const key = keyLoc[e * 2]!
      let h = hashKey(key) & mask
      for (;;) {
        const slot = table[h]!
        if (slot === 0 || keyLoc[(slot - 1) * 2] === key) { table[h] = e + 1; break }
        h = (h + 1) & mask
      }
    }
    this.changed = true
  }

  /**
   * Appends one entry (src[offset, offset + length), or a tombstone when length is TOMBSTONE) and links it into the table; returns
   * the entry it supersedes, or -1 when the delta had none for this key (one probe
   * serves both, which matters during bulk loads). The caller reserved room;
   * publication (the committed count) is the caller's job.
   */
  append (key: number, src: Uint8Array, offset: number, length: number): number {
    const e = this.used++
    const view = this.view
    let g = 0
    if (length !== TOMBSTONE) {
      g = this.allocate(length)
      if (length > 0) {
        const size = 2 ** this.chunkBits
        const c = Math.floor(g / size)
        copyBytes(this.view.chunks[c]!, g - c * size, src, offset, length)
      }
    }
    view.keyLoc[e * 2] = key
    view.keyLoc[e * 2 + 1] = g
    view.lenPrev[e * 2] = length
    const table = view.table
    const mask = view.mask
    let h = hashKey(key) & mask
    let prev = -1
    for (;;) {
      const slot = table[h]!
      if (slot === 0) break
      if (view.keyLoc[(slot - 1) * 2] === key) { prev = slot - 1; break }
      h = (h + 1) & mask
    }
    view.lenPrev[e * 2 + 1] = prev
    Atomics.store(table, h, e + 1)
    return prev
  }

  private allocate (len: number): number {
    const size = 2 ** this.chunkBits
    const chunks = this.state.chunks
    let c = chunks.length - 1
    if (c < 0 || this.fill + len > chunks[c]!.byteLength) {
      while (this.nextChunkSize < len) this.nextChunkSize *= 2
      const sab = new SharedArrayBuffer(Math.min(size, this.nextChunkSize))
      this.nextChunkSize = Math.min(size, this.nextChunkSize * 2)
      this.state = { ...this.state, chunks: [...chunks, sab] }
      this.view.chunks.push(new Uint8Array(sab))
      this.fill = 0
      c++
      this.changed = true
    }
    const g = c * size + this.fill
    this.fill += len
    return g
  }

  /** Bytes held by the delta's buffers. */
  bytes (): number {
    let total = this.state.keyLoc.byteLength + this.state.lenPrev.byteLength + this.state.table.byteLength
    for (const c of this.state.chunks) total += c.byteLength
    return total
  }
}
