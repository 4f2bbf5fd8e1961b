/**
 * `--compare FILE`: the change of a result's main figures against an earlier
 * result JSON of the SLO suite (throughput, verified records, latency
 * percentiles, errors, server CPU per answer, and the ratios to the baselines
 * of each run). Ratios are the figures to trust across runs on a noisy
 * machine: each was measured beside its baseline in its own run. Differences
 * in what was run (scenario, traffic shape, threads, commit) are listed first,
 * because they change the figures as much as the code does.
 */
import { readFileSync } from 'node:fs'

/** The parts of a result JSON (bench/src/run.ts) that are compared; older results may lack some. */
export interface ComparableResult {
  readonly scenario?: string
  readonly git?: string
  readonly finishedAt?: string
  readonly load?: Readonly<Record<string, unknown>>
  readonly throughputRps?: number
  readonly recordsPerSecond?: number
  readonly errorRatio?: number
  readonly serverCpuUsPerAnswer?: number | null
  readonly latencyMs?: Readonly<Record<string, number>>
  readonly requests?: Readonly<Record<string, number>>
  readonly capacity?: Readonly<Record<string, { readonly throughputRps?: number }>> | null
  readonly ratios?: {
    readonly throughputBasis?: string
    readonly throughput?: number | null
    readonly throughputVsFastify?: number | null
    readonly recordsVsRawLoop?: number | null
    readonly p99?: number | null
    readonly p99VsFastify?: number | null
  } | null
}

export interface ComparisonRow {
  readonly figure: string
  readonly before: number | null
  readonly after: number | null
  /** after ÷ before − 1, null when either is missing or before is 0. */
  readonly change: number | null
  /** Which way is better for this figure, and whether the change went that way (|change| < 0.5%: same). */
  readonly verdict: 'better' | 'worse' | 'same' | null
}

export interface Comparison {
  readonly before: { readonly file: string, readonly git?: string, readonly finishedAt?: string }
  /** What differs between the two runs besides the code (scenario, traffic shape). */
  readonly differences: string[]
  readonly rows: ComparisonRow[]
}

type Direction = 'higher' | 'lower'
const FIGURES: ReadonlyArray<readonly [string, Direction, (r: ComparableResult) => number | null | undefined]> = [
  ['throughput req/s', 'higher', (r) => r.throughputRps],
  ['closed-loop req/s', 'higher', (r) => r.capacity?.service?.throughputRps],
  ['verified records/s', 'higher', (r) => r.recordsPerSecond],
  ['p50 ms', 'lower', (r) => r.latencyMs?.p50],
  ['p99 ms', 'lower', (r) => r.latencyMs?.p99],
  ['p99.9 ms', 'lower', (r) => r.latencyMs?.p999],
  ['max ms', 'lower', (r) => r.latencyMs?.max],
  ['error ratio', 'lower', (r) => r.errorRatio],
  ['errors + timeouts', 'lower', (r) => r.requests === undefined ? undefined : (r.requests.errors ?? 0) + (r.requests.timeouts ?? 0) + (r.requests.non2xx ?? 0) + (r.requests.wrongAnswer ?? 0)],
  ['server CPU µs/answer', 'lower', (r) => r.serverCpuUsPerAnswer],
  ['÷ hello-world throughput', 'higher', (r) => r.ratios?.throughput],
  ['÷ Fastify throughput', 'higher', (r) => r.ratios?.throughputVsFastify],
  ['÷ raw loop records/s', 'higher', (r) => r.ratios?.recordsVsRawLoop],
  ['÷ hello-world p99', 'lower', (r) => r.ratios?.p99],
  ['÷ Fastify p99', 'lower', (r) => r.ratios?.p99VsFastify]
]

const LOAD_KEYS = ['connections', 'rate', 'durationSeconds', 'warmupSeconds', 'citizens', 'servers', 'threadsPerServer', 'loadProcesses'] as const

export function readResult (file: string): ComparableResult {
  const parsed = JSON.parse(readFileSync(file, 'utf8')) as ComparableResult
  if (typeof parsed !== 'object' || parsed === null || typeof parsed.latencyMs !== 'object') throw new Error(`${file} is not a result of npm run bench (no latencyMs)`)
  return parsed
}

export function compareResults (before: ComparableResult, after: ComparableResult, beforeFile: string): Comparison {
  const differences: string[] = []
  if (before.scenario !== after.scenario) differences.push(`scenario: ${before.scenario ?? '?'} → ${after.scenario ?? '?'}`)
  for (const key of LOAD_KEYS) {
    const a = before.load?.[key]
    const b = after.load?.[key]
    if (a !== undefined && b !== undefined && a !== b) differences.push(`${key}: ${String(a)} → ${String(b)}`)
  }
  const basis = [before.ratios?.throughputBasis, after.ratios?.throughputBasis]
  if (basis[0] !== undefined && basis[1] !== undefined && basis[0] !== basis[1]) differences.push(`throughput ratios basis: ${basis[0]} → ${basis[1]}`)
  const rows: ComparisonRow[] = []
  for (const [figure, direction, get] of FIGURES) {
    const b = get(before) ?? null
    const a = get(after) ?? null
    if (b === null && a === null) continue
    const change = a === null || b === null || b === 0 ? null : a / b - 1
    let verdict: ComparisonRow['verdict'] = null
    if (a !== null && b !== null) {
      if (a === b || (change !== null && Math.abs(change) < 0.005)) verdict = 'same'
      else verdict = (a > b) === (direction === 'higher') ? 'better' : 'worse'
    }
    rows.push({ figure, before: b, after: a, change: change === null ? null : Math.round(change * 10_000) / 10_000, verdict })
  }
  return { before: { file: beforeFile, ...(before.git !== undefined ? { git: before.git } : {}), ...(before.finishedAt !== undefined ? { finishedAt: before.finishedAt } : {}) }, differences, rows }
}

/** The comparison as text lines: a header, the differences in what was run, then one aligned line per figure. */
export function formatComparison (c: Comparison, afterGit = 'this run'): string {
  const fmt = (v: number | null): string => v === null
    ? '–'
    : Number.isInteger(v) ? v.toLocaleString('en') : Math.abs(v) >= 1 ? String(Math.round(v * 1000) / 1000) : String(Number(v.toPrecision(3)))
  const lines = [`compared with ${c.before.file} (${c.before.git ?? '?'}, ${c.before.finishedAt ?? '?'}) → ${afterGit}:`]
  for (const d of c.differences) lines.push(`  differs: ${d}`)
  const width = Math.max(...c.rows.map((r) => r.figure.length))
  const cells = c.rows.map((r) => [fmt(r.before), fmt(r.after)] as const)
  const wb = Math.max(6, ...cells.map(([b]) => b.length))
  const wa = Math.max(5, ...cells.map(([, a]) => a.length))
  lines.push(`  ${'figure'.padEnd(width)}  ${'before'.padStart(wb)}  ${'after'.padStart(wa)}  change`)
  c.rows.forEach((r, i) => {
    const change = r.change === null ? '' : `${r.change >= 0 ? '+' : ''}${(r.change * 100).toFixed(1)}%`
    const verdict = r.verdict === null || r.verdict === 'same' ? '' : r.verdict
    lines.push(`  ${r.figure.padEnd(width)}  ${cells[i]![0].padStart(wb)}  ${cells[i]![1].padStart(wa)}  ${[change, verdict].filter((x) => x !== '').join(' ')}`.trimEnd())
  })
  return lines.join('\n')
}
