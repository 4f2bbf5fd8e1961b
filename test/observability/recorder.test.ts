/**
 * The hot-path recorder allocates nothing: millions of request recordings (a
 * latency, a status, a rejection, a verdict, attribute results, a chip reason)
 * in a child process run with --expose-gc cause no garbage collection at all,
 * where one small allocation per call causes dozens (checked by hand when this
 * test was written: a string per call gave 24 scavenges).
 */
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { packageRoot } from '../../src/paths.js'

describe('hot-path metrics recording', () => {
  it('causes no garbage collection over 3 million recordings', () => {
    const r = spawnSync(process.execPath, ['--expose-gc', join(packageRoot(), 'test', 'fixtures', 'metrics-alloc.mjs'), '3000000'], { encoding: 'utf8', timeout: 60_000 })
    expect(r.status, r.stderr).toBe(0)
    const out = JSON.parse(r.stdout) as { calls: number, gcs: number, heapGrowth: number }
    expect(out.calls).toBe(3_000_000)
    expect(out.gcs).toBe(0)
  })
})
