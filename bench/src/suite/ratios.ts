/**
 * The service against its baselines: throughput, p99 and CPU-per-answer
 * ratios (from the closed-loop phases when there are some), records per
 * second against the raw loop, and which ratios a run must not judge.
 */
import type { RawLoopResult } from '../lib/raw-loop.js'
import { round3, type RatioName } from '../lib/slo.js'
import type { PhaseFigures } from './phase-figures.js'
import type { PhaseLabel } from './phase-runner.js'

/**
 * Service ÷ baseline. Throughput ratios come from the closed-loop capacity
 * phase when there is one (`throughputBasis: 'closed-loop'`): at a paced rate
 * every server that keeps up answers the offered rate and the ratio is 1.
 * Otherwise (a closed-loop scenario, or `--capacity off`) from the run as
 * shaped (`'as-run'`). p99 ratios are always at the scenario's own load.
 */
export interface Ratios {
  readonly throughputBasis: 'closed-loop' | 'as-run'
  /** Service ÷ hello-world throughput. */
  readonly throughput: number | null
  /** Service ÷ hello-world p99 at the scenario's load. */
  readonly p99: number | null
  readonly throughputVsFastify: number | null
  readonly p99VsFastify: number | null
  /**
   * Baseline ÷ service server CPU per answer (same basis as throughput): how
   * many times less CPU the service spends per answer. Unlike throughput it
   * holds when the traffic generator or other work limits both servers.
   */
  readonly cpuPerAnswerVsHello: number | null
  readonly cpuPerAnswerVsFastify: number | null
  /** Service's verified records/s (same basis as throughput) ÷ the raw loop's on all cores. */
  readonly recordsVsRawLoop: number | null
}

type Figures = Pick<PhaseFigures, 'throughputRps' | 'latencyMs' | 'serverCpuUsPerAnswer' | 'recordsPerSecond'>

export function computeRatios (phases: Partial<Record<PhaseLabel, Figures>>, capacity: Partial<Record<PhaseLabel, Figures>> | null, raw: Pick<RawLoopResult, 'recordsPerSecond'> | null = null): Ratios | null {
  const service = phases.service
  if (service === undefined || (phases['hello-world'] === undefined && phases.fastify === undefined && raw === null)) return null
  const rates = capacity?.service !== undefined ? capacity : phases
  const throughputVs = (label: PhaseLabel): number | null => {
    const base = rates[label]
    return base === undefined ? null : round3(rates.service!.throughputRps / Math.max(1, base.throughputRps))
  }
  const p99Vs = (label: PhaseLabel): number | null => {
    const base = phases[label]
    return base === undefined ? null : round3(service.latencyMs.p99 / Math.max(0.001, base.latencyMs.p99))
  }
  const cpuVs = (label: PhaseLabel): number | null => {
    const base = rates[label]?.serverCpuUsPerAnswer
    const own = rates.service!.serverCpuUsPerAnswer
    return base == null || own == null || own === 0 ? null : round3(base / own)
  }
  return {
    throughputBasis: rates === phases ? 'as-run' : 'closed-loop',
    throughput: throughputVs('hello-world'),
    p99: p99Vs('hello-world'),
    throughputVsFastify: throughputVs('fastify'),
    p99VsFastify: p99Vs('fastify'),
    cpuPerAnswerVsHello: cpuVs('hello-world'),
    cpuPerAnswerVsFastify: cpuVs('fastify'),
    recordsVsRawLoop: raw === null ? null : round3(rates.service!.recordsPerSecond / Math.max(1, raw.recordsPerSecond))
  }
}


/** The throughput ratios this run measured but must not judge, with why. */
export function unjudgedRatios (pacedOnly: boolean, helloWorkUs: number): Partial<Record<RatioName, string>> {
  const paced = 'measured at a paced rate only (--capacity off), where every server that keeps up answers the offered rate'
  const out: Partial<Record<RatioName, string>> = pacedOnly ? { throughputVsHello: paced, throughputVsFastify: paced, recordsVsRawLoop: paced } : {}
  if (helloWorkUs > 0) out.throughputVsHello = `the hello-world burned ${helloWorkUs} µs per request (HELLO_WORK_US)`
  return out
}
