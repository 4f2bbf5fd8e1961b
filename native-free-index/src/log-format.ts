/**
 * The write-ahead log's record format: one record per batch, checksummed.
 *
 *   offset size  field
 *   0      4     magic 0x314c464e ("NFL1" in file byte order)
 *   4      4     payload length (u32)
 *   8      8     seq: batch sequence number (f64, +1 per batch over the store's life)
 *   16     8     group start: file offset of the first record of the write group (f64)
 *   24     4     crc32(bytes 4..24, continued over the payload)
 *   28     4     reserved, 0
 *   32     ...   payload
 *
 *   payload: u32 entry count, u32 meta count,
 *            entries: f64 key, i32 value length (-1 = delete), value bytes
 *            meta:    u16 name length, UTF-8 name, u32 value length, value bytes
 *
 * The group start lets recovery tell a torn write (the last group, never
 * acknowledged) from corruption: records of a later group are only written after
 * the earlier group's fsync returned, so a valid record whose group starts after a
 * bad record proves the bad record had been acknowledged. All integers are
 * little-endian.
 */
import { crc32 } from './crc.js'
import { assertKey } from './keys.js'
import { invalidArgument } from './errors.js'

export const RECORD_MAGIC = 0x314c464e
export const HEADER_BYTES = 32
export const DELETE_LENGTH = -1

export interface BatchEntry {
  readonly key: number
  readonly value: Uint8Array | null
}

export interface EncodedRecord {
  /** Header and payload; crc and group start are filled in when the group is written. */
  readonly bytes: Buffer
  readonly payloadCrc: number
  readonly entryCount: number
}

const utf8 = new TextEncoder()

/** Validates and encodes one batch. Values are copied, so callers may reuse their buffers. */
export function encodeBatch (
  entries: readonly BatchEntry[],
  meta: ReadonlyArray<readonly [string, Uint8Array]>,
  seq: number,
  maxValueBytes: number
): EncodedRecord {
  let size = HEADER_BYTES + 8
  for (const e of entries) {
    assertKey(e.key)
    if (e.value !== null) {
      if (!(e.value instanceof Uint8Array)) throw invalidArgument('value must be a Uint8Array or null')
      if (e.value.length > maxValueBytes) throw invalidArgument(`value of ${e.value.length} bytes exceeds maxValueBytes ${maxValueBytes}`)
      size += e.value.length
    }
    size += 12
  }
  const names: Uint8Array[] = []
  for (const [name, value] of meta) {
    const n = utf8.encode(name)
    if (n.length === 0 || n.length > 0xffff) throw invalidArgument('metadata names must be 1..65535 bytes')
    if (!(value instanceof Uint8Array)) throw invalidArgument(`metadata ${name} must be a Uint8Array`)
    names.push(n)
    size += 6 + n.length + value.length
  }
  const buf = Buffer.allocUnsafe(size)
  buf.writeUInt32LE(RECORD_MAGIC, 0)
  buf.writeUInt32LE(size - HEADER_BYTES, 4)
  buf.writeDoubleLE(seq, 8)
  buf.writeDoubleLE(0, 16)
  buf.writeUInt32LE(0, 24)
  buf.writeUInt32LE(0, 28)
  let p = HEADER_BYTES
  buf.writeUInt32LE(entries.length, p)
  buf.writeUInt32LE(meta.length, p + 4)
  p += 8
  for (const e of entries) {
    buf.writeDoubleLE(e.key, p)
    if (e.value === null) {
      buf.writeInt32LE(DELETE_LENGTH, p + 8)
      p += 12
    } else {
      buf.writeInt32LE(e.value.length, p + 8)
      buf.set(e.value, p + 12)
      p += 12 + e.value.length
    }
  }
  for (let i = 0; i < meta.length; i++) {
    const name = names[i]!
    const value = meta[i]![1]
    buf.writeUInt16LE(name.length, p)
    buf.set(name, p + 2)
    p += 2 + name.length
    buf.writeUInt32LE(value.length, p)
    buf.set(value, p + 4)
    p += 4 + value.length
  }
  return { bytes: buf, payloadCrc: crc32(buf.subarray(HEADER_BYTES)), entryCount: entries.length }
}

/** Stamps the group start and the final checksum into an encoded record. */
export function sealRecord (record: EncodedRecord, groupStart: number): void {
  const buf = record.bytes
  buf.writeDoubleLE(groupStart, 16)
  buf.writeUInt32LE(crc32(buf.subarray(4, 24), record.payloadCrc), 24)
}

export interface RecordHeader {
  payloadLength: number
  seq: number
  groupStart: number
}

/**
 * Checks the record at `off` of `buf` (which must hold the whole record).
 * Returns false on a bad magic or checksum.
 */
export function verifyRecord (buf: Uint8Array, off: number, header: RecordHeader): boolean {
  const dv = new DataView(buf.buffer, buf.byteOffset + off, HEADER_BYTES)
  const stored = dv.getUint32(24, true)
  const crc = crc32(buf.subarray(off + 4, off + 24), crc32(buf.subarray(off + HEADER_BYTES, off + HEADER_BYTES + header.payloadLength)))
  return crc === stored
}

/** Reads the header fields at `off`; null when the magic is wrong. */
export function readHeader (buf: Uint8Array, off: number): RecordHeader | null {
  const dv = new DataView(buf.buffer, buf.byteOffset + off, HEADER_BYTES)
  if (dv.getUint32(0, true) !== RECORD_MAGIC) return null
  return { payloadLength: dv.getUint32(4, true), seq: dv.getFloat64(8, true), groupStart: dv.getFloat64(16, true) }
}

export interface BatchVisitor {
  /** A put of payload[offset, offset + length), or a delete when length is DELETE_LENGTH. */
  entry (key: number, payload: Uint8Array, offset: number, length: number): void
  meta (name: string, value: Uint8Array): void
}

const utf8Decoder = new TextDecoder('utf-8', { fatal: true })

/**
 * Walks a verified payload. Returns false if its structure is inconsistent (which a
 * passing checksum makes a bug or a deliberate forgery, never a torn write).
 */
export function visitPayload (payload: Uint8Array, visitor: BatchVisitor): boolean {
  const dv = new DataView(payload.buffer, payload.byteOffset, payload.byteLength)
  const end = payload.byteLength
  if (end < 8) return false
  const entryCount = dv.getUint32(0, true)
  const metaCount = dv.getUint32(4, true)
  let p = 8
  for (let i = 0; i < entryCount; i++) {
    if (p + 12 > end) return false
    const key = dv.getFloat64(p, true)
    const len = dv.getInt32(p + 8, true)
    p += 12
    if (len === DELETE_LENGTH) {
      visitor.entry(key, payload, p, DELETE_LENGTH)
    } else {
      if (len < 0 || p + len > end) return false
      visitor.entry(key, payload, p, len)
      p += len
    }
  }
  for (let i = 0; i < metaCount; i++) {
    if (p + 2 > end) return false
    const nameLen = dv.getUint16(p, true)
    if (p + 2 + nameLen + 4 > end) return false
    const name = utf8Decoder.decode(payload.subarray(p + 2, p + 2 + nameLen))
    p += 2 + nameLen
    const len = dv.getUint32(p, true)
    if (p + 4 + len > end) return false
    visitor.meta(name, payload.subarray(p + 4, p + 4 + len))
    p += 4 + len
  }
  return p === end
}

/** Number of entries in a verified payload (to reserve room before applying it). */
export function payloadEntryCount (payload: Uint8Array): number {
  return new DataView(payload.buffer, payload.byteOffset, 4).getUint32(0, true)
}
