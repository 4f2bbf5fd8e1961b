/**
 * Piscina task for `idv load`: encodes and sorts one chunk of NDJSON. The codec
 * (and its HMAC key schedule) is built once per worker and reused while the key
 * is the same.
 */
import { RecordCodec } from '../domain/record.js'
import { encodeChunk, type EncodedChunk } from './encode-chunk.js'

export interface EncodeTask {
  readonly hashKey: Uint8Array
  readonly chunk: Uint8Array
  readonly firstLine: number
  /** Keys at or below it are durable already (a resumed load): validated, not hashed. */
  readonly skipThrough?: number
}

let codec: RecordCodec | undefined
let codecKey = ''

export default function encode (task: EncodeTask): EncodedChunk {
  const keyHex = Buffer.from(task.hashKey).toString('hex')
  if (codec === undefined || keyHex !== codecKey) {
    codec = new RecordCodec(task.hashKey, { places: true })
    codecKey = keyHex
  }
  // The result is structured-cloned back (about 7 MiB a chunk: cheap next to the hashing).
  return encodeChunk(codec, task.chunk, task.firstLine, task.skipThrough)
}
