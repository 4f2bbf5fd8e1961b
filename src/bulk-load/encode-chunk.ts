/**
 * Turns a chunk of NDJSON lines into index entries: validate, normalise, hash.
 * Runs on loader worker threads (src/bulk-load/encode-worker.ts) and in-process.
 */
import { RECORD_BYTES, RecordCodec } from '../domain/record.js'
import { parseSourceLine } from '../domain/source-record.js'

export interface EncodedChunk {
  /** Integer PIN keys, one per accepted record, in input order. */
  readonly keys: Float64Array
  /** Records, RECORD_BYTES each, aligned with keys. */
  readonly values: Uint8Array
  /** Rejected lines: [1-based line number, reason]. */
  readonly rejects: Array<[number, string]>
  /** Number of lines in the chunk (blank lines included). */
  readonly lines: number
}

const decoder = new TextDecoder('utf-8', { fatal: false })

export function encodeChunk (codec: RecordCodec, chunk: Uint8Array, firstLine: number): EncodedChunk {
  const text = decoder.decode(chunk)
  const lines = text.split('\n')
  if (lines[lines.length - 1] === '') lines.pop()
  const keys = new Float64Array(lines.length)
  const values = new Uint8Array(lines.length * RECORD_BYTES)
  const rejects: Array<[number, string]> = []
  let n = 0
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!
    if (line.trim() === '') continue
    const parsed = parseSourceLine(line)
    if (!parsed.ok) { rejects.push([firstLine + i, parsed.reason]); continue }
    keys[n] = parsed.key
    codec.encode(parsed.key, parsed.citizen, values, n * RECORD_BYTES)
    n++
  }
  return { keys: keys.slice(0, n), values: values.slice(0, n * RECORD_BYTES), rejects, lines: lines.length }
}
