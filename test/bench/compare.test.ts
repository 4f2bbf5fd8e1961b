/**
 * `npm run bench -- … --compare FILE`: the change of the main figures against
 * an earlier result, on fixed results (no run).
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { tempDir } from '../helpers/temp.js'
import { describe, expect, it, vi } from 'vitest'
import { compareResults, formatComparison, type ComparableResult } from '../../bench/src/lib/compare.js'
import { runBenchCli } from '../../bench/src/run.js'

const before: ComparableResult = {
  scenario: 'portal-verify',
  git: 'aaaaaaa',
  finishedAt: '2026-11-20T10:00:00.000Z',
  load: { connections: 100, rate: 5000, durationSeconds: 30, citizens: 1_000_000, threadsPerServer: 2 },
  throughputRps: 5000,
  errorRatio: 0,
  serverCpuUsPerAnswer: 100,
  latencyMs: { p50: 1.5, p90: 2, p99: 6, p999: 18, max: 20, mean: 1.6 },
  requests: { sent: 150_000, errors: 0, timeouts: 0, non2xx: 0, wrongAnswer: 0 },
  capacity: { service: { throughputRps: 16_000 } },
  ratios: { throughputBasis: 'closed-loop', throughput: 0.5, p99: 1.2, throughputVsFastify: 1.6, p99VsFastify: 1 }
}

const after: ComparableResult = {
  ...before,
  git: 'bbbbbbb',
  finishedAt: '2026-11-21T10:00:00.000Z',
  load: { ...before.load, durationSeconds: 10 },
  throughputRps: 5001,
  serverCpuUsPerAnswer: 80,
  latencyMs: { p50: 1.2, p90: 2, p99: 4.5, p999: 20, max: 20, mean: 1.4 },
  requests: { sent: 50_000, errors: 2, timeouts: 1, non2xx: 0, wrongAnswer: 0 },
  errorRatio: 0.00006,
  capacity: { service: { throughputRps: 20_000 } },
  ratios: { throughputBasis: 'closed-loop', throughput: 0.625, p99: 0.9, throughputVsFastify: 2, p99VsFastify: 0.8 }
}

describe('--compare', () => {
  it('gives each main figure before, after, the change and whether it went the better way', () => {
    const c = compareResults(before, after, 'old.json')
    expect(c.before).toEqual({ file: 'old.json', git: 'aaaaaaa', finishedAt: '2026-11-20T10:00:00.000Z' })
    expect(c.differences).toEqual(['durationSeconds: 30 → 10'])
    const row = (figure: string) => c.rows.find((r) => r.figure === figure)
    expect(row('throughput req/s')).toEqual({ figure: 'throughput req/s', before: 5000, after: 5001, change: 0.0002, verdict: 'same' })
    expect(row('closed-loop req/s')).toEqual({ figure: 'closed-loop req/s', before: 16_000, after: 20_000, change: 0.25, verdict: 'better' })
    expect(row('p50 ms')).toMatchObject({ before: 1.5, after: 1.2, change: -0.2, verdict: 'better' })
    expect(row('p99 ms')).toMatchObject({ before: 6, after: 4.5, change: -0.25, verdict: 'better' })
    expect(row('p99.9 ms')).toMatchObject({ before: 18, after: 20, change: 0.1111, verdict: 'worse' })
    // From zero errors: no percentage, but worse.
    expect(row('error ratio')).toMatchObject({ before: 0, after: 0.00006, change: null, verdict: 'worse' })
    expect(row('errors + timeouts')).toMatchObject({ before: 0, after: 3, verdict: 'worse' })
    expect(row('server CPU µs/answer')).toMatchObject({ change: -0.2, verdict: 'better' })
    expect(row('÷ hello-world throughput')).toMatchObject({ before: 0.5, after: 0.625, change: 0.25, verdict: 'better' })
    expect(row('÷ Fastify throughput')).toMatchObject({ before: 1.6, after: 2, change: 0.25, verdict: 'better' })
    expect(row('÷ hello-world p99')).toMatchObject({ verdict: 'better' })
    // Figures neither run has are left out; one only one run has shows as missing.
    expect(row('÷ raw loop records/s')).toBeUndefined()
    expect(row('verified records/s')).toBeUndefined()
    const withRecords = compareResults(before, { ...after, recordsPerSecond: 5001 }, 'old.json')
    expect(withRecords.rows.find((r) => r.figure === 'verified records/s')).toEqual({ figure: 'verified records/s', before: null, after: 5001, change: null, verdict: null })
  })

  it('names a different scenario, traffic shape or ratio basis', () => {
    const other = compareResults(before, { ...after, scenario: 'mixed', load: { ...before.load, rate: 2000, threadsPerServer: 1 }, ratios: { ...after.ratios, throughputBasis: 'as-run' } }, 'x.json')
    expect(other.differences).toEqual(['scenario: portal-verify → mixed', 'rate: 5000 → 2000', 'threadsPerServer: 2 → 1', 'throughput ratios basis: closed-loop → as-run'])
  })

  it('prints one aligned line per figure with the change in percent', () => {
    const text = formatComparison(compareResults(before, after, 'old.json'), 'bbbbbbb')
    const lines = text.split('\n')
    expect(lines[0]).toBe('compared with old.json (aaaaaaa, 2026-11-20T10:00:00.000Z) → bbbbbbb:')
    expect(lines[1]).toBe('  differs: durationSeconds: 30 → 10')
    expect(lines.slice(2)).toEqual([
      '  figure                    before    after  change',
      '  throughput req/s           5,000    5,001  +0.0%',
      '  closed-loop req/s         16,000   20,000  +25.0% better',
      '  p50 ms                       1.5      1.2  -20.0% better',
      '  p99 ms                         6      4.5  -25.0% better',
      '  p99.9 ms                      18       20  +11.1% worse',
      '  max ms                        20       20  +0.0%',
      '  error ratio                    0  0.00006  worse',
      '  errors + timeouts              0        3  worse',
      '  server CPU µs/answer         100       80  -20.0% better',
      '  ÷ hello-world throughput     0.5    0.625  +25.0% better',
      '  ÷ Fastify throughput         1.6        2  +25.0% better',
      '  ÷ hello-world p99            1.2      0.9  -25.0% better',
      '  ÷ Fastify p99                  1      0.8  -20.0% better'
    ])
    // Every figure line has the same column layout.
    const header = lines[2]!
    expect(header).toMatch(/^ {2}figure +before +after +change$/)
  })
})

describe('npm run bench -- --compare EARLIER.json LATER.json', () => {
  const dir = tempDir('idv-compare')
  const a = join(dir, 'a.json')
  const b = join(dir, 'b.json')
  writeFileSync(a, JSON.stringify(before))
  writeFileSync(b, JSON.stringify(after))

  it('compares two results without running anything', async () => {
    const out = vi.spyOn(console, 'log').mockImplementation(() => {})
    try {
      expect(await runBenchCli([b, '--compare', a])).toBe(0)
      expect(out.mock.calls[0]![0]).toMatch(/^compared with .*a\.json \(aaaaaaa, .*\) → .*b\.json \(bbbbbbb, .*\):\n/)
      expect(out.mock.calls[0]![0]).toMatch(/÷ Fastify throughput +1\.6 +2 +\+25\.0% better/)
    } finally {
      out.mockRestore()
    }
  })

  it('refuses a file that is not a result (exit status 2)', async () => {
    const bad = join(dir, 'bad.json')
    writeFileSync(bad, '{"hello": 1}')
    const err = vi.spyOn(console, 'error').mockImplementation(() => {})
    try {
      expect(await runBenchCli(['portal-verify', '--compare', bad])).toBe(2)
      expect(await runBenchCli(['portal-verify', '--compare', join(dir, 'missing.json')])).toBe(2)
      expect(err.mock.calls.map((c) => String(c[0])).join('\n')).toMatch(/not a result of npm run bench/)
    } finally {
      err.mockRestore()
    }
  })
})
