/**
 * The servers a run compares, as phases for the phase runner: the service
 * (`idv serve` over the benchmark dataset), and the baselines under the same
 * load and thread count, the uWS hello-world (bench/src/lib/baseline-server.ts)
 * and Fastify over the same store doing the same domain work
 * (bench/src/lib/fastify-server.ts).
 */
import { join } from 'node:path'
import { packageRoot } from '../../../dist/src/paths.js'
import { benchScript } from '../lib/bench-paths.js'
import type { Dataset } from '../lib/dataset.js'
import type { BaselineName } from '../lib/scenario.js'
import type { Phase } from './phase-runner.js'

export interface ServerPhases {
  readonly service: Phase
  readonly baselines: Readonly<Record<Exclude<BaselineName, 'raw'>, Phase>>
}

export interface ServerPhaseInputs {
  readonly dataset: Dataset
  /** Flags for every idv serve (run-options.ts serveOptions). */
  readonly serveArgs: readonly string[]
  /** Trust store for /v1/chip/verify, when the mix has chips. */
  readonly cscaDir: string | undefined
  /** Threads per server process, the same for every server. */
  readonly threads: number
  /** Node flags for the service's processes (--cpu-prof). */
  readonly profileArgs: readonly string[]
}

export function serverPhases ({ dataset, serveArgs, cscaDir, threads, profileArgs }: ServerPhaseInputs): ServerPhases {
  const cli = join(packageRoot(), 'dist', 'src', 'app', 'cli.js')
  const servicePhase: Phase = {
    label: 'service',
    checkAnswers: true,
    serverArgs: (host, port) => ({
      args: [...profileArgs, cli, 'serve', '--store', 'lmdb', '--data-dir', dataset.dataDir, '--hash-key-file', dataset.hashKeyFile, '--host', host, '--port', String(port), ...serveArgs, ...(cscaDir !== undefined ? ['--csca-dir', cscaDir] : [])],
      // Metrics stay on (they are part of the service's cost), each process on a free metrics port.
      env: { IDV_LOG_LEVEL: 'info', IDV_METRICS_PORT: '0' }
    }),
    ready: /"msg":"serving"/,
    readyPath: '/readyz'
  }
  const baselinePhases: Record<Exclude<BaselineName, 'raw'>, Phase> = {
    hello: {
      label: 'hello-world',
      checkAnswers: false,
      serverArgs: (host, port) => ({ args: [benchScript('lib', 'baseline-server.js')], env: { HOST: host, PORT: String(port), THREADS: String(threads) } }),
      ready: /listening \d+/
    },
    fastify: {
      label: 'fastify',
      // Same domain work, same answers: they are checked like the service's.
      checkAnswers: true,
      serverArgs: (host, port) => ({
        args: [benchScript('lib', 'fastify-server.js')],
        env: { HOST: host, PORT: String(port), THREADS: String(threads), DATA_DIR: dataset.dataDir, HASH_KEY_FILE: dataset.hashKeyFile, ...(cscaDir !== undefined ? { CSCA_DIR: cscaDir } : {}) }
      }),
      ready: /listening \d+/
    }
  }
  return { service: servicePhase, baselines: baselinePhases }
}
