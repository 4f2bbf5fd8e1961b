/**
 * Temporary directories for tests and the helpers they share: made under the
 * run's TMPDIR and removed after the test file that made them
 * (test/setup/after-each-file.ts), or when the process ends. (The chip test
 * PKI, shared with the benchmarks, keeps its own: chip-test-pki/src/work-dirs.ts.)
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const made: string[] = []
process.once('exit', removeTempDirs)

/** A new empty directory, removed after the current test file. */
export function tempDir (prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `${prefix}-`))
  made.push(dir)
  return dir
}

export function removeTempDirs (): void {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true })
}
