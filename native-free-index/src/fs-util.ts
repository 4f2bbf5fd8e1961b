/**
 * Small synchronous and promise wrappers over node:fs for whole-range I/O.
 *
 * fs.read/fs.write may transfer fewer bytes than asked and cap one call near
 * 2 GiB, so every helper loops until the range is done.
 */
import fs from 'node:fs'
import { promisify } from 'node:util'

const write = promisify(fs.write)
const fdatasync = promisify(fs.fdatasync)

/** Largest single read or write: well under the 2 GiB per-call cap. */
const IO_STEP = 1 << 30

export async function writeFully (fd: number, data: Uint8Array, position: number): Promise<void> {
  let off = 0
  while (off < data.length) {
    const n = Math.min(IO_STEP, data.length - off)
    const { bytesWritten } = await write(fd, data, off, n, position + off)
    off += bytesWritten
  }
}

export async function syncData (fd: number): Promise<void> {
  await fdatasync(fd)
}

/** Reads exactly data.length bytes at position; returns false if the file ends first. */
export function readFullySync (fd: number, data: Uint8Array, position: number): boolean {
  let off = 0
  while (off < data.length) {
    const n = fs.readSync(fd, data, off, Math.min(IO_STEP, data.length - off), position + off)
    if (n === 0) return false
    off += n
  }
  return true
}

/**
 * fsyncs a directory so that a create, rename or unlink inside it is durable
 * (POSIX leaves the directory entry in the page cache until then).
 */
export function syncDirectory (dir: string): void {
  const fd = fs.openSync(dir, 'r')
  try {
    fs.fsyncSync(fd)
  } catch (err) {
    // Some platforms (Windows) cannot fsync a directory; Linux and macOS can.
    if ((err as NodeJS.ErrnoException).code !== 'EISDIR' && (err as NodeJS.ErrnoException).code !== 'EPERM') throw err
  } finally {
    fs.closeSync(fd)
  }
}
