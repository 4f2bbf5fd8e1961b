/**
 * What the chip capability records and publishes: chip verdicts by reason (a
 * counter family the metrics block lays out), and the crypto pool's state,
 * read from Piscina when Prometheus scrapes.
 */
import type { CounterFamily, Sample, ScrapeFamily } from '../capability.js'
import { REASONS } from './passive-auth/reasons.js'

/** What Piscina tells about the crypto pool (ChipPool.poolStats()). */
export interface PoolStats {
  /** Chips waiting or being verified (the admission count). */
  readonly queuedChips: number
  readonly maxQueuedChips: number
  /** Piscina tasks waiting for a thread. */
  readonly queueSize: number
  /** Share of the pool's thread time spent running tasks since start (0–1). */
  readonly utilization: number
  readonly threads: number
  readonly completedTasks: number
  readonly rejectedChips: number
  readonly failedTasks: number
  /** Task run and queue-wait times in milliseconds (Piscina's histogram summaries). */
  readonly runTime: { readonly mean: number, readonly p50: number, readonly p90: number, readonly p99: number }
  readonly waitTime: { readonly mean: number, readonly p50: number, readonly p90: number, readonly p99: number }
}

/** `none` (the valid verdict's), every reason code in its published order, then `other` (a newer worker's). */
const CHIP_REASONS: readonly string[] = ['none', ...Object.values(REASONS), 'other']
const REASON_INDEX = new Map(CHIP_REASONS.map((r, i) => [r, i]))

export const CHIP_VERDICTS: CounterFamily = {
  name: 'idv_chip_verifications_total',
  help: 'Chip passive-authentication verdicts: result valid, or invalid with its reason code.',
  labels: [{ name: 'result', values: ['valid', 'invalid'] }, { name: 'reason', values: CHIP_REASONS }],
  // valid/none exists from the start, so a ratio over chips always has a denominator.
  alwaysPublished: [0]
}

/** The cell of a verdict: valid (reason undefined), or invalid with its reason. */
export function verdictIndex (reason: string | undefined): number {
  if (reason === undefined) return 0
  return CHIP_REASONS.length + (REASON_INDEX.get(reason) ?? CHIP_REASONS.length - 1)
}

/** The pool's families, computed on scrape from one reading of `stats` per scrape. */
export function poolFamilies (stats: () => PoolStats): ScrapeFamily[] {
  let last: PoolStats | undefined
  const read = (): PoolStats => {
    if (last === undefined) { last = stats(); setImmediate(() => { last = undefined }) }
    return last
  }
  const one = (name: string, help: string, type: 'gauge' | 'counter', value: (s: PoolStats) => number): ScrapeFamily =>
    ({ name, help, type, values: () => [{ labels: {}, value: value(read()) }] })
  const families = [
    one('idv_crypto_pool_queued_chips', 'Chips waiting or being verified in the crypto pool (503 IDV_ERR_OVERLOADED at the limit).', 'gauge', (s) => s.queuedChips),
    one('idv_crypto_pool_queued_chips_limit', 'Chips the crypto pool admits before answering 503 (IDV_CRYPTO_MAX_QUEUE).', 'gauge', (s) => s.maxQueuedChips),
    one('idv_crypto_pool_queue_length', 'Piscina tasks waiting for a free worker thread.', 'gauge', (s) => s.queueSize),
    one('idv_crypto_pool_utilization_ratio', 'Share of the crypto pool threads\' time spent running tasks (0-1).', 'gauge', (s) => s.utilization),
    one('idv_crypto_pool_threads', 'Worker threads in the crypto pool.', 'gauge', (s) => s.threads),
    one('idv_crypto_pool_tasks_total', 'Tasks (batches of chips) the crypto pool has completed.', 'counter', (s) => s.completedTasks),
    one('idv_crypto_pool_rejected_chips_total', 'Chips refused because the crypto pool was full.', 'counter', (s) => s.rejectedChips),
    one('idv_crypto_pool_failed_tasks_total', 'Crypto pool tasks that failed (a worker died or the trust store could not load).', 'counter', (s) => s.failedTasks)
  ]
  // Piscina keeps task times as histogram summaries in milliseconds; published as Prometheus summaries in seconds.
  for (const [kind, pick] of [['run', (s: PoolStats) => s.runTime], ['wait', (s: PoolStats) => s.waitTime]] as const) {
    const name = `idv_crypto_pool_task_${kind}_seconds`
    families.push({
      name,
      help: `Crypto pool task ${kind === 'run' ? 'run' : 'queue-wait'} time since start (quantiles from Piscina's histogram).`,
      type: 'summary',
      values: () => {
        const s = read()
        if (s.completedTasks === 0) return []
        const t = pick(s)
        const out: Sample[] = [['0.5', t.p50], ['0.9', t.p90], ['0.99', t.p99]].map(([q, ms]) => ({ labels: { quantile: q as string }, value: (ms as number) / 1000 }))
        out.push({ metricName: `${name}_sum`, labels: {}, value: t.mean * s.completedTasks / 1000 })
        out.push({ metricName: `${name}_count`, labels: {}, value: s.completedTasks })
        return out
      }
    })
  }
  return families
}
