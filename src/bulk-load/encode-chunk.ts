/**
 * Turns a chunk of NDJSON lines into index entries: validate, normalise, hash,
 * then sort by PIN, so the chunk is a sorted run the loader merges with others.
 * Runs on loader worker threads (src/bulk-load/encode-worker.ts) and in-process.
 */
import { RECORD_BYTES, RecordCodec } from '../domain/record.js'
import { parseSourceLine } from '../domain/source-record.js'

export interface EncodedChunk {
  /** Integer PIN keys, one per accepted line, ascending (equal keys in line order). */
  readonly keys: Float64Array
  /** 1-based line number of each key. */
  readonly lines: Uint32Array
  /** Records, RECORD_BYTES each, aligned with keys; all zero for a key at or below skipThrough. */
  readonly values: Uint8Array
  /** Rejected lines: [1-based line number, reason]. */
  readonly rejects: Array<[number, string]>
  /** Number of lines in the chunk (blank lines included). */
  readonly lineCount: number
}

const decoder = new TextDecoder('utf-8', { fatal: false })

/**
 * `skipThrough`: keys at or below it are already durable (a resumed load) and are
 * validated but not hashed; they still take part in the duplicate check.
 */
export function encodeChunk (codec: RecordCodec, chunk: Uint8Array, firstLine: number, skipThrough = -1): EncodedChunk {
  const text = decoder.decode(chunk)
  const lines = text.split('\n')
  if (lines[lines.length - 1] === '') lines.pop()
  const keys = new Float64Array(lines.length)
  const lineNos = new Uint32Array(lines.length)
  const values = new Uint8Array(lines.length * RECORD_BYTES)
  const rejects: Array<[number, string]> = []
  let n = 0
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!
    if (line.trim() === '') continue
    const parsed = parseSourceLine(line)
    if (!parsed.ok) { rejects.push([firstLine + i, parsed.reason]); continue }
    keys[n] = parsed.key
    lineNos[n] = firstLine + i
    if (parsed.key > skipThrough) codec.encode(parsed.key, parsed.citizen, values, n * RECORD_BYTES)
    n++
  }
  return { ...sortedByKey(keys, lineNos, values, n), rejects, lineCount: lines.length }
}

/** The first n entries ordered by key, then line (a register extract is mostly unsorted). */
function sortedByKey (keys: Float64Array, lines: Uint32Array, values: Uint8Array, n: number): Pick<EncodedChunk, 'keys' | 'lines' | 'values'> {
  const order = new Uint32Array(n)
  for (let i = 0; i < n; i++) order[i] = i
  order.sort((a, b) => (keys[a]! - keys[b]!) || (a - b))
  const sortedKeys = new Float64Array(n)
  const sortedLines = new Uint32Array(n)
  const sortedValues = new Uint8Array(n * RECORD_BYTES)
  for (let i = 0; i < n; i++) {
    const from = order[i]!
    sortedKeys[i] = keys[from]!
    sortedLines[i] = lines[from]!
    sortedValues.set(values.subarray(from * RECORD_BYTES, (from + 1) * RECORD_BYTES), i * RECORD_BYTES)
  }
  return { keys: sortedKeys, lines: sortedLines, values: sortedValues }
}
