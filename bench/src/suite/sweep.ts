/**
 * `--sweep`: the service alone at several offered rates, shares of its
 * capacity (given, or measured closed loop first), then a table, an SVG chart
 * of p50/p99/p99.9 against offered load (bench/src/lib/sweep-chart.ts) and a
 * JSON result beside it.
 */
import { writeFileSync } from 'node:fs'
import { sweepSvg, type SweepPoint } from '../lib/sweep-chart.js'
import { sweepShape, type TrafficShape } from './traffic-shape.js'
import type { PhaseFigures } from './phase-figures.js'
import { runPhase } from './phase-runner.js'
import { tableRow } from './report.js'
import { loadAverage, processCounts, resultFile, resultHeader } from './result-file.js'
import type { RunContext } from './run-context.js'

export interface SweepFigures {
  readonly capacityRps: number
  /** The closed-loop run that measured the capacity; null when --sweep-capacity gave it. */
  readonly measuredCapacity: PhaseFigures | null
  readonly points: Array<SweepPoint & { readonly figures: PhaseFigures }>
  /** The shape's notes and each point's. */
  readonly notes: string[]
}

/** Runs the sweep at `sweepPoints` (percentages of capacity, --sweep-points). */
export async function runSweep ({ options: { shape, sweepCapacity }, pool, group, servers, log }: RunContext, sweepPoints: readonly number[]): Promise<SweepFigures> {
  const closedLoop: TrafficShape = { ...shape, rate: 0, intervalMs: 0 }
  // The sweep: capacity (given, or the service closed loop), then the service paced at each share of it.
  let capacityRps = sweepCapacity
  let measuredCapacity: PhaseFigures | null = null
  if (capacityRps === undefined) {
    measuredCapacity = await runPhase(group, servers.service, closedLoop, pool.file, log)
    capacityRps = measuredCapacity.throughputRps
    log(`sweep: capacity ${capacityRps.toLocaleString('en')} req/s (closed loop, ${shape.connections} connections)`)
  }
  if (capacityRps <= 0) throw new Error('sweep: the closed-loop run answered nothing, so there is no capacity to take shares of')
  const points: Array<SweepPoint & { readonly figures: PhaseFigures }> = []
  const notes = [...shape.notes]
  for (const percent of sweepPoints) {
    const pointShape = sweepShape(shape, capacityRps, percent)
    notes.push(...pointShape.notes)
    const f = await runPhase(group, servers.service, pointShape, pool.file, log)
    points.push({ percent, offeredRps: pointShape.rate, throughputRps: f.throughputRps, latencyMs: f.latencyMs, errorRatio: f.errorRatio, figures: f })
  }
  return { capacityRps, measuredCapacity, points, notes }
}

/** Prints the sweep's table and writes its chart and JSON result. */
export function reportSweep (ctx: RunContext, { capacityRps, measuredCapacity, points, notes }: SweepFigures): void {
  const { options: { scenario, shape, serveArgs, sweepCapacity }, threads, group, git, log } = ctx
  const rows: Record<string, Record<string, string | number>> = {}
  if (measuredCapacity !== null) rows['closed loop'] = { offered: '–', ...tableRow(measuredCapacity) }
  for (const p of points) rows[`${p.percent}%`] = { offered: p.offeredRps, ...tableRow(p.figures) }
  log(`\n${scenario.name} sweep: ${shape.connections.toLocaleString('en')} connections, capacity ${capacityRps.toLocaleString('en')} req/s (${sweepCapacity === undefined ? 'measured closed loop' : 'given'}), ${shape.durationSeconds} s per point, ${shape.servers} server process(es) × ${threads} thread(s)`)
  console.table(rows)
  for (const n of notes) log(`note: ${n}`)
  const startedAt = new Date()
  const base = resultFile(ctx, startedAt, '-sweep')
  const svg = sweepSvg(points, {
    title: `${scenario.name}: latency vs offered load`,
    subtitle: `capacity ${capacityRps.toLocaleString('en')} req/s (${sweepCapacity === undefined ? 'measured' : 'given'}), ${shape.connections.toLocaleString('en')} connections, ${shape.durationSeconds} s per point, ${shape.servers}×${threads} threads, ${git}`
  })
  writeFileSync(`${base}.svg`, svg)
  writeFileSync(`${base}.json`, JSON.stringify({
    ...resultHeader(ctx),
    finishedAt: startedAt.toISOString(),
    loadAverage1m: loadAverage(ctx),
    load: { connections: shape.connections, durationSeconds: shape.durationSeconds, warmupSeconds: shape.warmupSeconds, citizens: shape.citizens, servers: shape.servers, threadsPerServer: threads, loadProcesses: shape.trafficProcesses, addresses: shape.addresses, serverArgs: serveArgs, mix: scenario.mix, notes },
    sweep: {
      capacityRps,
      capacitySource: sweepCapacity === undefined ? 'measured' : 'given',
      capacityRun: measuredCapacity,
      chart: `${base}.svg`,
      points: points.map(({ figures, ...p }) => ({ ...p, figures }))
    },
    processes: processCounts(group)
  }, null, 2) + '\n')
  log(`result: ${base}.json\nchart: ${base}.svg`)
}
