/**
 * The directory's write lock: a LOCK file created with O_EXCL holding the owner's pid.
 *
 * O_EXCL makes creation atomic, so two writers cannot both succeed. A lock left by
 * a process that died (kill -9, power loss) is stale: if its pid is not alive we
 * remove it and retry once. (A recycled pid can make a stale lock look live; the
 * error message names the file so an operator can remove it.)
 */
import fs from 'node:fs'
import { join } from 'node:path'
import { NativeFreeIndexError, ERROR_CODES } from './errors.js'

function isAlive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

export class DirectoryLock {
  private constructor (readonly path: string, private held: boolean) {}

  static acquire (dir: string): DirectoryLock {
    const path = join(dir, 'LOCK')
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const fd = fs.openSync(path, 'wx')
        fs.writeSync(fd, `${process.pid}\n`)
        fs.closeSync(fd)
        return new DirectoryLock(path, true)
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
        let pid = NaN
        try { pid = Number.parseInt(fs.readFileSync(path, 'utf8'), 10) } catch { /* vanished or unreadable: retry */ }
        if (Number.isInteger(pid) && pid > 0 && isAlive(pid)) {
          throw new NativeFreeIndexError(ERROR_CODES.LOCKED, `${dir} is locked by process ${pid} (${path})`)
        }
        // Stale (owner dead) or half-written by a writer killed between create and write.
        try { fs.unlinkSync(path) } catch { /* another opener removed it first */ }
      }
    }
    throw new NativeFreeIndexError(ERROR_CODES.LOCKED, `${dir} is locked (${path}); another writer raced this open`)
  }

  release (): void {
    if (!this.held) return
    this.held = false
    try { fs.unlinkSync(this.path) } catch { /* already gone */ }
  }
}
