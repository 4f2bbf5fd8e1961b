/**
 * The report of a scenario run: the ratios against the baselines, the SLO
 * verdict (bench/slo.json), the printed table and notes, the comparison with
 * an earlier result (--compare), and the JSON result in bench/results/. The
 * exit code is the verdict's: 0 when every target held, 1 when one was missed.
 */
import { writeFileSync } from 'node:fs'
import { compareResults, formatComparison } from '../lib/compare.js'
import type { RawLoopResult } from '../lib/raw-loop.js'
import { evaluateSlo, type SloVerdict } from '../lib/slo.js'
import type { TrafficShape } from './traffic-shape.js'
import type { PhaseFigures } from './phase-figures.js'
import { computeRatios, unjudgedRatios, type Ratios } from './ratios.js'
import { loadAverage, processCounts, resultFile, resultHeader } from './result-file.js'
import type { RunContext } from './run-context.js'
import type { ScenarioFigures } from './scenario-run.js'

/** Judges, prints and writes the result of runScenario; returns the exit code. */
export function reportScenario (ctx: RunContext, { phases, capacityPhases, raw }: ScenarioFigures): number {
  const { options: { scenario, shape, slo, serveArgs, baselines, capacity, helloWorkUs, earlier }, threads, group, git, log } = ctx
  const service = phases.service!
  const ratios = computeRatios(phases, capacity ? capacityPhases : null, raw)
  const verdict = evaluateSlo(slo.scenarios[scenario.name], {
    latencyMs: service.latencyMs,
    errorRatio: service.errorRatio,
    throughputRps: service.throughputRps,
    // Held: the lowest count sampled inside the window (the peak when no sample fell in it).
    connectionsHeld: service.connections.minEstablishedMeasured ?? service.connections.peakEstablished,
    recordsPerSecond: service.recordsPerSecond,
    unjudged: unjudgedRatios(shape.rate > 0 && !capacity, helloWorkUs),
    ratios: {
      ...(ratios?.recordsVsRawLoop != null ? { recordsVsRawLoop: ratios.recordsVsRawLoop } : {}),
      ...(ratios?.throughput != null ? { throughputVsHello: ratios.throughput } : {}),
      ...(ratios?.throughputVsFastify != null ? { throughputVsFastify: ratios.throughputVsFastify } : {})
    }
  })
  const startedAt = new Date()
  const result = {
    ...resultHeader(ctx),
    finishedAt: startedAt.toISOString(),
    loadAverage1m: loadAverage(ctx),
    load: {
      connections: shape.connections,
      rate: shape.rate,
      mode: shape.rate === 0 ? 'closed-loop' : 'paced',
      perConnectionIntervalMs: shape.intervalMs,
      durationSeconds: shape.durationSeconds,
      warmupSeconds: shape.warmupSeconds,
      citizens: shape.citizens,
      servers: shape.servers,
      threadsPerServer: threads,
      // The result keeps the key's first name, so --compare reads results of earlier versions.
      loadProcesses: shape.trafficProcesses,
      addresses: shape.addresses,
      serverArgs: serveArgs,
      baselines,
      capacityPhase: capacity,
      mix: scenario.mix,
      notes: shape.notes
    },
    ...service,
    baseline: phases['hello-world'] ?? null,
    fastify: phases.fastify ?? null,
    capacity: capacity ? capacityPhases : null,
    rawLoop: raw,
    ratios,
    slo: verdict,
    processes: processCounts(group)
  }
  const comparison = earlier === undefined ? null : compareResults(earlier.result, result, earlier.file)
  printTable(scenario.name, shape, threads, phases, capacity ? capacityPhases : null, raw, ratios, verdict, log)
  if (comparison !== null) log(formatComparison(comparison, git))
  const file = `${resultFile(ctx, startedAt)}.json`
  writeFileSync(file, JSON.stringify(comparison === null ? result : { ...result, comparison }, null, 2) + '\n')
  log(`result: ${file}`)
  return verdict.pass ? 0 : 1
}

export function tableRow (f: PhaseFigures): Record<string, string | number> {
  return {
    'conns peak': f.connections.peakEstablished,
    'req/s': f.throughputRps,
    'p50 ms': f.latencyMs.p50,
    'p90 ms': f.latencyMs.p90,
    'p99 ms': f.latencyMs.p99,
    'p99.9 ms': f.latencyMs.p999,
    'max ms': f.latencyMs.max,
    sent: f.requests.sent,
    ok: f.requests.ok,
    wrong: f.requests.wrongAnswer,
    'non-2xx': f.requests.non2xx,
    errors: f.requests.errors,
    timeouts: f.requests.timeouts,
    'cores srv/traffic/all': `${f.coresUsed.servers}/${f.coresUsed.load}/${f.coresUsed.machine}`,
    'srv µs/answer': f.serverCpuUsPerAnswer ?? '–'
  }
}

function printTable (scenario: string, shape: TrafficShape, threads: number, phases: Record<string, PhaseFigures>, capacity: Record<string, PhaseFigures> | null, raw: RawLoopResult | null, ratios: Ratios | null, verdict: SloVerdict, log: (s: string) => void): void {
  log(`\n${scenario}: ${shape.connections.toLocaleString('en')} connections, ${shape.rate === 0 ? 'closed loop' : `${shape.rate.toLocaleString('en')} req/s paced`}, ${shape.durationSeconds} s measured, ${shape.servers} server process(es) × ${threads} thread(s), ${shape.trafficProcesses} traffic process(es), ${shape.addresses.length} address(es)`)
  const rows: Record<string, Record<string, string | number>> = {}
  for (const [label, f] of Object.entries(phases)) rows[label] = tableRow(f)
  for (const [label, f] of Object.entries(capacity ?? {})) rows[`${label} closed loop`] = tableRow(f)
  console.table(rows)
  const service = phases.service!
  const pct = (x: number | null): string => x === null ? '–' : `${(x * 100).toFixed(1)}%`
  if (ratios !== null) {
    const basis = ratios.throughputBasis === 'closed-loop' ? 'closed loop' : 'as run'
    const cpu = (x: number | null): string => x === null ? '' : `, its server CPU per answer ${x < 0.1 ? x.toPrecision(2) : x.toFixed(2)}× the service's`
    if (ratios.throughput !== null) log(`service / hello-world: throughput ${pct(ratios.throughput)} (${basis})${cpu(ratios.cpuPerAnswerVsHello)}, p99 ${service.latencyMs.p99} vs ${phases['hello-world']!.latencyMs.p99} ms`)
    if (ratios.recordsVsRawLoop !== null && raw !== null) log(`service / raw loop: ${pct(ratios.recordsVsRawLoop)} of verified records/s (${basis}): ${(capacity?.service ?? service).recordsPerSecond.toLocaleString('en')} vs ${raw.recordsPerSecond.toLocaleString('en')} on ${raw.threads} threads (${raw.cpuUsPerRecord} µs CPU per record, ${(raw.matchShare * 100).toFixed(1)}% matches)`)
    if (ratios.throughputVsFastify !== null) log(`service / Fastify: throughput ${ratios.throughputVsFastify.toFixed(2)}× (${basis})${cpu(ratios.cpuPerAnswerVsFastify)}, p99 ${service.latencyMs.p99} vs ${phases.fastify!.latencyMs.p99} ms`)
  }
  log(`answers per server instance: ${service.serverInstances.map((s) => `${s.id} ${(s.share * 100).toFixed(1)}%`).join(', ')}`)
  log(`connections per address (peak): ${Object.entries(service.connectionsByAddress).map(([a, n]) => `${a} ${n}`).join(', ')}`)
  for (const [kind, c] of Object.entries(service.byKind)) log(`  ${kind}: ${c.sent} sent, ${c.ok} ok, ${c.wrong} wrong, ${c.non2xx} non-2xx, ${c.errors} errors, ${c.timeouts} timeouts`)
  for (const [label, f] of Object.entries({ ...phases, ...Object.fromEntries(Object.entries(capacity ?? {}).map(([l, f]) => [`${l} closed loop`, f])) })) {
    const bad = f.requests.wrongAnswer + f.requests.non2xx + f.requests.errors + f.requests.timeouts
    if (label !== 'service' && bad > 0) log(`  ${label}: ${bad} of ${f.requests.sent} not ok${f.firstError !== undefined ? ` (${f.firstError})` : ''}`)
  }
  for (const n of shape.notes) log(`note: ${n}`)
  if (service.firstError !== undefined) log(`first error: ${service.firstError}`)
  if (verdict.targets === null) log('SLO: no targets for this scenario')
  else log(verdict.pass ? 'SLO: PASS' : `SLO: FAIL\n  ${verdict.violations.join('\n  ')}`)
  for (const n of verdict.notJudged) log(`SLO: not judged: ${n}`)
}
