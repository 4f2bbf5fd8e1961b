/**
 * The PKI's work directories (trust store, CRL): made under the process's
 * TMPDIR and removed by removeTestPkiDirs, which the test setup calls after
 * every test file (test/setup/after-each-file.ts: test processes are reused,
 * so they never see 'exit'), or when the process ends (a benchmark).
 *
 * Its own list rather than the tests' temp helper (test/helpers/temp.ts)
 * because benches use the PKI too and must not depend on test code.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const made: string[] = []
process.once('exit', removeTestPkiDirs)

/** A new empty directory, removed by the next removeTestPkiDirs (or at exit). */
export function makeWorkDir (prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `${prefix}-`))
  made.push(dir)
  return dir
}

/** Removes every work directory made so far. */
export function removeTestPkiDirs (): void {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true })
}
