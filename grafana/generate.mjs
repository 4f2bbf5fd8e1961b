#!/usr/bin/env node
/**
 * Writes grafana/dashboards/*.json and grafana/alerts/idv-rules.yml from one
 * description, with the SLO targets read from bench/slo.json, so the panels,
 * the burn-rate alerts and the benchmark targets cannot drift apart.
 *
 *   node grafana/generate.mjs           rewrite the files
 *   node grafana/generate.mjs --check   exit 1 if a file differs (run by test/observability)
 *
 * Queries use only the metric names the service exports (src/metrics/registry.ts)
 * and prom-client's default process/nodejs metrics. Rate windows are Grafana's
 * `$__rate_interval`; `$party` is a multi-value template variable.
 */
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { stringify } from 'yaml'

const here = dirname(fileURLToPath(import.meta.url))
const root = join(here, '..')
const slo = JSON.parse(readFileSync(join(root, 'bench', 'slo.json'), 'utf8'))

/** The latency bucket bounds of idv_http_request_duration_seconds (src/metrics/layout.ts). */
const BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1]
/** Which routes each benchmark scenario drives (bench/src/scenarios/). */
const SCENARIO_ROUTES = {
  'portal-verify': ['/v1/verify'],
  'telco-batch': ['/v1/verify/batch'],
  chip: ['/v1/chip/verify'],
  mixed: ['/v1/verify', '/v1/verify/batch', '/v1/chip/verify'],
  'access-points-40k': ['/v1/verify']
}
/** Availability: share of answers that are not server errors (5xx), over 30 days. */
const AVAILABILITY = slo.availability?.objective ?? 0.999
const WINDOW_DAYS = slo.availability?.windowDays ?? 30
const BUDGET = +(1 - AVAILABILITY).toFixed(6)
/** A p99 target leaves 1% of requests as the latency error budget. */
const LATENCY_BUDGET = 0.01

function leOf (ms, scenario) {
  const s = ms / 1000
  const le = BUCKETS.find((b) => Math.abs(b - s) < 1e-12)
  if (le === undefined) throw new Error(`bench/slo.json ${scenario}: ${ms} ms is not a latency bucket bound (${BUCKETS.join(', ')} s); add it to LATENCY_BUCKETS in src/metrics/layout.ts and here`)
  return String(le)
}

/** The latency SLOs: one per scenario with a p99 target, judged on its routes. */
const LATENCY_SLOS = Object.entries(slo.scenarios)
  .filter(([, t]) => typeof t.p99Ms === 'number')
  .map(([scenario, t]) => {
    const routes = SCENARIO_ROUTES[scenario]
    if (routes === undefined) throw new Error(`bench/slo.json scenario ${scenario}: add its routes to SCENARIO_ROUTES in grafana/generate.mjs`)
    return { scenario, p99Ms: t.p99Ms, le: leOf(t.p99Ms, scenario), route: routes.join('|') }
  })

// ---------- PromQL ----------
const RI = '$__rate_interval'
const P = 'party=~"$party"'
const req = (sel, w = RI) => `sum(rate(idv_http_requests_total{${sel}}[${w}]))`
const errorRatio = (w) => `(sum(rate(idv_http_requests_total{outcome="server_error"}[${w}])) or vector(0)) / sum(rate(idv_http_requests_total[${w}]))`
const missRatio = (route, le, w) =>
  `1 - sum(rate(idv_http_request_duration_seconds_bucket{route=~"${route}",le="${le}"}[${w}])) / sum(rate(idv_http_request_duration_seconds_count{route=~"${route}"}[${w}]))`
const quantile = (q, sel, by = 'route') => `histogram_quantile(${q}, sum by (le, ${by}) (rate(idv_http_request_duration_seconds_bucket{${sel}}[${RI}])))`

// ---------- dashboards ----------
let nextId = 1
function panel (type, title, targets, o = {}) {
  return {
    id: nextId++,
    type,
    title,
    ...(o.description !== undefined ? { description: o.description } : {}),
    datasource: { type: 'prometheus', uid: '${datasource}' },
    gridPos: { h: o.h ?? 8, w: o.w ?? 12, x: 0, y: 0 },
    targets: targets.map(([expr, legend], i) => ({ refId: String.fromCharCode(65 + i), expr, legendFormat: legend ?? '', range: true })),
    fieldConfig: {
      defaults: {
        unit: o.unit ?? 'short',
        ...(o.min !== undefined ? { min: o.min } : {}),
        ...(o.max !== undefined ? { max: o.max } : {}),
        thresholds: { mode: 'absolute', steps: [{ color: 'green', value: null }, ...(o.threshold !== undefined ? [{ color: 'red', value: o.threshold }] : [])] },
        ...(type === 'timeseries' && o.threshold !== undefined ? { custom: { thresholdsStyle: { mode: 'line' } } } : {})
      },
      overrides: []
    },
    options: type === 'stat' ? { reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false }, colorMode: 'value', graphMode: 'area' } : { legend: { displayMode: 'list', placement: 'bottom' }, tooltip: { mode: 'multi' } }
  }
}
const row = (title) => ({ id: nextId++, type: 'row', title, collapsed: false, gridPos: { h: 1, w: 24, x: 0, y: 0 }, panels: [] })

/** Lays panels out left to right, rows of 24 columns. */
function layout (panels) {
  let x = 0
  let y = 0
  let rowH = 0
  for (const p of panels) {
    const { w, h } = p.gridPos
    if (p.type === 'row' || x + w > 24) { y += rowH; x = 0; rowH = 0 }
    p.gridPos.x = x
    p.gridPos.y = y
    x += w
    rowH = Math.max(rowH, h)
    if (p.type === 'row') { y += h; x = 0; rowH = 0 }
  }
  return panels
}

const DATASOURCE_VAR = { name: 'datasource', label: 'Prometheus', type: 'datasource', query: 'prometheus', current: {}, hide: 0 }
const PARTY_VAR = {
  name: 'party',
  label: 'Relying party',
  type: 'query',
  datasource: { type: 'prometheus', uid: '${datasource}' },
  definition: 'label_values(idv_http_requests_total, party)',
  query: { query: 'label_values(idv_http_requests_total, party)', refId: 'PartyVariable' },
  includeAll: true,
  multi: true,
  allValue: '.*',
  current: { selected: true, text: ['All'], value: ['$__all'] },
  refresh: 2,
  sort: 1,
  hide: 0
}

function dashboard (uid, title, description, panels, vars = []) {
  nextId = 1
  return {
    uid,
    title,
    description,
    tags: ['idv'],
    editable: true,
    schemaVersion: 39,
    version: 1,
    time: { from: 'now-6h', to: 'now' },
    refresh: '30s',
    graphTooltip: 1,
    templating: { list: [DATASOURCE_VAR, ...vars] },
    annotations: { list: [] },
    panels: layout(panels())
  }
}

const overview = dashboard('idv-overview', 'idv: service overview', 'RED per route and saturation of the identity verification service.', () => [
  row('Requests (rate, errors, duration)'),
  panel('timeseries', 'Requests per second by route', [[`sum by (route) (rate(idv_http_requests_total[${RI}]))`, '{{route}}']], { unit: 'reqps' }),
  panel('timeseries', 'Answers by status', [[`sum by (status) (rate(idv_http_requests_total[${RI}]))`, '{{status}}']], { unit: 'reqps' }),
  panel('timeseries', 'Server error ratio (5xx / all)', [[errorRatio(RI), '5xx ratio']], { unit: 'percentunit', min: 0, threshold: BUDGET }),
  panel('timeseries', 'Rejected requests by problem code', [[`sum by (code) (rate(idv_http_rejected_requests_total[${RI}]))`, '{{code}}']], { unit: 'reqps' }),
  panel('timeseries', 'Latency p50 by route', [[quantile(0.5, ''), '{{route}}']], { unit: 's' }),
  panel('timeseries', 'Latency p99 by route', [[quantile(0.99, ''), '{{route}}']], { unit: 's' }),
  panel('timeseries', 'Aborted by the client', [[`sum by (route) (rate(idv_http_aborted_requests_total[${RI}]))`, '{{route}}']], { unit: 'reqps', w: 8 }),
  panel('stat', 'Ready', [['min(idv_ready)', 'ready']], { w: 4, threshold: undefined }),
  panel('stat', 'Requests in flight', [['sum(idv_http_requests_in_flight)', 'in flight']], { w: 4 }),
  panel('stat', 'Open connections (public port)', [['sum(idv_http_open_connections)', 'connections']], { w: 8 }),
  row('Saturation'),
  panel('timeseries', 'Event-loop delay p99 by server thread', [[`histogram_quantile(0.99, sum by (instance, thread, le) (rate(idv_event_loop_delay_seconds_bucket[${RI}])))`, '{{instance}} thread {{thread}}']], { unit: 's', threshold: 0.05, description: 'How late each server thread runs a timer sampled every 75–125 ms: time any request on that thread waits before its work starts.' }),
  panel('timeseries', 'CPU (cores used)', [[`rate(process_cpu_user_seconds_total[${RI}])`, 'user'], [`rate(process_cpu_system_seconds_total[${RI}])`, 'system']], { unit: 'short' }),
  panel('timeseries', 'Memory', [['process_resident_memory_bytes', 'resident'], ['nodejs_heap_size_used_bytes', 'heap used'], ['nodejs_external_memory_bytes', 'external']], { unit: 'bytes' }),
  panel('timeseries', 'Open file descriptors / limit', [['process_open_fds / process_max_fds', 'fds used']], { unit: 'percentunit', min: 0, max: 1, threshold: 0.8 }),
  panel('timeseries', 'Requests per second by server thread', [[`sum by (thread) (rate(idv_thread_requests_total[${RI}]))`, 'thread {{thread}}']], { unit: 'reqps', description: 'The kernel spreads connections, not requests, over the server threads (IDV_THREADS).' }),
  panel('timeseries', 'Crypto pool utilisation', [['idv_crypto_pool_utilization_ratio', 'utilisation']], { unit: 'percentunit', min: 0, max: 1 }),
  panel('timeseries', 'Crypto pool queue', [['idv_crypto_pool_queued_chips', 'chips waiting or running'], ['idv_crypto_pool_queue_length', 'tasks waiting']], { unit: 'short' }),
  row('Build'),
  panel('table', 'Build', [['idv_build_info', '']], { w: 24, h: 5 })
])

const sloPanels = () => {
  const panels = [
    row(`Availability: ${(AVAILABILITY * 100).toFixed(2)}% of answers are not server errors (${WINDOW_DAYS} days)`),
    panel('stat', `Availability (${WINDOW_DAYS}d)`, [[`1 - (${errorRatio(`${WINDOW_DAYS}d`)})`, 'availability']], { unit: 'percentunit', w: 6, description: `Objective ${AVAILABILITY} (bench/slo.json availability.objective).` }),
    panel('stat', `Error budget left (${WINDOW_DAYS}d)`, [[`1 - (${errorRatio(`${WINDOW_DAYS}d`)}) / ${BUDGET}`, 'budget left']], { unit: 'percentunit', w: 6 }),
    panel('timeseries', 'Availability burn rate (1 = budget lasts exactly the window)', [
      [`(${errorRatio('5m')}) / ${BUDGET}`, '5m'],
      [`(${errorRatio('1h')}) / ${BUDGET}`, '1h'],
      [`(${errorRatio('6h')}) / ${BUDGET}`, '6h']
    ], { unit: 'short', w: 12, threshold: 14.4, description: 'Pages at 14.4 (1h and 5m) and 6 (6h and 30m): grafana/alerts/idv-rules.yml.' })
  ]
  for (const s of LATENCY_SLOS) {
    const sel = `route=~"${s.route}"`
    panels.push(
      row(`Latency: ${s.scenario}: 99% of ${s.route.split('|').join(', ')} within ${s.p99Ms} ms`),
      panel('stat', `${s.scenario}: p99 (target ${s.p99Ms} ms)`, [[`histogram_quantile(0.99, sum by (le) (rate(idv_http_request_duration_seconds_bucket{${sel}}[${RI}])))`, 'p99']], { unit: 's', w: 6, threshold: s.p99Ms / 1000 }),
      panel('stat', `${s.scenario}: within ${s.p99Ms} ms (${WINDOW_DAYS}d)`, [[`1 - (${missRatio(s.route, s.le, `${WINDOW_DAYS}d`)})`, 'within target']], { unit: 'percentunit', w: 6, description: `Target: at least ${1 - LATENCY_BUDGET} (bench/slo.json ${s.scenario}.p99Ms = ${s.p99Ms}).` }),
      panel('timeseries', `${s.scenario}: latency burn rate`, [
        [`(${missRatio(s.route, s.le, '5m')}) / ${LATENCY_BUDGET}`, '5m'],
        [`(${missRatio(s.route, s.le, '1h')}) / ${LATENCY_BUDGET}`, '1h'],
        [`(${missRatio(s.route, s.le, '6h')}) / ${LATENCY_BUDGET}`, '6h']
      ], { unit: 'short', w: 12, threshold: 14.4 })
    )
  }
  return panels
}
const sloDashboard = dashboard('idv-slo', 'idv: SLOs and error budgets', 'Availability and per-scenario latency objectives from bench/slo.json, with multiwindow burn rates.', sloPanels)

const parties = dashboard('idv-parties', 'idv: relying parties', 'Usage, rejections and enumeration watch per relying party (party "none": not authenticated; "other": beyond the label table).', () => [
  row('Usage'),
  panel('timeseries', 'Requests per second by party', [[`sum by (party) (rate(idv_http_requests_total{${P}}[${RI}]))`, '{{party}}']], { unit: 'reqps' }),
  panel('timeseries', 'Requests by party and route', [[`sum by (party, route) (rate(idv_http_requests_total{${P}}[${RI}]))`, '{{party}} {{route}}']], { unit: 'reqps' }),
  panel('timeseries', 'Latency p99 by party', [[quantile(0.99, P, 'party'), '{{party}}']], { unit: 's' }),
  panel('timeseries', 'Verdicts by party', [[`sum by (party, outcome) (rate(idv_verify_outcomes_total{${P}}[${RI}]))`, '{{party}} {{outcome}}']], { unit: 'ops' }),
  row('Rejections'),
  panel('timeseries', 'Rejected by party and status (401/403/413/429/503…)', [[`sum by (party, status) (rate(idv_http_rejected_requests_total{${P}}[${RI}]))`, '{{party}} {{status}}']], { unit: 'reqps' }),
  panel('table', 'Rejections by party and code (window)', [[`sum by (party, code) (increase(idv_http_rejected_requests_total{${P}}[$__range]))`, '']], { unit: 'short' }),
  row('Enumeration watch (match/no-match is an oracle)'),
  panel('timeseries', 'Unknown-PIN ratio by party', [[`sum by (party) (rate(idv_verify_outcomes_total{${P},outcome="unknown"}[${RI}])) / sum by (party) (rate(idv_verify_outcomes_total{${P}}[${RI}]))`, '{{party}}']], { unit: 'percentunit', min: 0, max: 1, threshold: 0.2, description: 'A party sweeping PINs asks mostly about PINs that are not registered. Alert: IdvEnumerationSweep.' }),
  panel('timeseries', 'No-match ratio by party', [[`sum by (party) (rate(idv_verify_outcomes_total{${P},outcome!="match"}[${RI}])) / sum by (party) (rate(idv_verify_outcomes_total{${P}}[${RI}]))`, '{{party}}']], { unit: 'percentunit', min: 0, max: 1, threshold: 0.5 }),
  panel('stat', 'Party label slots used', [['idv_metrics_party_slots_used / idv_metrics_party_slots_limit', 'used']], { unit: 'percentunit', w: 6, threshold: 0.9 }),
  panel('table', 'Verification verdicts per party (window)', [[`sum by (party, outcome) (increase(idv_verify_outcomes_total{${P}}[$__range]))`, '']], { w: 18 })
], [PARTY_VAR])

const chip = dashboard('idv-chip', 'idv: chip verification', 'Passive authentication of chip ID cards: verdicts by reason code and the crypto pool.', () => [
  row('Verdicts'),
  panel('timeseries', 'Chip verdicts per second', [[`sum by (result) (rate(idv_chip_verifications_total[${RI}]))`, '{{result}}']], { unit: 'ops' }),
  panel('timeseries', 'Invalid chips by reason code', [[`sum by (reason) (rate(idv_chip_verifications_total{result="invalid"}[${RI}]))`, '{{reason}}']], { unit: 'ops' }),
  panel('stat', 'Invalid share', [[`sum(rate(idv_chip_verifications_total{result="invalid"}[${RI}])) / sum(rate(idv_chip_verifications_total[${RI}]))`, 'invalid']], { unit: 'percentunit', w: 6 }),
  panel('timeseries', '/v1/chip/verify latency', [[quantile(0.5, 'route="/v1/chip/verify"'), 'p50'], [quantile(0.99, 'route="/v1/chip/verify"'), 'p99']], { unit: 's', w: 18 }),
  row('Crypto pool'),
  panel('timeseries', 'Chips waiting or running / limit', [['idv_crypto_pool_queued_chips / idv_crypto_pool_queued_chips_limit', 'admission used']], { unit: 'percentunit', min: 0, max: 1, threshold: 0.8 }),
  panel('timeseries', 'Refused (pool full) and failed tasks', [[`rate(idv_crypto_pool_rejected_chips_total[${RI}])`, 'chips refused'], [`rate(idv_crypto_pool_failed_tasks_total[${RI}])`, 'tasks failed']], { unit: 'ops' }),
  panel('timeseries', 'Task run time quantiles', [['idv_crypto_pool_task_run_seconds', 'q{{quantile}}']], { unit: 's' }),
  panel('timeseries', 'Task queue-wait time quantiles', [['idv_crypto_pool_task_wait_seconds', 'q{{quantile}}']], { unit: 's' })
])

const storePool = dashboard('idv-store-workers', 'idv: store and worker pool', 'The citizen index and the crypto worker pool.', () => [
  row('Store'),
  panel('stat', 'Citizens in the index', [['idv_store_entries', 'entries']], { w: 8 }),
  panel('stat', 'Index on disk', [['idv_store_disk_bytes', 'disk']], { unit: 'bytes', w: 8 }),
  panel('stat', 'Engine memory', [['idv_store_memory_bytes', 'memory']], { unit: 'bytes', w: 8 }),
  panel('timeseries', 'Bytes per citizen on disk', [['idv_store_disk_bytes / idv_store_entries', 'bytes/citizen']], { unit: 'bytes' }),
  panel('timeseries', 'Verifications per second (store reads)', [[`sum(rate(idv_verify_outcomes_total[${RI}]))`, 'verdicts']], { unit: 'ops' }),
  row('Worker pool'),
  panel('stat', 'Crypto pool threads', [['idv_crypto_pool_threads', 'threads']], { w: 6 }),
  panel('timeseries', 'Utilisation', [['idv_crypto_pool_utilization_ratio', 'utilisation']], { unit: 'percentunit', min: 0, max: 1, w: 18 }),
  panel('timeseries', 'Tasks completed per second', [[`rate(idv_crypto_pool_tasks_total[${RI}])`, 'tasks']], { unit: 'ops' }),
  panel('timeseries', 'Task run p99 and wait p99', [['idv_crypto_pool_task_run_seconds{quantile="0.99"}', 'run p99'], ['idv_crypto_pool_task_wait_seconds{quantile="0.99"}', 'wait p99']], { unit: 's' }),
  row('Audit log'),
  panel('timeseries', 'Audit entries and bytes written per second', [[`sum(rate(idv_audit_entries_total[${RI}]))`, 'entries/s'], [`sum(rate(idv_audit_bytes_total[${RI}]))`, 'bytes/s']], { unit: 'short' }),
  panel('timeseries', 'Checkpoint age (entries waiting for a checkpoint)', [['max by (instance) (idv_audit_checkpoint_age_seconds)', '{{instance}}']], { unit: 's', min: 0, threshold: 10, description: 'Seconds since the oldest entry no signed checkpoint covers was written; 0 when the newest covers the log. Alert: IdvAuditCheckpointStale.' }),
  panel('timeseries', 'Audit write failures (answers refused with 503)', [[`sum(rate(idv_audit_write_failures_total[${RI}]))`, 'failures/s']], { unit: 'ops', threshold: 0 }),
  panel('stat', 'Audit bytes per entry', [['sum(idv_audit_bytes_total) / sum(idv_audit_entries_total)', 'bytes/entry']], { unit: 'bytes' })
])

/** The fleet: nodes following the change feed (src/replication), re-bootstraps, the producer's outbox. */
const MAX_LAG_SECONDS = 5 // IDV_MAX_LAG_SECONDS's default (src/config.ts): a node past it answers /readyz 503
const fleet = dashboard('idv-fleet', 'idv: fleet', 'Verification nodes following the change feed on NATS JetStream: applied sequence, lag, apply rate, readiness, re-bootstraps and the producer\'s outbox.', () => [
  row('Feed and lag'),
  panel('timeseries', 'Applied sequence by node, and the stream\'s last', [['idv_replication_applied_sequence', '{{instance}}'], ['max(idv_replication_stream_sequence)', 'stream']], { unit: 'none' }),
  panel('timeseries', 'Lag (changes) by node', [['idv_replication_lag_changes', '{{instance}}']], { unit: 'short', min: 0 }),
  panel('timeseries', 'Lag (seconds) by node', [['idv_replication_lag_seconds', '{{instance}}']], { unit: 's', min: 0, threshold: MAX_LAG_SECONDS, description: `How long ago the node last held every change; it grows while a node is cut off from NATS. Past IDV_MAX_LAG_SECONDS (default ${MAX_LAG_SECONDS}) the node answers /readyz 503. Alert: IdvReplicationLagHigh.` }),
  panel('stat', 'Nodes ready', [['sum(idv_replication_ready)', 'ready'], ['count(idv_replication_ready)', 'nodes']], { w: 6 }),
  panel('stat', 'Worst lag', [['max(idv_replication_lag_seconds)', 'lag']], { unit: 's', w: 6, threshold: MAX_LAG_SECONDS }),
  panel('timeseries', 'Node state (1 = current)', [['idv_replication_state == 1', '{{instance}} {{state}}']], { w: 24, description: 'connecting, following, gap (re-bootstrapping), other_key, conflict, needs_bootstrap. Alerts: IdvReplicaNotReady, IdvReplicationStopped.' }),
  row('Apply'),
  panel('timeseries', 'Apply rate (changes/s) by node', [[`rate(idv_replication_changes_applied_total[${RI}])`, '{{instance}}']], { unit: 'ops' }),
  panel('timeseries', 'Changes per apply transaction', [[`rate(idv_replication_changes_applied_total[${RI}]) / rate(idv_replication_apply_batches_total[${RI}])`, '{{instance}}']], { unit: 'short', description: 'Batches grow with the load (catch-up) and are one change when the feed is quiet.' }),
  panel('timeseries', 'Applier busy (share of one core in apply transactions)', [[`rate(idv_replication_apply_seconds_total[${RI}])`, '{{instance}}']], { unit: 'percentunit', min: 0 }),
  panel('timeseries', 'Refused changes and skipped redeliveries', [[`rate(idv_replication_changes_refused_total[${RI}])`, '{{instance}} refused'], [`rate(idv_replication_duplicates_total[${RI}])`, '{{instance}} redelivered']], { unit: 'ops' }),
  row('Re-bootstrap and fleet configuration'),
  panel('timeseries', 'Re-bootstrap state (1 = current)', [['idv_replication_bootstrap_state == 1', '{{instance}} {{state}}']], { description: 'waiting_for_snapshot: a node met a gap and waits for a snapshot past it (idv snapshot publish).' }),
  panel('table', 'Re-bootstraps (window), last duration and snapshot', [
    [`increase(idv_replication_bootstraps_total[$__range])`, 'bootstraps'],
    ['idv_replication_bootstrap_seconds', 'seconds'],
    ['idv_replication_bootstrap_snapshot_sequence', 'snapshot seq']
  ]),
  panel('timeseries', 'Producer outbox (changes not yet applied everywhere)', [['idv:fleet_outbox_changes', 'outbox']], { unit: 'short', min: 0, description: 'The newest stream sequence any node saw minus the lowest sequence any node applied: what the producer must keep (it prunes up to the lowest applied). Alert: IdvFleetOutboxGrowing.' }),
  panel('timeseries', 'Fleet configuration version by node', [['idv_fleet_config_version', '{{instance}}']], { unit: 'none', description: 'Every node should run the same version of the signed fleet configuration.' })
])

// ---------- rules ----------
const WINDOWS = ['5m', '30m', '1h', '2h', '6h', '1d', '3d']
const rules = {
  groups: [
    {
      name: 'idv-slo-recording',
      rules: [
        ...WINDOWS.map((w) => ({ record: `idv:http_error_ratio:rate${w}`, expr: errorRatio(w) })),
        ...LATENCY_SLOS.flatMap((s) => WINDOWS.map((w) => ({
          record: `idv:latency_slo_miss_ratio:rate${w}`,
          expr: missRatio(s.route, s.le, w),
          labels: { scenario: s.scenario }
        })))
      ]
    },
    {
      name: 'idv-slo-alerts',
      rules: [
        burnAlert('IdvAvailabilityFastBurn', 'idv:http_error_ratio', '1h', '5m', 14.4, BUDGET, 'page', '2m',
          `Server errors are burning the ${WINDOW_DAYS}-day availability budget 14.4x too fast (2% of it per hour).`),
        burnAlert('IdvAvailabilitySlowBurn', 'idv:http_error_ratio', '6h', '30m', 6, BUDGET, 'page', '15m',
          `Server errors are burning the ${WINDOW_DAYS}-day availability budget 6x too fast (5% of it in 6 hours).`),
        burnAlert('IdvAvailabilityBudgetBurn', 'idv:http_error_ratio', '1d', '2h', 3, BUDGET, 'ticket', '1h',
          `Server errors are burning the ${WINDOW_DAYS}-day availability budget 3x too fast.`),
        burnAlert('IdvLatencySloFastBurn', 'idv:latency_slo_miss_ratio', '1h', '5m', 14.4, LATENCY_BUDGET, 'page', '2m',
          'More than 14.4% of {{ $labels.scenario }} requests miss their p99 latency target (bench/slo.json).', true),
        burnAlert('IdvLatencySloSlowBurn', 'idv:latency_slo_miss_ratio', '6h', '30m', 6, LATENCY_BUDGET, 'ticket', '15m',
          'More than 6% of {{ $labels.scenario }} requests miss their p99 latency target (bench/slo.json).', true)
      ]
    },
    {
      name: 'idv-errors-and-saturation',
      rules: [
        alert('IdvHighServerErrorRatio', 'sum by (route) (rate(idv_http_requests_total{outcome="server_error"}[5m])) / sum by (route) (rate(idv_http_requests_total[5m])) > 0.05', '5m', 'page',
          'More than 5% of {{ $labels.route }} answers are server errors (5xx).'),
        alert('IdvRejectionSpike', 'sum by (party, status) (rate(idv_http_rejected_requests_total{status=~"401|403|413|429"}[5m])) > 10', '10m', 'ticket',
          'Party {{ $labels.party }} gets more than 10 answers/s with status {{ $labels.status }}: a broken client, an expired key or an attack.'),
        alert('IdvNotReady', 'min(idv_ready) == 0', '2m', 'page', 'The service has reported not ready for 2 minutes (store closed, starting or draining).'),
        alert('IdvEventLoopLag', 'histogram_quantile(0.99, sum by (instance, thread, le) (rate(idv_event_loop_delay_seconds_bucket[5m]))) > 0.05', '5m', 'ticket', 'Server thread {{ $labels.thread }} of {{ $labels.instance }} runs its timers more than 50 ms late at p99: it is CPU-saturated or blocked.'),
        // A thread stuck for good takes no samples at all, so the quantile above goes blank: a sampling rate far under 10/s is the sign.
        alert('IdvEventLoopStuck', 'sum by (instance, thread) (rate(idv_event_loop_delay_seconds_count[5m])) < 2', '5m', 'page', 'Server thread {{ $labels.thread }} of {{ $labels.instance }} has run its 100 ms timer less than twice a second for 5 minutes: it is blocked and its connections get no answers.'),
        alert('IdvCryptoPoolNearlyFull', 'idv_crypto_pool_queued_chips / idv_crypto_pool_queued_chips_limit > 0.8', '5m', 'ticket', 'The crypto pool is above 80% of its admission limit; chips will soon get 503 IDV_ERR_OVERLOADED.'),
        alert('IdvCryptoPoolRefusing', 'rate(idv_crypto_pool_rejected_chips_total[5m]) > 0', '5m', 'page', 'The crypto pool is refusing chips (503 IDV_ERR_OVERLOADED): add cores or raise IDV_CRYPTO_THREADS.'),
        alert('IdvFileDescriptorsNearLimit', 'process_open_fds / process_max_fds > 0.8', '5m', 'page', 'More than 80% of the open-file limit is used; new connections will be refused.'),
        alert('IdvAuditCheckpointStale', 'max by (instance) (idv_audit_checkpoint_age_seconds) > 10', '30s', 'page',
          'Audit entries on {{ $labels.instance }} have waited more than 10 s for a signed checkpoint: the log cannot sign or sync (see the service log); witnesses see nothing new.'),
        alert('IdvAuditWriteFailing', 'sum by (instance) (rate(idv_audit_write_failures_total[5m])) > 0', '1m', 'page',
          'The audit log on {{ $labels.instance }} cannot be written (disk full or I/O errors): verification answers are refused with 503 IDV_ERR_AUDIT_UNAVAILABLE.'),
        alert('IdvPartyLabelTableNearlyFull', 'idv_metrics_party_slots_used / idv_metrics_party_slots_limit > 0.9', '1h', 'ticket', 'Relying parties beyond the metrics label table are counted as party="other".')
      ]
    },
    {
      name: 'idv-enumeration',
      rules: [
        { record: 'idv:party_verdicts:rate5m', expr: 'sum by (party) (rate(idv_verify_outcomes_total[5m]))' },
        { record: 'idv:party_unknown_pin_ratio:rate5m', expr: 'sum by (party) (rate(idv_verify_outcomes_total{outcome="unknown"}[5m])) / sum by (party) (rate(idv_verify_outcomes_total[5m]))' },
        { record: 'idv:party_no_match_ratio:rate5m', expr: 'sum by (party) (rate(idv_verify_outcomes_total{outcome!="match"}[5m])) / sum by (party) (rate(idv_verify_outcomes_total[5m]))' },
        alert('IdvEnumerationSweep', 'idv:party_unknown_pin_ratio:rate5m > 0.2 and idv:party_verdicts:rate5m > 1', '10m', 'page',
          'Party {{ $labels.party }} asks mostly about PINs that are not registered ({{ $value | humanizePercentage }} unknown, over 1 verdict/s for 10 minutes): it may be sweeping PINs to learn who exists.'),
        alert('IdvHighNoMatchRatio', 'idv:party_no_match_ratio:rate5m > 0.5 and idv:party_verdicts:rate5m > 1', '30m', 'ticket',
          'More than half of party {{ $labels.party }}\'s verifications do not match ({{ $value | humanizePercentage }}): stale data on their side, or guessing attributes.')
      ]
    },
    {
      name: 'idv-fleet',
      rules: [
        // The producer (`idv publish`) is a command, not a service to scrape; what its outbox holds is what the fleet has
        // not applied everywhere: from the lowest applied sequence to the newest the stream holds (it prunes up to the former).
        { record: 'idv:fleet_outbox_changes', expr: 'max(idv_replication_stream_sequence) - min(idv_replication_applied_sequence)' },
        alert('IdvReplicationLagHigh', `max by (instance) (idv_replication_lag_seconds) > ${MAX_LAG_SECONDS}`, '2m', 'ticket',
          `Node {{ $labels.instance }} has been more than ${MAX_LAG_SECONDS} s behind the change feed for 2 minutes ({{ $value | humanizeDuration }}): it is cut off from NATS or cannot keep up; it answers /readyz 503.`),
        alert('IdvReplicaNotReady', 'max by (instance, state) (idv_replication_state == 1) and on (instance) (max by (instance) (idv_replication_ready) == 0)', '2m', 'page',
          'Node {{ $labels.instance }} has not been ready for 2 minutes (replication state {{ $labels.state }}): see its /readyz for the reason.'),
        alert('IdvReplicationStopped', 'max by (instance, state) (idv_replication_state{state=~"gap|other_key|conflict|needs_bootstrap"} == 1) or on (instance) (max by (instance) (delta(idv_replication_applied_sequence[10m])) == 0 and on (instance) max by (instance) (idv_replication_lag_changes) > 0)', '5m', 'page',
          'Node {{ $labels.instance }} has stopped applying the change feed: a gap waiting for a snapshot (idv snapshot publish), another hash key, a second writer, or no progress while behind.'),
        alert('IdvFleetOutboxGrowing', 'idv:fleet_outbox_changes > 10000 and delta(idv:fleet_outbox_changes[1h]) > 0', '30m', 'ticket',
          'The producer\'s outbox holds {{ $value }} changes and has grown for the last hour: a node stopped applying or reporting (idv fleet status), so the outbox cannot be pruned.')
      ]
    }
  ]
}

function alert (name, expr, forDuration, severity, summary) {
  return { alert: name, expr, for: forDuration, labels: { severity, service: 'idv' }, annotations: { summary } }
}

function burnAlert (name, record, long, short, factor, budget, severity, forDuration, summary, byScenario = false) {
  const threshold = +(factor * budget).toFixed(6)
  const on = byScenario ? ' and on (scenario) ' : ' and '
  return alert(name, `${record}:rate${long} > ${threshold}${on}${record}:rate${short} > ${threshold}`, forDuration, severity, summary)
}

// ---------- write or check ----------
const outputs = {
  'dashboards/idv-overview.json': overview,
  'dashboards/idv-slo.json': sloDashboard,
  'dashboards/idv-parties.json': parties,
  'dashboards/idv-chip.json': chip,
  'dashboards/idv-store-workers.json': storePool,
  'dashboards/idv-fleet.json': fleet
}
const files = Object.entries(outputs).map(([f, d]) => [f, `${JSON.stringify(d, null, 2)}\n`])
files.push(['alerts/idv-rules.yml', `# Generated by grafana/generate.mjs from bench/slo.json; edit the generator, not this file.\n${stringify(rules, { lineWidth: 0 })}`])

const check = process.argv.includes('--check')
let stale = 0
for (const [file, text] of files) {
  const path = join(here, file)
  if (check) {
    let current = ''
    try { current = readFileSync(path, 'utf8') } catch {}
    if (current !== text) { console.error(`grafana/${file} is out of date: run node grafana/generate.mjs`); stale++ }
  } else {
    mkdirSync(dirname(path), { recursive: true })
    writeFileSync(path, text)
  }
}
process.exitCode = stale === 0 ? 0 : 1
