/**
 * Bulk load of an NDJSON register extract into a store.
 *
 * The file is read in chunks cut at line ends; worker threads validate and hash
 * the chunks in parallel (hashing is the cost: 8 HMACs per citizen); the main
 * thread writes them in file order, one durable transaction per chunk. Progress
 * counts only records whose transaction is durable, so a load killed at any
 * moment leaves an index that opens and holds at least everything reported.
 * Loading is idempotent: a record's bytes depend only on its content and the key.
 */
import { createReadStream, createWriteStream, statSync, type WriteStream } from 'node:fs'
import { availableParallelism } from 'node:os'
import { join } from 'node:path'
import { Piscina } from 'piscina'
import { RECORD_BYTES } from '../domain/record.js'
import { packageRoot } from '../paths.js'
import type { StorageCore, StoreEntry } from '../store/types.js'
import type { EncodedChunk } from './encode-chunk.js'
import type { EncodeTask } from './encode-worker.js'

export interface LoadProgress {
  readonly bytesRead: number
  readonly totalBytes: number
  /** Records in durable transactions so far. */
  readonly durable: number
  readonly rejected: number
  readonly elapsedMs: number
}

export interface LoadOptions {
  readonly file: string
  readonly store: StorageCore
  readonly hashKey: Uint8Array
  /** Where rejected lines go as NDJSON {line, reason}; created only when a line is rejected. */
  readonly rejectFile: string
  readonly threads?: number
  readonly chunkBytes?: number
  readonly onProgress?: (p: LoadProgress) => void
  /** Aborting stops reading; batches already sent finish and are made durable. */
  readonly signal?: AbortSignal
}

export interface LoadSummary extends LoadProgress {
  readonly lines: number
  readonly aborted: boolean
  readonly recordsPerSecond: number
}

/**
 * Bytes of NDJSON per chunk (~50k citizens): one worker task and one durable
 * transaction each. LMDB batches of random keys dirty about one leaf page per
 * record, so bigger transactions amortise copy-on-write and the fsync; the
 * window of chunks in flight keeps memory bounded (threads × 2 chunks).
 */
export const DEFAULT_CHUNK_BYTES = 16 * 1024 * 1024

export const ENCODE_WORKER = (): string => join(packageRoot(), 'dist', 'src', 'bulk-load', 'encode-worker.js')

export async function loadFile (options: LoadOptions): Promise<LoadSummary> {
  const started = performance.now()
  const totalBytes = statSync(options.file).size
  const threads = options.threads ?? Math.max(1, availableParallelism())
  const pool = new Piscina<EncodeTask, EncodedChunk>({ filename: ENCODE_WORKER(), minThreads: threads, maxThreads: threads })
  const rejects = new RejectWriter(options.rejectFile)
  let bytesRead = 0
  let durable = 0
  let rejected = 0
  let lines = 0
  const progress = (): LoadProgress => ({ bytesRead, totalBytes, durable, rejected, elapsedMs: performance.now() - started })

  // Encoded chunks in file order; at most `window` are in flight so memory stays bounded.
  const window = threads * 2
  const pending: Array<Promise<EncodedChunk>> = []
  let writing: Promise<void> = Promise.resolve()
  const commitNext = async (): Promise<void> => {
    const encoded = await pending.shift()!
    await writing
    writing = (async () => {
      const entries: StoreEntry[] = new Array(encoded.keys.length)
      for (let i = 0; i < encoded.keys.length; i++) {
        entries[i] = { key: encoded.keys[i]!, value: encoded.values.subarray(i * RECORD_BYTES, (i + 1) * RECORD_BYTES) }
      }
      await options.store.writeBatch(entries)
      durable += entries.length
      rejected += encoded.rejects.length
      lines += encoded.lines
      rejects.write(encoded.rejects)
      options.onProgress?.(progress())
    })()
    // Observed here so a failure between awaits is not an unhandled rejection (which would kill
    // the process before `finally` cleans up); the next `await writing` still rethrows it.
    writing.catch(() => {})
  }

  let aborted = false
  try {
    let nextLine = 1
    for await (const chunk of lineChunks(options.file, options.chunkBytes ?? DEFAULT_CHUNK_BYTES)) {
      if (options.signal?.aborted === true) { aborted = true; break }
      bytesRead += chunk.length
      const encoding = pool.run({ hashKey: options.hashKey, chunk, firstLine: nextLine })
      encoding.catch(() => {}) // rethrown when commitNext awaits it
      pending.push(encoding)
      nextLine += countLines(chunk)
      if (pending.length >= window) await commitNext()
    }
    while (pending.length > 0) await commitNext()
    await writing
    // Leave the index in its compact form (native-free folds its log into segments).
    if (!aborted) await options.store.compact()
  } finally {
    await Promise.allSettled(pending)
    await writing.catch(() => {})
    await rejects.close()
    await pool.destroy()
  }
  const p = progress()
  return { ...p, lines, aborted, recordsPerSecond: p.durable / (p.elapsedMs / 1000) }
}

/** Yields pieces of the file that end at a line end (the last may not). */
export async function * lineChunks (file: string, chunkBytes: number): AsyncGenerator<Buffer> {
  let carry: Buffer | undefined
  for await (const data of createReadStream(file, { highWaterMark: chunkBytes }) as AsyncIterable<Buffer>) {
    const buf = carry === undefined ? data : Buffer.concat([carry, data])
    const cut = buf.lastIndexOf(0x0a)
    if (cut < 0) { carry = buf; continue }
    carry = cut + 1 < buf.length ? Buffer.from(buf.subarray(cut + 1)) : undefined
    yield buf.subarray(0, cut + 1)
  }
  if (carry !== undefined && carry.length > 0) yield carry
}

function countLines (chunk: Buffer): number {
  let n = 0
  for (let i = chunk.indexOf(0x0a); i >= 0; i = chunk.indexOf(0x0a, i + 1)) n++
  return chunk.length > 0 && chunk[chunk.length - 1] !== 0x0a ? n + 1 : n
}

/** Rejected lines as NDJSON: line number and reason only; the source line holds personal data and stays in the source. */
class RejectWriter {
  readonly #file: string
  #out: WriteStream | undefined

  constructor (file: string) { this.#file = file }

  write (rejects: ReadonlyArray<[number, string]>): void {
    if (rejects.length === 0) return
    this.#out ??= createWriteStream(this.#file, { flags: 'w', mode: 0o600 })
    let text = ''
    for (const [line, reason] of rejects) text += `${JSON.stringify({ line, reason })}\n`
    this.#out.write(text)
  }

  async close (): Promise<void> {
    const out = this.#out
    if (out === undefined) return
    await new Promise<void>((resolve, reject) => { out.end((err?: Error | null) => { err == null ? resolve() : reject(err) }) })
  }
}
