/**
 * Service-level objectives per scenario (bench/slo.json) and their verdict on
 * a measured result. A missed target is a violation with its reason; a
 * scenario without targets passes with `targets: null` (nothing was judged).
 * A ratio target whose baseline this run did not measure (`--baseline none`),
 * or measured but not comparably (`Measured.unjudged`), is listed in
 * `notJudged`: it neither passes nor fails the run.
 */
import { readFileSync } from 'node:fs'

export interface SloTarget {
  readonly p50Ms?: number
  readonly p99Ms?: number
  readonly p999Ms?: number
  /** (errors + timeouts + non-2xx + wrong answers) / requests. */
  readonly maxErrorRatio?: number
  /** Answered requests per second in the measured window. */
  readonly minThroughputRps?: number
  /** Connections the kernel saw established through the whole measured window (the fewest sampled in it). */
  readonly minConnections?: number
  /** Service ÷ uWS hello-world throughput, same load and thread count (closed loop for paced scenarios: see bench/README.md). */
  readonly minThroughputVsHello?: number
  /** Service ÷ Fastify-over-the-same-store throughput, same load and thread count. */
  readonly minThroughputVsFastify?: number
  /** Citizens' records verified per second (a 1,000-item batch verifies 1,000). */
  readonly minRecordsPerSecond?: number
  /** Service's verified records/s ÷ the raw loop's (store read plus keyed hashes, no HTTP, all cores). */
  readonly minRecordsVsRawLoop?: number
}

export interface SloFile { readonly scenarios: Readonly<Record<string, SloTarget>> }

export interface Measured {
  readonly latencyMs: { readonly p50: number, readonly p99: number, readonly p999: number }
  readonly errorRatio: number
  readonly throughputRps: number
  /** The fewest connections established at any sample of the measured window (what was held through it). */
  readonly connectionsHeld: number
  readonly recordsPerSecond?: number
  /** Ratios this run measured (absent: its baseline was not run). */
  readonly ratios?: { readonly [K in RatioName]?: number }
  /**
   * Ratios measured but not to be judged, each with the reason: e.g. a paced
   * run without its closed-loop phase (every server that keeps up answers the
   * offered rate, so the ratio is ~1), or a hello-world made to burn CPU.
   */
  readonly unjudged?: { readonly [K in RatioName]?: string }
}

export type RatioName = 'throughputVsHello' | 'throughputVsFastify' | 'recordsVsRawLoop'

export interface SloVerdict {
  readonly targets: SloTarget | null
  readonly pass: boolean
  readonly violations: string[]
  /** Targets this run could not judge (their baseline was not measured). */
  readonly notJudged: string[]
}

export function readSloFile (file: string): SloFile {
  const parsed = JSON.parse(readFileSync(file, 'utf8')) as Partial<SloFile>
  if (typeof parsed.scenarios !== 'object' || parsed.scenarios === null) throw new Error(`${file}: expected {"scenarios": {<name>: {p99Ms, …}}}`)
  return parsed as SloFile
}

export function evaluateSlo (targets: SloTarget | undefined, m: Measured): SloVerdict {
  if (targets === undefined) return { targets: null, pass: true, violations: [], notJudged: [] }
  const violations: string[] = []
  const atMost = (name: string, value: number, limit: number | undefined, unit: string): void => {
    if (limit !== undefined && !(value <= limit)) violations.push(`${name} ${show(value, unit)} > target ${show(limit, unit)}`)
  }
  const atLeast = (name: string, value: number, limit: number | undefined, unit: string): void => {
    if (limit !== undefined && !(value >= limit)) violations.push(`${name} ${show(value, unit)} < target ${show(limit, unit)}`)
  }
  atMost('p50', m.latencyMs.p50, targets.p50Ms, 'ms')
  atMost('p99', m.latencyMs.p99, targets.p99Ms, 'ms')
  atMost('p99.9', m.latencyMs.p999, targets.p999Ms, 'ms')
  atMost('error ratio', m.errorRatio, targets.maxErrorRatio, '')
  atLeast('throughput', m.throughputRps, targets.minThroughputRps, 'req/s')
  atLeast('connections held through the window', m.connectionsHeld, targets.minConnections, '')
  if (m.recordsPerSecond !== undefined) atLeast('verified records', m.recordsPerSecond, targets.minRecordsPerSecond, 'records/s')
  const notJudged: string[] = []
  const ratio = (name: string, key: RatioName, limit: number | undefined): void => {
    if (limit === undefined) return
    const value = m.ratios?.[key]
    const caveat = m.unjudged?.[key]
    if (value === undefined) notJudged.push(`${name} (target ≥ ${limit}): baseline not measured`)
    else if (caveat !== undefined) notJudged.push(`${name} (target ≥ ${limit}): ${caveat}`)
    else if (!(value >= limit)) violations.push(`${name} ${round3(value)} < target ${limit}`)
  }
  ratio('throughput vs hello-world', 'throughputVsHello', targets.minThroughputVsHello)
  ratio('throughput vs Fastify', 'throughputVsFastify', targets.minThroughputVsFastify)
  ratio('verified records vs raw loop', 'recordsVsRawLoop', targets.minRecordsVsRawLoop)
  return { targets, pass: violations.length === 0, violations, notJudged }
}

export const round3 = (x: number): number => Math.round(x * 1000) / 1000
/** A figure to 6 significant digits (an error ratio of 2,998 in 1.2M is 0.00249833, not 17 digits), then its unit. */
const show = (x: number, unit: string): string => `${Number(x.toPrecision(6))}${unit === '' ? '' : ` ${unit}`}`
