/**
 * Sorted runs and their merge: the external sort of `idv load`.
 *
 * Each encoded chunk comes back from a worker sorted by PIN: a run in memory.
 * While the runs held stay under the memory budget they stay in memory; past it,
 * they are merged into one run file (spilled) in the load's work directory. The
 * final merge reads every run at once, in key order, and the loader writes what
 * it yields straight into the store. A run file is fixed-size records (key as a
 * float64, line as a uint32, then the record bytes), so reading one back is a
 * sequence of block reads with no parsing.
 */
import { closeSync, fsyncSync, openSync, readSync, renameSync, writeSync } from 'node:fs'
import { RECORD_BYTES } from '../domain/record.js'
import type { EncodedChunk } from './encode-chunk.js'

const ENTRY_BYTES = 8 + 4 + RECORD_BYTES
/** Memory a record costs in a run held in memory (key, line, record). */
export const RUN_BYTES_PER_RECORD = ENTRY_BYTES
const BLOCK_RECORDS = 8192

/** A position in a sorted run: the current entry, and a step to the next. */
export interface RunCursor {
  key: number
  line: number
  /** The current record is bytes[offset, offset + RECORD_BYTES), valid until next(). */
  bytes: Uint8Array
  offset: number
  /** Moves to the next entry; false once the run is exhausted. */
  next: () => boolean
  close: () => void
}

export function chunkCursor (chunk: EncodedChunk): RunCursor {
  let i = -1
  const cursor: RunCursor = {
    key: 0,
    line: 0,
    bytes: chunk.values,
    offset: 0,
    next: () => {
      if (++i >= chunk.keys.length) return false
      cursor.key = chunk.keys[i]!
      cursor.line = chunk.lines[i]!
      cursor.offset = i * RECORD_BYTES
      return true
    },
    close: () => {}
  }
  return cursor
}

export function fileCursor (path: string): RunCursor {
  const fd = openSync(path, 'r')
  const block = Buffer.allocUnsafe(BLOCK_RECORDS * ENTRY_BYTES)
  const view = new DataView(block.buffer, block.byteOffset, block.byteLength)
  let filled = 0
  let at = 0
  let position = 0
  let closed = false
  const cursor: RunCursor = {
    key: 0,
    line: 0,
    bytes: block,
    offset: 0,
    next: () => {
      if (at + ENTRY_BYTES > filled) {
        filled = closed ? 0 : readSync(fd, block, 0, block.length, position)
        position += filled
        at = 0
        if (filled % ENTRY_BYTES !== 0) throw new Error(`the sorted run ${path} is truncated`)
        if (filled === 0) { cursor.close(); return false }
      }
      cursor.key = view.getFloat64(at, true)
      cursor.line = view.getUint32(at + 8, true)
      cursor.offset = at + 12
      at += ENTRY_BYTES
      return true
    },
    close: () => { if (!closed) { closed = true; closeSync(fd) } }
  }
  return cursor
}

/**
 * Merges runs by (key, line). `next()` steps to the smallest entry of all runs
 * and exposes it as `key`, `line`, `bytes`, `offset`; a binary heap of cursors
 * keeps each step at O(log runs) comparisons and no allocation.
 */
export class RunMerger {
  key = 0
  line = 0
  bytes: Uint8Array = new Uint8Array(0)
  offset = 0
  readonly #heap: RunCursor[]
  #started = false

  constructor (cursors: RunCursor[]) {
    this.#heap = cursors.filter((c) => c.next())
    for (let i = (this.#heap.length >> 1) - 1; i >= 0; i--) this.#down(i)
  }

  next (): boolean {
    const heap = this.#heap
    if (this.#started && heap.length > 0) {
      // Advance the run the last entry came from, then restore the heap.
      if (!heap[0]!.next()) {
        const last = heap.pop()!
        if (heap.length > 0) heap[0] = last
      }
      if (heap.length > 0) this.#down(0)
    }
    this.#started = true
    if (heap.length === 0) return false
    const top = heap[0]!
    this.key = top.key
    this.line = top.line
    this.bytes = top.bytes
    this.offset = top.offset
    return true
  }

  close (): void { for (const c of this.#heap) c.close() }

  #down (i: number): void {
    const heap = this.#heap
    const n = heap.length
    const item = heap[i]!
    for (;;) {
      let child = 2 * i + 1
      if (child >= n) break
      if (child + 1 < n && before(heap[child + 1]!, heap[child]!)) child++
      if (!before(heap[child]!, item)) break
      heap[i] = heap[child]!
      i = child
    }
    heap[i] = item
  }
}

function before (a: RunCursor, b: RunCursor): boolean {
  return a.key < b.key || (a.key === b.key && a.line < b.line)
}

/**
 * Writes the merge of `runs` to `path` (through a temporary name and an fsync,
 * so a run file that exists is whole); resolves to the number of entries.
 */
export function spillRuns (runs: EncodedChunk[], path: string): number {
  const merger = new RunMerger(runs.map(chunkCursor))
  const block = Buffer.allocUnsafe(BLOCK_RECORDS * ENTRY_BYTES)
  const view = new DataView(block.buffer, block.byteOffset, block.byteLength)
  const partial = `${path}.partial`
  const fd = openSync(partial, 'w', 0o600)
  let at = 0
  let count = 0
  try {
    while (merger.next()) {
      view.setFloat64(at, merger.key, true)
      view.setUint32(at + 8, merger.line, true)
      block.set(merger.bytes.subarray(merger.offset, merger.offset + RECORD_BYTES), at + 12)
      at += ENTRY_BYTES
      count++
      if (at === block.length) { writeSync(fd, block, 0, at); at = 0 }
    }
    if (at > 0) writeSync(fd, block, 0, at)
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
  renameSync(partial, path)
  return count
}
