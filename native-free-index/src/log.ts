/**
 * The write-ahead log: appending durable groups of batch records, and scanning a
 * log file during recovery.
 *
 * Writing: a group (one or more batches queued while the previous fsync ran) is
 * written with positioned writes and made durable with ONE fdatasync; only then are
 * its batches applied in memory and acknowledged. The next group starts only after
 * that, so at a crash at most the last group can be incomplete.
 *
 * Recovery: records are read in 16 MiB windows. The first bad record (short, bad
 * magic, bad checksum) ends the valid prefix. In the newest log file it is a torn
 * tail, unless some valid record after it belongs to a later group (its group
 * start lies past the bad record): that group was written after the bad one had
 * been fsync'd and acknowledged, so the damage is corruption and is reported with
 * NFI_ERR_LOG_CORRUPT instead of silently dropping acknowledged batches.
 */
import fs from 'node:fs'
import { NativeFreeIndexError, ERROR_CODES } from './errors.js'
import { HEADER_BYTES, RECORD_MAGIC, readHeader, sealRecord, verifyRecord, visitPayload } from './log-format.js'
import type { BatchVisitor, EncodedRecord, RecordHeader } from './log-format.js'
import { readFullySync, syncData, writeFully } from './fs-util.js'

export class LogWriter {
  readonly path: string
  readonly gen: number
  /** Bytes durably written (the next group's start offset). */
  size: number
  private fd: number

  constructor (path: string, gen: number, fd: number, size: number) {
    this.path = path
    this.gen = gen
    this.fd = fd
    this.size = size
  }

  /** Creates a new, empty log; the caller fsyncs the directory. */
  static create (path: string, gen: number): LogWriter {
    return new LogWriter(path, gen, fs.openSync(path, 'wx'), 0)
  }

  /** Reopens a recovered log for appending at `size`, truncating any torn tail. */
  static reopen (path: string, gen: number, size: number): LogWriter {
    const fd = fs.openSync(path, 'r+')
    if (fs.fstatSync(fd).size !== size) {
      fs.ftruncateSync(fd, size)
      fs.fsyncSync(fd)
    }
    return new LogWriter(path, gen, fd, size)
  }

  /** Writes one group of records and fdatasyncs once. */
  async append (records: readonly EncodedRecord[]): Promise<void> {
    const groupStart = this.size
    let total = 0
    for (const r of records) {
      sealRecord(r, groupStart)
      total += r.bytes.length
    }
    const data = records.length === 1 ? records[0]!.bytes : Buffer.concat(records.map((r) => r.bytes), total)
    await writeFully(this.fd, data, groupStart)
    await syncData(this.fd)
    this.size = groupStart + total
  }

  close (): void {
    if (this.fd >= 0) {
      fs.closeSync(this.fd)
      this.fd = -1
    }
  }
}

export interface ScanOptions {
  /** Sequence number the first record must carry. */
  readonly expectSeq: number
  /** Only the newest log may end in a torn tail. */
  readonly isLast: boolean
  /** Called per valid record; the payload is only valid during the call. */
  readonly onRecord: (seq: number, payload: Uint8Array, visit: (visitor: BatchVisitor) => void) => void
}

export interface ScanResult {
  /** End of the valid prefix. */
  readonly validEnd: number
  readonly fileSize: number
  /** Sequence number of the last valid record (expectSeq - 1 when none). */
  readonly lastSeq: number
}

const WINDOW = 16 << 20
const MAGIC_BYTES = Buffer.from([RECORD_MAGIC & 0xff, (RECORD_MAGIC >>> 8) & 0xff, (RECORD_MAGIC >>> 16) & 0xff, RECORD_MAGIC >>> 24])

function logCorrupt (path: string, detail: string): NativeFreeIndexError {
  return new NativeFreeIndexError(ERROR_CODES.LOG_CORRUPT, `log ${path} is corrupt: ${detail}`)
}

/** A read window over a file: ensure(pos, n) makes [pos, pos + n) addressable in buf. */
class Window {
  buf: Buffer = Buffer.allocUnsafe(0)
  start = 0
  length = 0
  constructor (private readonly fd: number, private readonly size: number) {}

  ensure (pos: number, n: number): void {
    if (pos >= this.start && pos + n <= this.start + this.length) return
    const want = Math.max(n, Math.min(WINDOW, this.size - pos))
    if (this.buf.length < want) this.buf = Buffer.allocUnsafe(Math.max(want, Math.min(WINDOW, this.size)))
    const len = Math.min(this.buf.length, this.size - pos)
    if (!readFullySync(this.fd, this.buf.subarray(0, len), pos)) throw new Error('log file shrank while being read')
    this.start = pos
    this.length = len
  }
}

/** Header of the valid record at pos, or null if there is none there. */
function tryRecord (w: Window, pos: number, size: number): RecordHeader | null {
  if (size - pos < HEADER_BYTES) return null
  w.ensure(pos, HEADER_BYTES)
  const header = readHeader(w.buf, pos - w.start)
  if (header === null || pos + HEADER_BYTES + header.payloadLength > size) return null
  w.ensure(pos, HEADER_BYTES + header.payloadLength)
  return verifyRecord(w.buf, pos - w.start, header) ? header : null
}

/** True when a valid record of a group that starts after `bad` follows it. */
function laterGroupFollows (w: Window, bad: number, size: number): boolean {
  let from = bad + 1
  while (from + HEADER_BYTES <= size) {
    w.ensure(from, Math.min(WINDOW, size - from))
    const idx = w.buf.subarray(0, w.length).indexOf(MAGIC_BYTES, from - w.start)
    if (idx < 0) {
      if (w.start + w.length >= size) return false
      from = w.start + w.length - 3
      continue
    }
    const candidate = w.start + idx
    const header = tryRecord(w, candidate, size)
    if (header !== null && header.groupStart > bad) return true
    from = candidate + 1
  }
  return false
}

export function scanLog (path: string, options: ScanOptions): ScanResult {
  const fd = fs.openSync(path, 'r')
  try {
    const size = fs.fstatSync(fd).size
    const w = new Window(fd, size)
    let pos = 0
    let seq = options.expectSeq
    while (pos < size) {
      const header = tryRecord(w, pos, size)
      if (header === null) {
        if (!options.isLast) throw logCorrupt(path, `bad record at offset ${pos} in a log that is not the newest`)
        if (laterGroupFollows(w, pos, size)) throw logCorrupt(path, `bad record at offset ${pos} followed by later acknowledged records`)
        return { validEnd: pos, fileSize: size, lastSeq: seq - 1 }
      }
      if (header.seq !== seq) throw logCorrupt(path, `record at offset ${pos} has sequence ${header.seq}, expected ${seq}`)
      w.ensure(pos, HEADER_BYTES + header.payloadLength)
      const p0 = pos - w.start + HEADER_BYTES
      const payload = w.buf.subarray(p0, p0 + header.payloadLength)
      options.onRecord(seq, payload, (visitor) => {
        if (!visitPayload(payload, visitor)) throw logCorrupt(path, `record at offset ${pos} has a malformed payload`)
      })
      pos += HEADER_BYTES + header.payloadLength
      seq++
    }
    return { validEnd: pos, fileSize: size, lastSeq: seq - 1 }
  } finally {
    fs.closeSync(fd)
  }
}
