/**
 * The log's entries in segment files, `<log>/segments/<first index, 16
 * digits>.log`, each a run of records `[length u32 BE][entry bytes]`. Only
 * the newest segment is written (appends, then fdatasync); older ones are
 * sealed and only read, and retention deletes them whole. A record's index is
 * its segment's first index plus its position, so nothing else is stored.
 *
 * A crash can leave a torn record at the end of the newest segment: it was
 * never made durable, so no answer waited on it, and opening cuts it off.
 */
import { closeSync, constants, fsyncSync, openSync, readdirSync, readSync, type PathLike } from 'node:fs'
import { mkdir, open, rm, type FileHandle } from 'node:fs/promises'
import { join } from 'node:path'

export const RECORD_HEADER = 4
const NAME = /^(\d{16})\.log$/

export function segmentName (start: number): string {
  return `${String(start).padStart(16, '0')}.log`
}

/** The first indexes of the segments in a directory, ascending. */
export function listSegments (dir: string): number[] {
  let names: string[]
  try {
    names = readdirSync(dir)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw err
  }
  const starts: number[] = []
  for (const n of names) {
    const m = NAME.exec(n)
    if (m !== null) starts.push(Number(m[1]))
  }
  return starts.sort((a, b) => a - b)
}

/** Frames entries as records, in one buffer; returns each record's offset from the buffer's start. */
export function frameRecords (entries: readonly Buffer[]): { bytes: Buffer, offsets: number[] } {
  let total = 0
  for (const e of entries) total += RECORD_HEADER + e.length
  const bytes = Buffer.allocUnsafe(total)
  const offsets: number[] = []
  let at = 0
  for (const e of entries) {
    offsets.push(at)
    bytes.writeUInt32BE(e.length, at)
    e.copy(bytes, at + RECORD_HEADER)
    at += RECORD_HEADER + e.length
  }
  return { bytes, offsets }
}

/** Calls `each` for every whole record of a segment's bytes from `from`; returns where the whole records end. */
export function scanRecords (bytes: Buffer, from: number, each?: (entry: Buffer, offset: number) => void): number {
  let at = from
  while (at + RECORD_HEADER <= bytes.length) {
    const len = bytes.readUInt32BE(at)
    if (at + RECORD_HEADER + len > bytes.length) break
    each?.(bytes.subarray(at + RECORD_HEADER, at + RECORD_HEADER + len), at)
    at += RECORD_HEADER + len
  }
  return at
}

/** Reads one entry's bytes; undefined when the file is gone (retention) or short. */
export function readRecord (path: PathLike, offset: number, length: number): Buffer | undefined {
  let fd: number
  try {
    fd = openSync(path, 'r')
  } catch {
    return undefined
  }
  try {
    const buf = Buffer.allocUnsafe(length)
    return readSync(fd, buf, 0, length, offset + RECORD_HEADER) === length ? buf : undefined
  } finally {
    closeSync(fd)
  }
}

/** The writer's handle on the newest segment. */
export class SegmentWriter {
  readonly dir: string
  #file: FileHandle | undefined
  /** First index of the open segment. */
  start = 0
  /** Bytes durable in it. */
  length = 0
  /** Entries in it. */
  count = 0

  /**
   * `durable`: the file is opened O_DSYNC, so a write returns once its data is
   * on disk: one system call (one trip to libuv's thread pool) where write and
   * fdatasync would take two.
   */
  readonly #durable: boolean

  constructor (dir: string, durable = true) {
    this.dir = dir
    this.#durable = durable
  }

  path (start = this.start): string {
    return join(this.dir, segmentName(start))
  }

  /** Opens the segment starting at `start` (creating it), durable length `length` (bytes past it are cut off). */
  async open (start: number, length: number, count: number): Promise<void> {
    await mkdir(this.dir, { recursive: true })
    await this.close() // the sealed segment is durable before the next one starts
    // Positional writes always land at the end here (the file is cut to `length` first).
    const file = await open(this.path(start), constants.O_RDWR | constants.O_CREAT | (this.#durable ? constants.O_DSYNC : 0), 0o644)
    try {
      const size = (await file.stat()).size
      if (size !== length) { await file.truncate(length); await file.datasync() }
    } catch (err) {
      await file.close()
      throw err
    }
    this.#file = file
    this.start = start
    this.length = length
    this.count = count
    syncDir(this.dir)
  }

  /**
   * Appends records (durable on return when the writer is `durable`); on
   * failure the segment is cut back to its length before them and the error
   * rethrown.
   */
  async append (bytes: Buffer, entries: number): Promise<void> {
    const file = this.#file
    if (file === undefined) throw new Error('the audit segment is not open')
    try {
      const { bytesWritten } = await file.write(bytes, 0, bytes.length, this.length)
      if (bytesWritten !== bytes.length) throw Object.assign(new Error(`short write: ${bytesWritten} of ${bytes.length} bytes`), { code: 'EIO' })
    } catch (err) {
      await file.truncate(this.length).catch(() => {})
      throw err
    }
    this.length += bytes.length
    this.count += entries
  }

  /** Whether `bytes` more could be written now (writes them as zeros, then cuts them off): the probe of a failed log. */
  async probe (bytes: number): Promise<void> {
    const file = this.#file
    if (file === undefined) throw new Error('the audit segment is not open')
    try {
      await file.write(Buffer.alloc(bytes), 0, bytes, this.length)
      await file.datasync()
    } finally {
      await file.truncate(this.length).catch(() => {})
    }
    await file.datasync()
  }

  /** Makes everything appended so far durable. */
  async sync (): Promise<void> {
    await this.#file?.datasync()
  }

  async close (): Promise<void> {
    await this.#file?.datasync()
    await this.#file?.close()
    this.#file = undefined
  }

  /** Deletes a sealed segment (retention). */
  async remove (start: number): Promise<void> {
    await rm(this.path(start), { force: true })
  }
}

/** A new file's name is durable only once its directory is synced. */
function syncDir (dir: string): void {
  const fd = openSync(dir, 'r')
  try {
    fsyncSync(fd)
  } catch { /* some file systems refuse fsync on directories; the name then depends on their own ordering */ } finally {
    closeSync(fd)
  }
}

