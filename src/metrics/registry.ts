/**
 * The prom-client registry the metrics port serves. Nothing here runs on the
 * hot path: every family is computed on scrape, from the shared block (summed
 * over all threads' stripes) and from point-in-time sources (store, crypto
 * pool, lifecycle, sockets), as prom-client's README recommends for values
 * that are cheap to read when asked.
 *
 * Series are published only once non-zero (as a labelled prom-client counter
 * would be), so idle parties and unused status codes cost nothing.
 *
 * Names follow Prometheus conventions: `idv_` prefix, base units (seconds,
 * bytes, ratios), `_total` on counters. Process memory, CPU, file descriptors,
 * GC and the main thread's event-loop figures come from prom-client's default
 * metrics; idv_event_loop_delay_seconds is every server thread's own.
 */
import { collectDefaultMetrics, Registry } from 'prom-client'
import type { StoreStats } from '../store/types.js'
import { ERROR_CODES } from '../errors.js'
import {
  ATTRIBUTE_RESULTS, ATTRIBUTES, Cells, CHIP_OUTCOMES, LATENCY_BUCKETS, LOOP_DELAY_BUCKETS, PARTY_COUNT, PARTY_NONE, PARTY_OTHER,
  PROBLEM_CODES, ROUTES, STATUS_LABELS, VERIFY_OUTCOMES, latencyCell
} from './layout.js'
import type { SharedBlock } from './shared-block.js'
import { cached } from './sources.js'
import { countOpenFds } from '../open-files.js'

/** What Piscina tells about the crypto pool (src/crypto/chip-pool.ts poolStats()). */
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

export interface BuildInfo {
  readonly version: string
  readonly commit: string
  readonly nodeVersion: string
  readonly store: string
}

/** Point-in-time readings taken on scrape; each may be absent (a missing source publishes nothing). */
export interface MetricsSources {
  readonly build: BuildInfo
  readonly ready?: () => boolean
  readonly store?: () => StoreStats
  readonly pool?: () => PoolStats | undefined
  /** Established connections on the public port (undefined where the OS does not tell). */
  readonly openConnections?: () => Promise<number | undefined>
}

interface Sample { labels: Record<string, string | number>, value: number, metricName?: string }
type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary'

/** A family computed on scrape; prom-client's Registry only needs name, help, type and get(). */
function family (name: string, help: string, type: MetricType, values: () => Sample[] | Promise<Sample[]>) {
  return { name, help, type, aggregator: 'sum' as const, get: async () => ({ name, help, type, aggregator: 'sum' as const, values: await values() }), reset () {} }
}

const NR = ROUTES.length
const NS = STATUS_LABELS.length
const NP = PROBLEM_CODES.length + 1
const PROBLEM_LABELS = [...PROBLEM_CODES, 'other']
const PROBLEM_STATUS = PROBLEM_LABELS.map((c) => String((ERROR_CODES as Record<string, { status: number }>)[c]?.status ?? 'other'))
const CHIP_LABELS = [...CHIP_OUTCOMES, 'other']

function outcomeOf (status: string): string {
  if (status.startsWith('2')) return 'success'
  if (status.startsWith('5')) return 'server_error'
  return 'client_error'
}

/**
 * One histogram series from `cells[at..]` (a count per bucket, +Inf, then the
 * sum); nothing when every count is 0.
 */
function pushHistogram (out: Sample[], name: string, labels: Record<string, string>, cells: Float64Array, at: number, bounds: readonly number[]): void {
  let count = 0
  for (let b = 0; b <= bounds.length; b++) count += cells[at + b]!
  if (count === 0) return
  let cumulative = 0
  for (let b = 0; b < bounds.length; b++) {
    cumulative += cells[at + b]!
    out.push({ metricName: `${name}_bucket`, labels: { ...labels, le: bounds[b]! }, value: cumulative })
  }
  out.push({ metricName: `${name}_bucket`, labels: { ...labels, le: '+Inf' }, value: count })
  out.push({ metricName: `${name}_sum`, labels, value: cells[at + bounds.length + 1]! })
  out.push({ metricName: `${name}_count`, labels, value: count })
}

/** Sums the cells of every claimed stripe into one array (one pass per scrape). */
function sumStripes (block: SharedBlock): Float64Array {
  const total = new Float64Array(Cells.total)
  for (let s = 0; s < block.claimedStripes; s++) {
    const stripe = block.stripe(s)
    for (let i = 0; i < total.length; i++) total[i]! += stripe[i]!
  }
  return total
}

export function createMetricsRegistry (block: SharedBlock, sources: MetricsSources): Registry {
  const registry = new Registry()
  // prom-client's event-loop monitor wakes the loop every `precision` ms (10 ms cost 0.6% of a core on an
  // idle server, measured). Its nodejs_eventloop_lag_* include that interval, so they read ≈ 0.1 s here;
  // idv_event_loop_delay_seconds below is the delay itself, per server thread.
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 100 })
  // prom-client names these gauges with a counter's `_total` suffix, which promtool flags;
  // their per-type breakdowns (nodejs_active_handles{type}, …) stay and sum to the same.
  for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) registry.removeSingleMetric(name)
  // Same name, read off the main thread at most once a minute (open-files.ts): see below.
  registry.removeSingleMetric('process_open_fds')

  // One sum per scrape, shared by every family below (they are read in the same tick).
  let summed: Float64Array | undefined
  const cells = (): Float64Array => {
    if (summed === undefined) {
      summed = sumStripes(block)
      setImmediate(() => { summed = undefined })
    }
    return summed
  }
  const partyLabel = (slot: number): string =>
    slot === PARTY_NONE ? 'none' : slot === PARTY_OTHER ? 'other' : block.partyId(slot) ?? 'other'

  const add = (f: ReturnType<typeof family>): void => { registry.registerMetric(f as never) }

  add(family('idv_http_requests_total', 'Requests answered, by route, relying party, status and outcome (success, client_error, server_error).', 'counter', () => {
    const c = cells()
    const out: Sample[] = []
    for (let p = 0; p < PARTY_COUNT; p++) {
      for (let r = 0; r < NR; r++) {
        for (let s = 0; s < NS; s++) {
          const v = c[Cells.requests + (p * NR + r) * NS + s]!
          if (v > 0) out.push({ labels: { route: ROUTES[r]!, party: partyLabel(p), status: STATUS_LABELS[s]!, outcome: outcomeOf(STATUS_LABELS[s]!) }, value: v })
        }
      }
    }
    return out
  }))

  add(family('idv_http_request_duration_seconds', 'Time from the request to its answer, by route and relying party.', 'histogram', () => {
    const c = cells()
    const out: Sample[] = []
    const name = 'idv_http_request_duration_seconds'
    for (let p = 0; p < PARTY_COUNT; p++) {
      for (let r = 0; r < NR; r++) {
        const h = latencyCell(p, r)
        pushHistogram(out, name, { route: ROUTES[r]!, party: partyLabel(p) }, c, h, LATENCY_BUCKETS)
      }
    }
    return out
  }))

  add(family('idv_http_requests_in_flight', 'Requests accepted and not yet answered, over all server threads.', 'gauge', () =>
    [{ labels: {}, value: Math.max(0, cells()[Cells.inFlight]!) }]))

  // The kernel spreads connections over server threads, not requests: this shows how evenly work landed.
  add(family('idv_thread_requests_total', 'Requests answered, by server thread (0 is the main thread).', 'counter', () => {
    const out: Sample[] = []
    for (let t = 0; t < block.claimedStripes; t++) {
      const stripe = block.stripe(t)
      let n = 0
      for (let p = 0; p < PARTY_COUNT; p++) {
        for (let r = 0; r < NR; r++) {
          const h = latencyCell(p, r)
          for (let b = 0; b <= LATENCY_BUCKETS.length; b++) n += stripe[h + b]!
        }
      }
      out.push({ labels: { thread: String(t) }, value: n })
    }
    return out
  }))

  // Per thread, not summed: one stalled thread is what this must show.
  add(family('idv_event_loop_delay_seconds', 'How late each server thread ran a timer sampled every 75–125 ms (0 is the main thread): time a request waits before any of its work starts.', 'histogram', () => {
    const out: Sample[] = []
    for (let t = 0; t < block.claimedStripes; t++) {
      pushHistogram(out, 'idv_event_loop_delay_seconds', { thread: String(t) }, block.stripe(t), Cells.loopDelay, LOOP_DELAY_BUCKETS)
    }
    return out
  }))

  add(family('idv_http_aborted_requests_total', 'Requests whose client went away before the answer, by route.', 'counter', () => {
    const c = cells()
    return ROUTES.map((route, r) => ({ labels: { route }, value: c[Cells.aborted + r]! }))
  }))

  add(family('idv_http_rejected_requests_total', 'Requests answered with a problem, by relying party, problem code and status.', 'counter', () => {
    const c = cells()
    const out: Sample[] = []
    for (let p = 0; p < PARTY_COUNT; p++) {
      for (let k = 0; k < NP; k++) {
        const v = c[Cells.rejected + p * NP + k]!
        if (v > 0) out.push({ labels: { party: partyLabel(p), code: PROBLEM_LABELS[k]!, status: PROBLEM_STATUS[k]! }, value: v })
      }
    }
    return out
  }))

  add(family('idv_verify_outcomes_total', 'Verification verdicts (batch items included), by relying party: match, mismatch (an attribute differs), unknown (PIN not registered), inactive (deceased or revoked).', 'counter', () => {
    const c = cells()
    const out: Sample[] = []
    for (let p = 0; p < PARTY_COUNT; p++) {
      let any = 0
      for (let o = 0; o < VERIFY_OUTCOMES.length; o++) any += c[Cells.outcomes + p * VERIFY_OUTCOMES.length + o]!
      // Every outcome of an active party is published, zeros included, so ratios over them always have a denominator.
      if (any > 0) for (let o = 0; o < VERIFY_OUTCOMES.length; o++) out.push({ labels: { party: partyLabel(p), outcome: VERIFY_OUTCOMES[o]! }, value: c[Cells.outcomes + p * VERIFY_OUTCOMES.length + o]! })
    }
    return out
  }))

  add(family('idv_verify_attribute_results_total', 'Per-attribute results of verifications, by attribute and result.', 'counter', () => {
    const c = cells()
    const out: Sample[] = []
    for (let a = 0; a < ATTRIBUTES.length; a++) {
      for (let r = 0; r < ATTRIBUTE_RESULTS.length; r++) {
        const v = c[Cells.attributes + a * ATTRIBUTE_RESULTS.length + r]!
        if (v > 0) out.push({ labels: { attribute: ATTRIBUTES[a]!, result: ATTRIBUTE_RESULTS[r]! }, value: v })
      }
    }
    return out
  }))

  add(family('idv_chip_verifications_total', 'Chip passive-authentication verdicts: result valid, or invalid with its reason code.', 'counter', () => {
    const c = cells()
    const out: Sample[] = []
    for (let i = 0; i < CHIP_LABELS.length; i++) {
      const v = c[Cells.chip + i]!
      if (v > 0 || i === 0) out.push({ labels: i === 0 ? { result: 'valid', reason: 'none' } : { result: 'invalid', reason: CHIP_LABELS[i]! }, value: v })
    }
    return out
  }))

  add(family('idv_metrics_party_slots_used', 'Relying-party label slots taken (parties beyond the table are counted as party="other").', 'gauge', () => {
    let used = 0
    for (let p = PARTY_OTHER + 1; p < PARTY_COUNT; p++) if (block.partyId(p) !== undefined) used++
    return [{ labels: {}, value: used }]
  }))
  add(family('idv_metrics_party_slots_limit', 'Relying-party label slots available.', 'gauge', () => [{ labels: {}, value: PARTY_COUNT - 2 }]))

  const b = sources.build
  add(family('idv_build_info', 'Build of the running service (always 1).', 'gauge', () =>
    [{ labels: { version: b.version, commit: b.commit, node_version: b.nodeVersion, store: b.store }, value: 1 }]))

  if (sources.ready !== undefined) {
    const ready = sources.ready
    add(family('idv_ready', 'Whether the service accepts requests (1) or is starting or draining (0).', 'gauge', () => [{ labels: {}, value: ready() ? 1 : 0 }]))
  }

  if (sources.openConnections !== undefined) {
    const open = sources.openConnections
    add(family('idv_http_open_connections', 'Established TCP connections on the public port.', 'gauge', async () => {
      const n = await open()
      return n === undefined ? [] : [{ labels: {}, value: n }]
    }))
  }

  const openFds = cached(countOpenFds, 60_000)
  add(family('process_open_fds', 'Number of open file descriptors (read at most once a minute).', 'gauge', async () => {
    const n = await openFds()
    return n === undefined ? [] : [{ labels: {}, value: n }]
  }))

  if (sources.store !== undefined) {
    const store = sources.store
    let last: StoreStats | undefined
    const stats = (): StoreStats => {
      if (last === undefined) { last = store(); setImmediate(() => { last = undefined }) }
      return last
    }
    add(family('idv_store_entries', 'Citizen records in the index.', 'gauge', () => [{ labels: {}, value: stats().entries }]))
    add(family('idv_store_disk_bytes', 'Bytes the index files take on disk.', 'gauge', () => [{ labels: {}, value: stats().bytesOnDisk }]))
    add(family('idv_store_memory_bytes', 'Bytes the storage engine holds in process memory (not the page cache).', 'gauge', () => [{ labels: {}, value: stats().bytesInMemory }]))
  }

  if (sources.pool !== undefined) addPoolFamilies(add, sources.pool)
  return registry
}

function addPoolFamilies (add: (f: ReturnType<typeof family>) => void, pool: () => PoolStats | undefined): void {
  let last: PoolStats | undefined | null = null
  const read = (): PoolStats | undefined => {
    if (last === null) { last = pool(); setImmediate(() => { last = null }) }
    return last
  }
  const gauge = (name: string, help: string, value: (s: PoolStats) => number): void => {
    add(family(name, help, 'gauge', () => { const s = read(); return s === undefined ? [] : [{ labels: {}, value: value(s) }] }))
  }
  const counter = (name: string, help: string, value: (s: PoolStats) => number): void => {
    add(family(name, help, 'counter', () => { const s = read(); return s === undefined ? [] : [{ labels: {}, value: value(s) }] }))
  }
  gauge('idv_crypto_pool_queued_chips', 'Chips waiting or being verified in the crypto pool (503 IDV_ERR_OVERLOADED at the limit).', (s) => s.queuedChips)
  gauge('idv_crypto_pool_queued_chips_limit', 'Chips the crypto pool admits before answering 503 (IDV_CRYPTO_MAX_QUEUE).', (s) => s.maxQueuedChips)
  gauge('idv_crypto_pool_queue_length', 'Piscina tasks waiting for a free worker thread.', (s) => s.queueSize)
  gauge('idv_crypto_pool_utilization_ratio', 'Share of the crypto pool threads\' time spent running tasks (0-1).', (s) => s.utilization)
  gauge('idv_crypto_pool_threads', 'Worker threads in the crypto pool.', (s) => s.threads)
  counter('idv_crypto_pool_tasks_total', 'Tasks (batches of chips) the crypto pool has completed.', (s) => s.completedTasks)
  counter('idv_crypto_pool_rejected_chips_total', 'Chips refused because the crypto pool was full.', (s) => s.rejectedChips)
  counter('idv_crypto_pool_failed_tasks_total', 'Crypto pool tasks that failed (a worker died or the trust store could not load).', (s) => s.failedTasks)
  // Piscina keeps task times as histogram summaries in milliseconds; published as Prometheus summaries in seconds.
  for (const [kind, pick] of [['run', (s: PoolStats) => s.runTime], ['wait', (s: PoolStats) => s.waitTime]] as const) {
    const name = `idv_crypto_pool_task_${kind}_seconds`
    add(family(name, `Crypto pool task ${kind === 'run' ? 'run' : 'queue-wait'} time since start (quantiles from Piscina's histogram).`, 'summary', () => {
      const s = read()
      if (s === undefined || s.completedTasks === 0) return []
      const t = pick(s)
      const out: Sample[] = [['0.5', t.p50], ['0.9', t.p90], ['0.99', t.p99]].map(([q, ms]) => ({ labels: { quantile: q as string }, value: (ms as number) / 1000 }))
      out.push({ metricName: `${name}_sum`, labels: {}, value: t.mean * s.completedTasks / 1000 })
      out.push({ metricName: `${name}_count`, labels: {}, value: s.completedTasks })
      return out
    }))
  }
}
