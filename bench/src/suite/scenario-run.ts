/**
 * A scenario beside its baselines: each baseline server, then the service,
 * under the scenario's traffic shape (and again closed loop when the throughput
 * ratios need capacity phases); the raw loop (the verification work alone,
 * bench/src/lib/raw-loop.ts) between them where asked.
 */
import { availableParallelism } from 'node:os'
import { runRawLoop, type RawLoopResult } from '../lib/raw-loop.js'
import type { TrafficShape } from './traffic-shape.js'
import type { PhaseFigures } from './phase-figures.js'
import { runPhase } from './phase-runner.js'
import type { RunContext } from './run-context.js'

export interface ScenarioFigures {
  /** By phase label, at the scenario's traffic shape. */
  readonly phases: Record<string, PhaseFigures>
  /** By phase label, closed loop (empty unless options.capacity). */
  readonly capacityPhases: Record<string, PhaseFigures>
  readonly raw: RawLoopResult | null
}

export async function runScenario ({ options: { shape, baselines, capacity }, dataset, pool, group, servers, log }: RunContext): Promise<ScenarioFigures> {
  const phases: Record<string, PhaseFigures> = {}
  const capacityPhases: Record<string, PhaseFigures> = {}
  const closedLoop: TrafficShape = { ...shape, rate: 0, intervalMs: 0 }
  let raw: RawLoopResult | null = null
  for (const name of [...baselines, 'service' as const]) {
    if (name === 'raw') {
      const rawThreads = availableParallelism()
      log(`raw loop: ${rawThreads} thread(s), no HTTP; warm-up ${shape.warmupSeconds} s, measuring ${shape.durationSeconds} s`)
      raw = await runRawLoop({ dataDir: dataset.dataDir, hashKeyFile: dataset.hashKeyFile, requestsFile: pool.file, threads: rawThreads, warmupSeconds: shape.warmupSeconds, durationSeconds: shape.durationSeconds })
      continue
    }
    const phase = name === 'service' ? servers.service : servers.baselines[name]
    phases[phase.label] = await runPhase(group, phase, shape, pool.file, log)
    if (capacity) capacityPhases[phase.label] = await runPhase(group, phase, closedLoop, pool.file, log)
  }
  return { phases, capacityPhases, raw }
}
