/**
 * Bulk load of an NDJSON register extract into a store, as a sort: the index is
 * written in key order, never record by record at random.
 *
 *   encode  worker threads validate, hash and sort chunks of lines in parallel
 *           (each chunk comes back a sorted run);
 *   sort    runs held in memory past the budget (--memory) are merged into a run
 *           file in the work directory beside the index (an external merge sort);
 *   commit  every run is merged by PIN and written in large durable transactions:
 *           into an empty index by appending (LMDB fills each page instead of
 *           splitting it), into a non-empty one by ordered updates. A PIN found on
 *           two lines is a data error: every line that holds it is rejected.
 *
 * Each transaction also records, in the index's metadata, the last key written.
 * A load killed at any moment leaves an index that opens and holds a key-ordered
 * prefix of the load, exactly what progress reported as durable; `--resume`
 * reads that key back and finishes without hashing or writing those records again.
 */
import { mkdirSync, rmSync, statSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import { join, resolve } from 'node:path'
import { Piscina } from 'piscina'
import { RECORD_BYTES } from '../domain/record.js'
import { packageRoot } from '../paths.js'
import type { StorageCore, StoreEntry } from '../store/types.js'
import type { EncodedChunk } from './encode-chunk.js'
import type { EncodeTask } from './encode-worker.js'
import { ExtractError, openExtract } from './extract.js'
import { RejectWriter } from './rejects.js'
import { chunkCursor, fileCursor, RUN_BYTES_PER_RECORD, RunMerger, spillRuns, type RunCursor } from './sorted-runs.js'

export type LoadPhase = 'encode' | 'sort' | 'merge' | 'commit' | 'done'
/** How records reach the store: appended into an empty index, or ordered updates of a non-empty one. */
export type WritePath = 'append' | 'update'

export interface LoadProgress {
  readonly phase: LoadPhase
  /** Source bytes read (compressed bytes for gzip). */
  readonly bytesRead: number
  /** Source size; undefined for standard input. */
  readonly totalBytes: number | undefined
  /** Records accepted by the encoder so far. */
  readonly encoded: number
  /** Records in durable transactions so far (in this run). */
  readonly durable: number
  /** Records the commit phase will write (known once encoding is done). */
  readonly toCommit: number | undefined
  readonly rejected: number
  readonly elapsedMs: number
}

export interface LoadOptions {
  /** The extract: a path (plain or gzip), or `-` for standard input. */
  readonly file: string
  readonly store: StorageCore
  readonly hashKey: Uint8Array
  /** Where rejected lines go as NDJSON {line, reason}; created only when a line is rejected. */
  readonly rejectFile: string
  /** Where sorted runs spill; removed when the load ends, and cleared of leftovers when one starts. */
  readonly workDir: string
  readonly threads?: number
  readonly chunkBytes?: number
  /** Bytes of sorted runs held in memory before they spill to the work directory. */
  readonly memoryBytes?: number
  /** Parse rejects past which the load stops: the file is probably not an extract at all. */
  readonly maxRejects?: number
  /** Records per commit transaction (default COMMIT_RECORDS). */
  readonly commitRecords?: number
  /** Continue an interrupted load of the same file. */
  readonly resume?: boolean
  readonly onProgress?: (p: LoadProgress) => void
  /** Aborting stops the load; transactions already sent finish and are made durable. */
  readonly signal?: AbortSignal
  /** Standard input, for `file: '-'` (tests pass a stream). */
  readonly stdin?: NodeJS.ReadableStream
}

export interface LoadSummary extends LoadProgress {
  readonly lines: number
  readonly aborted: boolean
  readonly recordsPerSecond: number
  readonly path: WritePath
  /** Records an earlier, interrupted run had made durable (resume only). */
  readonly resumedAfter: number
  /** PINs found on more than one line (each of their lines is rejected). */
  readonly duplicatePins: number
  /** Sorted runs written to the work directory (0: everything fit in memory). */
  readonly spilledRuns: number
}

/** A load that cannot go on; the index holds exactly what was reported durable. */
export class LoadError extends Error {}

/** Bytes of NDJSON per chunk (~40k citizens): one worker task and one sorted run. */
export const DEFAULT_CHUNK_BYTES = 16 * 1024 * 1024
export const DEFAULT_MEMORY_BYTES = 1024 ** 3
export const DEFAULT_MAX_REJECTS = 1000
/** Records per transaction in the commit phase: big enough to amortise the fsync, small enough to report often. */
export const COMMIT_RECORDS = 200_000
/** Metadata that marks an unfinished load: its source and the last key made durable. */
export const LOAD_STATE_META = 'loadInProgress'

export const ENCODE_WORKER = (): string => join(packageRoot(), 'dist', 'src', 'bulk-load', 'encode-worker.js')

interface LoadState {
  readonly source: SourceIdentity
  readonly path: WritePath
  readonly lastKey: number
  readonly durable: number
}
interface SourceIdentity { readonly file: string, readonly size: number, readonly mtimeMs: number }

export async function loadFile (options: LoadOptions): Promise<LoadSummary> {
  const started = performance.now()
  const { store } = options
  const source = options.file === '-' ? undefined : identify(options.file)
  const interrupted = readLoadState(store)
  let path: WritePath = store.count() === 0 ? 'append' : 'update'
  let skipThrough = -1
  let resumedAfter = 0
  if (options.resume === true) {
    if (source === undefined) throw new LoadError('--resume needs the file again: standard input cannot be read twice')
    if (interrupted === undefined) throw new LoadError('there is no interrupted load to resume in this index: run idv load without --resume')
    if (interrupted.source.file !== source.file || interrupted.source.size !== source.size || interrupted.source.mtimeMs !== source.mtimeMs) {
      throw new LoadError(`the interrupted load was of ${interrupted.source.file} (${interrupted.source.size} bytes, modified ${new Date(interrupted.source.mtimeMs).toISOString()}), not this file: resume with that file, or load without --resume`)
    }
    path = interrupted.path
    skipThrough = interrupted.lastKey
    resumedAfter = interrupted.durable
  }

  const threads = options.threads ?? Math.max(1, availableParallelism())
  const memoryBytes = options.memoryBytes ?? DEFAULT_MEMORY_BYTES
  const maxRejects = options.maxRejects ?? DEFAULT_MAX_REJECTS
  const extract = openExtract(options.file, options.chunkBytes ?? DEFAULT_CHUNK_BYTES, options.stdin)
  const rejects = new RejectWriter(options.rejectFile)
  const pool = new Piscina<EncodeTask, EncodedChunk>({ filename: ENCODE_WORKER(), minThreads: threads, maxThreads: threads })
  rmSync(options.workDir, { recursive: true, force: true }) // a killed load's runs: never reused, always stale
  mkdirSync(options.workDir, { recursive: true, mode: 0o700 })

  let phase: LoadPhase = 'encode'
  let encoded = 0
  let durable = 0
  let toCommit: number | undefined
  let rejected = 0
  let lines = 0
  let duplicatePins = 0
  const spilled: string[] = []
  let held: EncodedChunk[] = []
  let heldBytes = 0
  let aborted = false
  const progress = (): LoadProgress => ({ phase, bytesRead: extract.bytesRead(), totalBytes: extract.totalBytes, encoded, durable, toCommit, rejected, elapsedMs: performance.now() - started })
  const report = (): void => { options.onProgress?.(progress()) }

  const take = (chunk: EncodedChunk): void => {
    encoded += chunk.keys.length
    rejected += chunk.rejects.length
    lines += chunk.lineCount
    rejects.write(chunk.rejects)
    if (rejected > maxRejects) {
      throw new LoadError(`stopped after ${rejected} rejected lines (more than --max-rejects ${maxRejects}), the first: ${rejects.first()}; is ${extract.name} an NDJSON register extract? Nothing was written to the index`)
    }
    held.push(chunk)
    heldBytes += chunk.keys.length * RUN_BYTES_PER_RECORD
    if (heldBytes > memoryBytes) {
      phase = 'sort'
      report()
      const run = join(options.workDir, `run-${String(spilled.length + 1).padStart(5, '0')}.bin`)
      spillRuns(held, run)
      spilled.push(run)
      held = []
      heldBytes = 0
      phase = 'encode'
    }
    report()
  }

  try {
    // Encode: chunks in file order, at most `window` in flight so memory stays bounded.
    const window = threads * 2
    const pending: Array<Promise<EncodedChunk>> = []
    let nextLine = 1
    try {
      for await (const chunk of extract.chunks) {
        if (options.signal?.aborted === true) { aborted = true; break }
        const encoding = pool.run({ hashKey: options.hashKey, chunk, firstLine: nextLine, skipThrough })
        encoding.catch(() => {}) // rethrown when awaited below
        pending.push(encoding)
        nextLine += countLines(chunk)
        if (pending.length >= window) take(await pending.shift()!)
      }
      while (pending.length > 0 && !aborted) take(await pending.shift()!)
    } catch (err) {
      await Promise.allSettled(pending)
      if (err instanceof ExtractError) throw new LoadError(`${err.message}; nothing was written to the index`)
      throw err
    }
    if (!aborted) {
      // Commit: one merge over every run, written in key order.
      toCommit = encoded
      phase = spilled.length > 0 ? 'merge' : 'commit'
      report()
      const cursors: RunCursor[] = [...spilled.map(fileCursor), ...held.map(chunkCursor)]
      const commit = await commitMerged(new RunMerger(cursors), {
        store,
        append: path === 'append',
        batchRecords: options.commitRecords ?? COMMIT_RECORDS,
        skipThrough,
        state: (lastKey, count) => ({ source: source ?? { file: '-', size: 0, mtimeMs: 0 }, path, lastKey, durable: resumedAfter + count }),
        onDurable: (count) => { durable = count; report() },
        onDuplicate: (_key, lineNos) => { duplicatePins++; rejected += lineNos.length; rejects.duplicate(lineNos) },
        signal: options.signal
      })
      held = []
      aborted = commit.aborted
      if (!aborted) {
        await store.writeBatch([], { [LOAD_STATE_META]: new Uint8Array(0) })
        // Leave the index in its compact form (native-free folds its log into segments).
        await store.compact()
        phase = 'done'
      }
    }
  } finally {
    await rejects.close()
    await pool.destroy()
    rmSync(options.workDir, { recursive: true, force: true })
  }
  const p = progress()
  return { ...p, lines, aborted, recordsPerSecond: p.durable / (p.elapsedMs / 1000), path, resumedAfter, duplicatePins, spilledRuns: spilled.length }
}

interface CommitOptions {
  readonly store: StorageCore
  readonly append: boolean
  readonly batchRecords: number
  readonly skipThrough: number
  readonly state: (lastKey: number, durable: number) => LoadState
  readonly onDurable: (durable: number) => void
  readonly onDuplicate: (key: number, lines: number[]) => void
  readonly signal: AbortSignal | undefined
}

/**
 * Writes the merge in transactions of batchRecords, building the next batch
 * while the last one commits. A key seen on more than one line is held back and
 * reported; keys at or below skipThrough are durable already.
 */
async function commitMerged (merger: RunMerger, o: CommitOptions): Promise<{ aborted: boolean }> {
  const buffers = [new Uint8Array(o.batchRecords * RECORD_BYTES), new Uint8Array(o.batchRecords * RECORD_BYTES)]
  let current = 0
  let entries: StoreEntry[] = []
  let writing: Promise<void> = Promise.resolve()
  let durable = 0
  let groupKey = -1
  let groupLines: number[] = []

  const flush = async (): Promise<void> => {
    if (entries.length === 0) return
    const batch = entries
    const lastKey = batch[batch.length - 1]!.key
    await writing
    const meta = { [LOAD_STATE_META]: Buffer.from(JSON.stringify(o.state(lastKey, durable + batch.length))) }
    writing = o.store.writeBatch(batch, meta, { append: o.append }).then(() => { durable += batch.length; o.onDurable(durable) })
    writing.catch(() => {}) // rethrown by the next await
    entries = []
    current ^= 1 // the other buffer: this one stays untouched until its batch is durable
  }
  // A group of equal keys ends: one line is a record; more are a data error, and
  // the entry pushed for its first line (still unflushed: flushes fall between groups) goes.
  const endGroup = (): void => {
    if (groupLines.length <= 1) return
    if (groupKey > o.skipThrough) entries.pop()
    o.onDuplicate(groupKey, groupLines)
  }

  try {
    while (merger.next()) {
      if (merger.key === groupKey) { groupLines.push(merger.line); continue }
      endGroup()
      if (entries.length >= o.batchRecords) {
        await flush()
        if (o.signal?.aborted === true) return { aborted: true }
      }
      groupKey = merger.key
      groupLines = [merger.line]
      if (groupKey <= o.skipThrough) continue
      const slot = entries.length * RECORD_BYTES
      const value = buffers[current]!.subarray(slot, slot + RECORD_BYTES)
      value.set(merger.bytes.subarray(merger.offset, merger.offset + RECORD_BYTES))
      entries.push({ key: groupKey, value })
    }
    endGroup()
    await flush()
    await writing
    return { aborted: false }
  } finally {
    merger.close()
    await writing.catch(() => {})
  }
}

function identify (file: string): SourceIdentity {
  const st = statSync(file)
  return { file: resolve(file), size: st.size, mtimeMs: st.mtimeMs }
}

/** The unfinished load this index records, if any. */
export function readLoadState (store: StorageCore): LoadState | undefined {
  const raw = store.getMeta(LOAD_STATE_META)
  if (raw === undefined || raw.length === 0) return undefined
  try {
    return JSON.parse(Buffer.from(raw).toString('utf8')) as LoadState
  } catch {
    return undefined
  }
}

function countLines (chunk: Buffer): number {
  let n = 0
  for (let i = chunk.indexOf(0x0a); i >= 0; i = chunk.indexOf(0x0a, i + 1)) n++
  return chunk.length > 0 && chunk[chunk.length - 1] !== 0x0a ? n + 1 : n
}
