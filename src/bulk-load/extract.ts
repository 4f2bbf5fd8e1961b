/**
 * A register extract as chunks of whole lines. The source is a file or standard
 * input (`-`); gzip is recognised by its magic bytes and decompressed as it
 * streams, never to disk. A UTF-8 byte order mark is dropped; CRLF line ends and
 * a missing final newline are fine (the line parser ignores the `\r`). A line
 * longer than MAX_LINE_BYTES stops the read with one clear error, so a file with
 * no line breaks costs one chunk of memory, not its size.
 */
import { createReadStream, statSync } from 'node:fs'
import { pipeline, Readable } from 'node:stream'
import { createGunzip } from 'node:zlib'

/** Far above a citizen record (about 400 bytes); far below what would hurt. */
export const MAX_LINE_BYTES = 64 * 1024

export class ExtractError extends Error {}

export interface Extract {
  /** Whole lines, in order; the last chunk may lack its newline. */
  readonly chunks: AsyncGenerator<Buffer>
  /** Size of the source on disk (compressed size for gzip); undefined for standard input. */
  readonly totalBytes: number | undefined
  /** Source bytes consumed so far (compressed bytes for gzip). */
  bytesRead: () => number
  /** What the source was, for messages: the path, or "standard input". */
  readonly name: string
}

export function openExtract (input: string, chunkBytes: number, stdin: NodeJS.ReadableStream = process.stdin): Extract {
  const fromStdin = input === '-'
  let consumed = 0
  const raw = fromStdin ? stdin as AsyncIterable<Buffer> : createReadStream(input, { highWaterMark: chunkBytes }) as AsyncIterable<Buffer>
  const counted = (async function * () { for await (const data of raw) { consumed += data.length; yield Buffer.isBuffer(data) ? data : Buffer.from(data) } })()
  return {
    chunks: lineChunks(decompressed(counted), chunkBytes),
    totalBytes: fromStdin ? undefined : statSync(input).size,
    bytesRead: () => consumed,
    name: fromStdin ? 'standard input' : input
  }
}

/** The bytes as they are, or gunzipped when they start with gzip's magic bytes. */
async function * decompressed (raw: AsyncGenerator<Buffer>): AsyncGenerator<Buffer> {
  const first = await raw.next()
  if (first.done === true) return
  const all = (async function * () { yield first.value; yield * raw })()
  if (first.value[0] !== 0x1f || first.value[1] !== 0x8b) { yield * all; return }
  const gunzip = createGunzip()
  pipeline(Readable.from(all), gunzip, () => {})
  try {
    for await (const data of gunzip as AsyncIterable<Buffer>) yield data
  } catch (err) {
    throw new ExtractError(`the gzip stream is damaged: ${(err as Error).message}`)
  }
}

/** Re-cuts a byte stream into chunks of about chunkBytes that end at a line end. */
async function * lineChunks (source: AsyncIterable<Buffer>, chunkBytes: number): AsyncGenerator<Buffer> {
  let pending: Buffer[] = []
  let pendingBytes = 0
  let breaksSeen = 0 // newlines before this piece: the long line's number, if one is too long
  let sinceBreak = 0 // bytes since the last newline seen, for the line-length limit
  let first = true
  for await (let data of source) {
    if (first) {
      first = false
      if (data[0] === 0xef && data[1] === 0xbb && data[2] === 0xbf) data = data.subarray(3)
    }
    const lastBreak = data.lastIndexOf(0x0a)
    if (lastBreak < 0) {
      sinceBreak += data.length
    } else {
      if (sinceBreak + data.indexOf(0x0a) > MAX_LINE_BYTES) throw tooLong(breaksSeen + 1)
      breaksSeen += countBreaks(data)
      sinceBreak = data.length - lastBreak - 1
    }
    if (sinceBreak > MAX_LINE_BYTES) throw tooLong(breaksSeen + 1)
    pending.push(data)
    pendingBytes += data.length
    if (pendingBytes < chunkBytes || lastBreak < 0) continue
    // Cut after the last newline of this piece; what follows starts the next chunk.
    const all = pending.length === 1 ? data : Buffer.concat(pending, pendingBytes)
    const cut = all.length - (data.length - lastBreak - 1)
    const chunk = all.subarray(0, cut)
    const rest = all.subarray(cut)
    pending = rest.length > 0 ? [Buffer.from(rest)] : []
    pendingBytes = rest.length
    yield chunk
  }
  if (pendingBytes > 0) yield pending.length === 1 ? pending[0]! : Buffer.concat(pending, pendingBytes)
}

function tooLong (lineNo: number): ExtractError {
  return new ExtractError(`line ${lineNo} is longer than ${MAX_LINE_BYTES / 1024} KiB: this is not an NDJSON register extract (one citizen per line)`)
}

function countBreaks (data: Uint8Array): number {
  let n = 0
  for (let i = data.indexOf(0x0a); i >= 0; i = data.indexOf(0x0a, i + 1)) n++
  return n
}
