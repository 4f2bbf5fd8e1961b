/**
 * A change as it travels (the JetStream message body) and as the producer's
 * outbox keeps it: the record the index will hold, already keyed-hashed by
 * the producer, never the citizen's plaintext. So the stream's files on three
 * NATS servers, the DR mirror and the outbox hold no more personal data than
 * an index does (the PIN as a key, keyed hashes), and a node applies a change
 * without hashing anything.
 *
 *   [0]       format (1)
 *   [1]       op: 1 upsert, 2 status, 3 delete
 *   [2..10)   seq, u64 big-endian (safe integers only)
 *   [10..15)  key: the PIN, 40 bits big-endian
 *   [15..23)  the first 8 bytes of the hash key's fingerprint (a node built
 *             with another key refuses the feed instead of storing hashes it
 *             can never match)
 *   upsert:   [23..23+RECORD_BYTES) the record (src/domain/record.ts)
 *   status:   [23] the status code (STATUS_CODES)
 *   delete:   nothing more
 */
import { isRecord, RECORD_BYTES, STATUS_CODES } from '../domain/record.js'
import type { RecordCodec } from '../domain/record.js'
import type { Change } from './change.js'

export const WIRE_FORMAT = 1
export const OP_UPSERT = 1
export const OP_STATUS = 2
export const OP_DELETE = 3
const HEADER = 23
export const KEY_TAG_BYTES = 8
const STATUS_COUNT = Object.keys(STATUS_CODES).length

export type WireChange =
  | { readonly seq: number, readonly op: typeof OP_UPSERT, readonly key: number, readonly record: Uint8Array }
  | { readonly seq: number, readonly op: typeof OP_STATUS, readonly key: number, readonly status: number }
  | { readonly seq: number, readonly op: typeof OP_DELETE, readonly key: number }

/** Encodes a validated change: upserts are hashed here, with the producer's key. */
export function encodeChange (change: Change, codec: RecordCodec, keyTag: Uint8Array): Uint8Array {
  const size = change.op === 'upsert' ? HEADER + RECORD_BYTES : change.op === 'status' ? HEADER + 1 : HEADER
  const out = new Uint8Array(size)
  const view = new DataView(out.buffer)
  out[0] = WIRE_FORMAT
  out[1] = change.op === 'upsert' ? OP_UPSERT : change.op === 'status' ? OP_STATUS : OP_DELETE
  view.setBigUint64(2, BigInt(change.seq))
  writeKey40(change.key, out, 10)
  out.set(keyTag.subarray(0, KEY_TAG_BYTES), 15)
  if (change.op === 'upsert') codec.encode(change.key, change.citizen, out, HEADER)
  else if (change.op === 'status') out[HEADER] = STATUS_CODES[change.status]
  return out
}

/** The sequence of an encoded change (its bytes were made by encodeChange or checked by decodeChange). */
export function wireSeq (bytes: Uint8Array): number {
  return Number(new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getBigUint64(2))
}

export type DecodeResult = { readonly ok: true, readonly change: WireChange } | { readonly ok: false, readonly reason: string }

/** Checks and decodes a message body; `keyTag` is this node's (a change made with another key is refused). */
export function decodeChange (bytes: Uint8Array, keyTag: Uint8Array): DecodeResult {
  if (bytes.length < HEADER) return { ok: false, reason: `malformed change: ${bytes.length} bytes, shorter than its header` }
  if (bytes[0] !== WIRE_FORMAT) return { ok: false, reason: `malformed change: format ${bytes[0]!}, this build reads ${WIRE_FORMAT}` }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const seq64 = view.getBigUint64(2)
  if (seq64 < 1n || seq64 > BigInt(Number.MAX_SAFE_INTEGER)) return { ok: false, reason: 'malformed change: seq out of range' }
  const seq = Number(seq64)
  const key = readKey40(bytes, 10)
  if (key >= 1e12) return { ok: false, reason: 'malformed change: key is not a 12-digit PIN' }
  for (let i = 0; i < KEY_TAG_BYTES; i++) {
    if (bytes[15 + i] !== keyTag[i]) return { ok: false, reason: 'the change was made with another hash key (its key tag differs from this node\'s IDV_HASH_KEY_FILE)' }
  }
  switch (bytes[1]) {
    case OP_UPSERT: {
      const record = bytes.subarray(HEADER)
      if (!isRecord(record)) return { ok: false, reason: `malformed change: an upsert carries ${record.length} bytes that are not a layout-${RECORD_BYTES}-byte record of this build` }
      return { ok: true, change: { seq, op: OP_UPSERT, key, record } }
    }
    case OP_STATUS: {
      if (bytes.length !== HEADER + 1 || bytes[HEADER]! >= STATUS_COUNT) return { ok: false, reason: 'malformed change: a status change without a known status' }
      return { ok: true, change: { seq, op: OP_STATUS, key, status: bytes[HEADER]! } }
    }
    case OP_DELETE:
      if (bytes.length !== HEADER) return { ok: false, reason: 'malformed change: a delete with trailing bytes' }
      return { ok: true, change: { seq, op: OP_DELETE, key } }
    default:
      return { ok: false, reason: `malformed change: unknown op ${bytes[1]!}` }
  }
}

function writeKey40 (key: number, out: Uint8Array, at: number): void {
  const hi = Math.floor(key / 0x100000000)
  const lo = key >>> 0
  out[at] = hi; out[at + 1] = lo >>> 24; out[at + 2] = lo >>> 16; out[at + 3] = lo >>> 8; out[at + 4] = lo
}

function readKey40 (b: Uint8Array, at: number): number {
  return b[at]! * 0x100000000 + ((b[at + 1]! << 24) >>> 0) + (b[at + 2]! << 16) + (b[at + 3]! << 8) + b[at + 4]!
}
