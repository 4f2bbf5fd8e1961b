/**
 * The SLO suite: `npm run bench -- <scenario> [--duration S] [--connections N]
 * [--rate R] [--citizens N] [--slo FILE]` (bench/src/suite/run-options.ts has
 * every option).
 *
 * One run: build or reuse the dataset (LMDB), prebuild the scenario's requests,
 * start the server processes (`idv serve`, several on one port: uWS sets
 * SO_REUSEPORT, and each is bound to its own loopback address 127.0.0.x so the
 * per-process open-file limit of 20,000 is never reached), fork the traffic
 * processes (bench/src/lib/traffic-worker.ts), wait until every connection is open,
 * warm up, measure, stop everything. The baselines get the same traffic shape
 * and thread count first: the uWS hello-world (bench/src/lib/baseline-server.ts)
 * and, for scenarios that ask for it, Fastify over the same store
 * (bench/src/lib/fastify-server.ts); `--baseline` picks them. For a paced
 * scenario each server is also run closed loop (`--capacity`), because a
 * throughput ratio means something only when both servers saturate. The raw
 * loop (bench/src/lib/raw-loop.ts: the verification work alone on every core, no
 * HTTP) runs between the baselines and the service where asked (telco-batch). The kernel's count of established connections is sampled
 * throughout (`ss`), latency histograms of all traffic processes are merged
 * (hdr-histogram-js), and each server instance's share of answers is counted
 * from the x-request-id prefix. The result goes to bench/results/ as JSON, a
 * table is printed, and the exit code is 1 when a target of bench/slo.json is
 * missed (2 for a usage error, 3 when the run itself failed).
 *
 * This module wires the phases of a run together; each is a module of
 * bench/src/suite/: the options and traffic shape (run-options.ts,
 * traffic-shape.ts), the servers compared (server-phases.ts), the phase runner
 * and its measurements (phase-runner.ts, phase-figures.ts), the two kinds of
 * run (scenario-run.ts, sweep.ts) and the report (ratios.ts, report.ts,
 * result-file.ts).
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { packageRoot } from '../../dist/src/paths.js'
import { ensureDataset } from './lib/dataset.js'
import { ProcessGroup } from './lib/processes.js'
import { buildRequestPool } from './lib/request-pool.js'
import { serviceThreads } from './suite/traffic-shape.js'
import { reportScenario } from './suite/report.js'
import { gitDescribe } from './suite/result-file.js'
import type { RunContext } from './suite/run-context.js'
import { parseRunOptions } from './suite/run-options.js'
import { runScenario } from './suite/scenario-run.js'
import { serverPhases } from './suite/server-phases.js'
import { reportSweep, runSweep } from './suite/sweep.js'
import { runTelcoStream } from './suite/telco-stream.js'

export async function runBenchCli (argv: string[]): Promise<number> {
  // A bulk job is not request traffic: its own runner (bench/src/suite/telco-stream.ts).
  if (argv[0] === 'telco-stream') return await runTelcoStream(argv.slice(1))
  const log = (s: string): void => { console.error(s) }
  const options = await parseRunOptions(argv, log)
  if (typeof options === 'number') return options
  const { scenario, shape, baselines, capacity, sweepPoints, sweepCapacity } = options
  const threads = serviceThreads(shape)

  const dataset = await ensureDataset('lmdb', shape.citizens, 1, log)
  // Other work on a shared machine shows here: 1-minute load average before and after.
  const loadAverageBefore = loadavg()[0]!
  const scratch = mkdtempSync(join(tmpdir(), 'idv-bench-'))
  const group = new ProcessGroup()
  const onSignal = (signal: NodeJS.Signals): void => {
    log(`${signal}: stopping every process this run started`)
    void group.stopAll(2000).finally(() => { rmSync(scratch, { recursive: true, force: true }); process.exit(130) })
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  // A run is bounded (a guard against hangs, not a schedule): per phase, start-up and
  // connecting (≤ 5 s per 1,000 connections), warm-up, window and drain.
  const servers = baselines.filter((b) => b !== 'raw').length + 1
  const phaseCount = sweepPoints !== undefined
    ? sweepPoints.length + (sweepCapacity === undefined ? 1 : 0)
    : servers * (capacity ? 2 : 1) + (baselines.includes('raw') ? 1 : 0)
  const budgetMs = phaseCount * (180_000 + 5 * shape.connections + (shape.warmupSeconds + shape.durationSeconds) * 1000 + 60_000)
  const watchdog = setTimeout(() => {
    log(`run exceeded its ${Math.round(budgetMs / 1000)} s bound: stopping everything`)
    for (const pid of group.pids) { try { process.kill(pid, 'SIGKILL') } catch { /* already gone */ } }
  }, budgetMs)
  watchdog.unref()
  const pool = buildRequestPool(scenario.mix, shape.citizens, scratch)
  // Node writes one profile per thread when the process exits (the service exits cleanly on SIGTERM).
  const profileArgs = options.cpuProfDir === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', options.cpuProfDir]
  try {
    const ctx: RunContext = {
      options,
      threads,
      dataset,
      pool,
      group,
      servers: serverPhases({ dataset, serveArgs: options.serveArgs, cscaDir: pool.cscaDir, threads, profileArgs }),
      git: gitDescribe(packageRoot()),
      loadAverageBefore,
      log
    }
    if (sweepPoints !== undefined) {
      reportSweep(ctx, await runSweep(ctx, sweepPoints))
      return 0
    }
    return reportScenario(ctx, await runScenario(ctx))
  } catch (err) {
    log(`bench: ${(err as Error).message}`)
    return 3
  } finally {
    await group.stopAll()
    group.dispose()
    clearTimeout(watchdog)
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
    pool.cleanup()
    rmSync(scratch, { recursive: true, force: true })
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await runBenchCli(process.argv.slice(2))
}
