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
import type { CounterFamily, Sample, ScrapeFamily } from '../capability.js'
import type { StoreStats } from '../store/types.js'
import { errorSpec, type ErrorCode } from '../errors.js'
import { LATENCY_BUCKETS, LOOP_DELAY_BUCKETS, PARTY_COUNT, PARTY_NONE, PARTY_OTHER, STATUS_LABELS } from './layout.js'
import type { SharedBlock } from './shared-block.js'
import { countOpenFds } from '../connection-budget.js'
import { cached, type BuildInfo } from './sources.js'

export type { BuildInfo }


/** Point-in-time readings taken on scrape; each may be absent (a missing source publishes nothing). */
export interface MetricsSources {
  readonly build: BuildInfo
  readonly ready?: () => boolean
  readonly store?: () => StoreStats
  /** Established connections on the public port (undefined where the OS does not tell). */
  readonly openConnections?: () => Promise<number | undefined>
  /** Point-in-time families other capabilities own (the chip pool's, say). */
  readonly families?: () => readonly ScrapeFamily[]
}

/** A family computed on scrape; prom-client's Registry only needs name, help, type and get(). */
function registered (f: ScrapeFamily) {
  const { name, help, type } = f
  return { name, help, type, aggregator: 'sum' as const, get: async () => ({ name, help, type, aggregator: 'sum' as const, values: await f.values() }), reset () {} }
}

function family (name: string, help: string, type: ScrapeFamily['type'], values: () => Sample[] | Promise<Sample[]>): ScrapeFamily {
  return { name, help, type, values }
}

const NS = STATUS_LABELS.length

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
  const total = new Float64Array(block.layout.total)
  for (let s = 0; s < block.claimedStripes; s++) {
    const stripe = block.stripe(s)
    for (let i = 0; i < total.length; i++) total[i]! += stripe[i]!
  }
  return total
}

export function createMetricsRegistry (block: SharedBlock, sources: MetricsSources): Registry {
  const registry = new Registry()
  const layout = block.layout
  // prom-client's event-loop monitor wakes the loop every `precision` ms (10 ms cost 0.6% of a core on an
  // idle server, measured). Its nodejs_eventloop_lag_* include that interval, so they read ≈ 0.1 s here;
  // idv_event_loop_delay_seconds below is the delay itself, per server thread.
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 100 })
  // prom-client names these gauges with a counter's `_total` suffix, which promtool flags;
  // their per-type breakdowns (nodejs_active_handles{type}, …) stay and sum to the same.
  for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) registry.removeSingleMetric(name)
  // Same name, read off the main thread at most once a minute (src/metrics/sources.ts): see below.
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

  const add = (f: ScrapeFamily): void => { registry.registerMetric(registered(f) as never) }
  const routes = layout.routes
  const NR = routes.length
  const problemStatus = layout.problemCodes.map((c) => c === 'other' ? 'other' : String(errorSpec(c as ErrorCode).status))

  add(family('idv_http_requests_total', 'Requests answered, by route, relying party, status and outcome (success, client_error, server_error).', 'counter', () => {
    const c = cells()
    const out: Sample[] = []
    for (let p = 0; p < PARTY_COUNT; p++) {
      for (let r = 0; r < NR; r++) {
        for (let s = 0; s < NS; s++) {
          const v = c[layout.requests + (p * NR + r) * NS + s]!
          if (v > 0) out.push({ labels: { route: routes[r]!, party: partyLabel(p), status: STATUS_LABELS[s]!, outcome: outcomeOf(STATUS_LABELS[s]!) }, value: v })
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
        pushHistogram(out, name, { route: routes[r]!, party: partyLabel(p) }, c, layout.latencyCell(p, r), LATENCY_BUCKETS)
      }
    }
    return out
  }))

  add(family('idv_http_requests_in_flight', 'Requests accepted and not yet answered, over all server threads.', 'gauge', () =>
    [{ labels: {}, value: Math.max(0, cells()[layout.inFlight]!) }]))

  // The kernel spreads connections over server threads, not requests: this shows how evenly work landed.
  add(family('idv_thread_requests_total', 'Requests answered, by server thread (0 is the main thread).', 'counter', () => {
    const out: Sample[] = []
    for (let t = 0; t < block.claimedStripes; t++) {
      const stripe = block.stripe(t)
      let n = 0
      for (let p = 0; p < PARTY_COUNT; p++) {
        for (let r = 0; r < NR; r++) {
          const h = layout.latencyCell(p, r)
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
      pushHistogram(out, 'idv_event_loop_delay_seconds', { thread: String(t) }, block.stripe(t), layout.loopDelay, LOOP_DELAY_BUCKETS)
    }
    return out
  }))

  add(family('idv_http_aborted_requests_total', 'Requests whose client went away before the answer, by route.', 'counter', () => {
    const c = cells()
    return routes.map((route, r) => ({ labels: { route }, value: c[layout.aborted + r]! }))
  }))

  add(family('idv_http_rejected_requests_total', 'Requests answered with a problem, by relying party, problem code and status.', 'counter', () => {
    const c = cells()
    const out: Sample[] = []
    const NP = layout.problemCodes.length
    for (let p = 0; p < PARTY_COUNT; p++) {
      for (let k = 0; k < NP; k++) {
        const v = c[layout.rejected + p * NP + k]!
        if (v > 0) out.push({ labels: { party: partyLabel(p), code: layout.problemCodes[k]!, status: problemStatus[k]! }, value: v })
      }
    }
    return out
  }))

  // The families capabilities declared (src/capability.ts CounterFamily), in list order.
  for (const { family: f, at, row } of layout.families.values()) {
    add(family(f.name, f.help, 'counter', () => declaredSamples(f, cells(), at, row, partyLabel)))
  }

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

  for (const f of sources.families?.() ?? []) add(f)
  return registry
}

/**
 * The samples of a declared counter family: one per non-zero cell, labels
 * decoded from the cell's mixed-radix index; a whole party row once any of its
 * cells counts (`wholeRow`), and the cells named in `alwaysPublished` even at 0.
 */
function declaredSamples (f: CounterFamily, c: Float64Array, at: number, row: number, partyLabel: (slot: number) => string): Sample[] {
  const out: Sample[] = []
  const parties = f.perParty === true ? PARTY_COUNT : 1
  const always = new Set(f.alwaysPublished ?? [])
  for (let p = 0; p < parties; p++) {
    const base = at + p * row
    let any = false
    if (f.wholeRow === true) for (let i = 0; i < row && !any; i++) any = c[base + i]! > 0
    for (let i = 0; i < row; i++) {
      const v = c[base + i]!
      if (v === 0 && !any && !always.has(i)) continue
      const labels: Record<string, string> = f.perParty === true ? { party: partyLabel(p) } : {}
      let rest = i
      for (let l = f.labels.length - 1; l >= 0; l--) {
        const values = f.labels[l]!.values
        labels[f.labels[l]!.name] = values[rest % values.length]!
        rest = Math.floor(rest / values.length)
      }
      out.push({ labels, value: v })
    }
  }
  return out
}
