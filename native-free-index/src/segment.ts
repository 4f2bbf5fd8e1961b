/**
 * Segment files: the compacted, immutable image of the base index.
 *
 * The file layout equals the in-memory layout, so opening is a few large reads
 * straight into SharedArrayBuffers (no parsing, no per-record work besides the
 * checks). All integers are little-endian; sections start at 8-byte boundaries.
 *
 *   offset size  header field (128 bytes)
 *   0      8     magic "NFISEG01"
 *   8      4     format version (1)
 *   12     4     header length (128)
 *   16     8     record count (f64)
 *   24     8     last batch sequence number included (f64)
 *   32     8     uniform value length, or -1 when lengths differ (f64)
 *   40     8     total value bytes (f64)
 *   48     8     keys section offset        56  8  offsets section offset (0 = none)
 *   64     8     values section offset      72  8  meta section offset
 *   80     8     meta section length        88  8  file length
 *   96     4     crc32 of keys   100 4 crc32 of offsets   104 4 crc32 of values   108 4 crc32 of meta
 *   112    12    reserved, 0
 *   124    4     crc32 of header bytes 0..124
 *
 *   keys:    count f64, strictly ascending
 *   offsets: count + 1 u32, low 32 bits of each value's start (only when lengths differ)
 *   values:  all values back to back, in key order
 *   meta:    u32 count, then per entry u16 name length, UTF-8 name, u32 length, bytes
 *
 * A segment is written to seg-N.tmp, fsync'd, renamed to seg-N.nfi and the
 * directory fsync'd, so a segment file is either complete or absent. Any failed
 * check on open throws NFI_ERR_SEGMENT_CORRUPT: a damaged segment is never served.
 */
import fs from 'node:fs'
import { crc32 } from './crc.js'
import { NativeFreeIndexError, ERROR_CODES } from './errors.js'
import { allocateContiguous } from './arena.js'
import { buildDirectory, findWraps } from './base-index.js'
import type { BaseState } from './base-index.js'
import { KEY_LIMIT } from './keys.js'
import { readFullySync, syncData, syncDirectory, writeFully } from './fs-util.js'

const MAGIC = Buffer.from('NFISEG01', 'latin1')
const VERSION = 1
const HEADER = 128

export interface SegmentContents {
  readonly base: BaseState
  readonly meta: Array<[string, Uint8Array]>
  readonly lastSeq: number
  readonly fileBytes: number
}

const align8 = (n: number): number => Math.ceil(n / 8) * 8

function encodeMeta (meta: ReadonlyArray<readonly [string, Uint8Array]>): Buffer {
  const parts: Buffer[] = []
  const count = Buffer.alloc(4)
  count.writeUInt32LE(meta.length)
  parts.push(count)
  for (const [name, value] of meta) {
    const n = Buffer.from(name, 'utf8')
    const head = Buffer.alloc(2 + n.length + 4)
    head.writeUInt16LE(n.length, 0)
    n.copy(head, 2)
    head.writeUInt32LE(value.length, 2 + n.length)
    parts.push(head, Buffer.from(value.buffer, value.byteOffset, value.byteLength))
  }
  return Buffer.concat(parts)
}

function decodeMeta (buf: Buffer): Array<[string, Uint8Array]> | null {
  if (buf.length < 4) return null
  const out: Array<[string, Uint8Array]> = []
  const count = buf.readUInt32LE(0)
  let p = 4
  for (let i = 0; i < count; i++) {
    if (p + 2 > buf.length) return null
    const nl = buf.readUInt16LE(p)
    if (p + 2 + nl + 4 > buf.length) return null
    const name = buf.toString('utf8', p + 2, p + 2 + nl)
    const vl = buf.readUInt32LE(p + 2 + nl)
    p += 6 + nl
    if (p + vl > buf.length) return null
    out.push([name, new Uint8Array(buf.subarray(p, p + vl))])
    p += vl
  }
  return p === buf.length ? out : null
}

/** The value section's bytes as views over the chunks, in order. */
function valueParts (base: BaseState): Uint8Array[] {
  const parts: Uint8Array[] = []
  let left = base.valuesBytes
  for (const sab of base.chunks) {
    const n = Math.min(left, sab.byteLength)
    parts.push(new Uint8Array(sab, 0, n))
    left -= n
  }
  return parts
}

export function segmentName (gen: number): string {
  return `seg-${String(gen).padStart(12, '0')}.nfi`
}

/** Writes the segment for generation gen into dir atomically; returns its size. */
export async function writeSegment (
  dir: string,
  gen: number,
  base: BaseState,
  meta: ReadonlyArray<readonly [string, Uint8Array]>,
  lastSeq: number
): Promise<number> {
  const keys = new Uint8Array(base.keys, 0, base.count * 8)
  const offsets = base.offsets === null ? null : new Uint8Array(base.offsets, 0, (base.count + 1) * 4)
  const values = valueParts(base)
  const metaBytes = encodeMeta(meta)
  const keysOffset = HEADER
  const offsetsOffset = offsets === null ? 0 : align8(keysOffset + keys.length)
  const valuesOffset = align8((offsets === null ? keysOffset + keys.length : offsetsOffset + offsets.length))
  const metaOffset = align8(valuesOffset + base.valuesBytes)
  const fileLength = metaOffset + metaBytes.length
  let valuesCrc = 0
  for (const part of values) valuesCrc = crc32(part, valuesCrc)

  const header = Buffer.alloc(HEADER)
  MAGIC.copy(header, 0)
  header.writeUInt32LE(VERSION, 8)
  header.writeUInt32LE(HEADER, 12)
  header.writeDoubleLE(base.count, 16)
  header.writeDoubleLE(lastSeq, 24)
  header.writeDoubleLE(base.valueLength, 32)
  header.writeDoubleLE(base.valuesBytes, 40)
  header.writeDoubleLE(keysOffset, 48)
  header.writeDoubleLE(offsetsOffset, 56)
  header.writeDoubleLE(valuesOffset, 64)
  header.writeDoubleLE(metaOffset, 72)
  header.writeDoubleLE(metaBytes.length, 80)
  header.writeDoubleLE(fileLength, 88)
  header.writeUInt32LE(crc32(keys), 96)
  header.writeUInt32LE(offsets === null ? 0 : crc32(offsets), 100)
  header.writeUInt32LE(valuesCrc, 104)
  header.writeUInt32LE(crc32(metaBytes), 108)
  header.writeUInt32LE(crc32(header.subarray(0, 124)), 124)

  const finalPath = `${dir}/${segmentName(gen)}`
  const tmpPath = `${dir}/seg-${String(gen).padStart(12, '0')}.tmp`
  const fd = fs.openSync(tmpPath, 'w')
  try {
    await writeFully(fd, header, 0)
    await writeFully(fd, keys, keysOffset)
    if (offsets !== null) await writeFully(fd, offsets, offsetsOffset)
    let p = valuesOffset
    for (const part of values) {
      await writeFully(fd, part, p)
      p += part.length
    }
    await writeFully(fd, metaBytes, metaOffset)
    await syncData(fd)
  } finally {
    fs.closeSync(fd)
  }
  fs.renameSync(tmpPath, finalPath)
  syncDirectory(dir)
  return fileLength
}

function corrupt (path: string, detail: string): NativeFreeIndexError {
  return new NativeFreeIndexError(ERROR_CODES.SEGMENT_CORRUPT, `segment ${path} is corrupt: ${detail}`)
}

/** Loads and verifies a segment into SharedArrayBuffers. */
export function readSegment (path: string, chunkBits: number): SegmentContents {
  const fd = fs.openSync(path, 'r')
  try {
    const size = fs.fstatSync(fd).size
    const header = Buffer.alloc(HEADER)
    if (!readFullySync(fd, header, 0)) throw corrupt(path, 'shorter than its header')
    if (!header.subarray(0, 8).equals(MAGIC)) throw corrupt(path, 'bad magic')
    if (crc32(header.subarray(0, 124)) !== header.readUInt32LE(124)) throw corrupt(path, 'header checksum mismatch')
    if (header.readUInt32LE(8) !== VERSION) throw corrupt(path, `unsupported format version ${header.readUInt32LE(8)}`)
    const count = header.readDoubleLE(16)
    const lastSeq = header.readDoubleLE(24)
    const valueLength = header.readDoubleLE(32)
    const valuesBytes = header.readDoubleLE(40)
    const keysOffset = header.readDoubleLE(48)
    const offsetsOffset = header.readDoubleLE(56)
    const valuesOffset = header.readDoubleLE(64)
    const metaOffset = header.readDoubleLE(72)
    const metaLength = header.readDoubleLE(80)
    const fileLength = header.readDoubleLE(88)
    if (fileLength !== size) throw corrupt(path, `length ${size} differs from the recorded ${fileLength}`)
    const variable = valueLength < 0
    if (!Number.isInteger(count) || count < 0 || keysOffset + count * 8 > size ||
        (variable && (offsetsOffset === 0 || offsetsOffset + (count + 1) * 4 > size)) ||
        (!variable && valueLength * count !== valuesBytes) ||
        valuesOffset + valuesBytes > size || metaOffset + metaLength !== size) {
      throw corrupt(path, 'inconsistent section table')
    }

    const keysSab = new SharedArrayBuffer(count * 8)
    const keyBytes = new Uint8Array(keysSab)
    readFullySync(fd, keyBytes, keysOffset)
    if (crc32(keyBytes) !== header.readUInt32LE(96)) throw corrupt(path, 'keys checksum mismatch')
    const keys = new Float64Array(keysSab)
    let prev = -1
    for (let i = 0; i < count; i++) {
      const k = keys[i]!
      if (!(k > prev) || k >= KEY_LIMIT || !Number.isInteger(k)) throw corrupt(path, `keys out of order at index ${i}`)
      prev = k
    }

    let offsetsSab: SharedArrayBuffer | null = null
    let wraps: number[] = []
    if (variable) {
      offsetsSab = new SharedArrayBuffer((count + 1) * 4)
      const bytes = new Uint8Array(offsetsSab)
      readFullySync(fd, bytes, offsetsOffset)
      if (crc32(bytes) !== header.readUInt32LE(100)) throw corrupt(path, 'offsets checksum mismatch')
      wraps = findWraps(new Uint32Array(offsetsSab))
    }

    const chunks = allocateContiguous(valuesBytes, chunkBits)
    let valuesCrc = 0
    let p = valuesOffset
    for (const sab of chunks) {
      const bytes = new Uint8Array(sab)
      readFullySync(fd, bytes, p)
      valuesCrc = crc32(bytes, valuesCrc)
      p += bytes.length
    }
    if (valuesCrc !== header.readUInt32LE(104)) throw corrupt(path, 'values checksum mismatch')

    const metaBuf = Buffer.alloc(metaLength)
    readFullySync(fd, metaBuf, metaOffset)
    if (crc32(metaBuf) !== header.readUInt32LE(108)) throw corrupt(path, 'metadata checksum mismatch')
    const meta = decodeMeta(metaBuf)
    if (meta === null) throw corrupt(path, 'malformed metadata')

    const base: BaseState = {
      count,
      keys: keysSab,
      offsets: offsetsSab,
      wraps,
      valueLength,
      valuesBytes,
      chunks,
      ...buildDirectory(keys)
    }
    return { base, meta, lastSeq, fileBytes: size }
  } finally {
    fs.closeSync(fd)
  }
}
