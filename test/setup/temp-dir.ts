/**
 * Every test removes what it creates: the run gets a temporary directory of
 * its own (TMPDIR, inherited by the test processes and what they spawn), and
 * when the run ends anything still in it fails the run, named, before the
 * directory is removed. So a leak shows up in the test that caused it rather
 * than as clutter in /tmp, and a failed run leaves nothing behind either.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export default function setup (): () => void {
  const previous = process.env.TMPDIR
  const dir = mkdtempSync(join(tmpdir(), 'idv-test-run-'))
  process.env.TMPDIR = dir
  return () => {
    const left = readdirSync(dir)
    rmSync(dir, { recursive: true, force: true })
    if (previous === undefined) delete process.env.TMPDIR
    else process.env.TMPDIR = previous
    if (left.length > 0) {
      // A throw here is printed but does not fail the run: set the exit status.
      console.error(`\nFAIL: tests left ${left.length} temporary entries behind (each test must remove what it creates): ${left.join(', ')}`)
      process.exitCode = 1
    }
  }
}
