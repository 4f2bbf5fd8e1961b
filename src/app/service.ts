/**
 * Runs the service until SIGTERM/SIGINT: open the store, check the hash key,
 * start the capabilities' process parts (src/app/capabilities.ts), serve on
 * every thread, and on a signal stop accepting, drain every thread, close the
 * process parts in reverse order, close the store and resolve.
 */
import { createServer as createNetServer, type AddressInfo } from 'node:net'
import type { Config } from '../config.js'
import { RecordCodec } from '../domain/record.js'
import { readHashKey } from '../files/hash-key-file.js'
import type { Logger } from '../log.js'
import { createServer, type RunningServer } from './server.js'
import { startServerThreads, type ServerThreads } from './server-threads.js'
import { CAPABILITIES, CATALOGUE } from './capabilities.js'
import { ProcessRuntime } from './runtime.js'
import { loadNativeUws } from '../http/uws.js'
import { bindHashKey, openStore, StoreFileError } from '../store/open.js'
import { inspectIndexDir } from '../store/inspect.js'
import { ListenError } from '../errors.js'
import { connectionBudget } from '../connection-budget.js'
import type { StorageCore } from '../store/types.js'

export interface RunningService {
  readonly server: RunningServer
  readonly store: StorageCore
  readonly url: string
  /** What the capabilities reported once serving (e.g. `metricsPort`), as in the `serving` log line. */
  readonly details: Readonly<Record<string, unknown>>
  /** Resolves once a shutdown signal has been handled. */
  readonly stopped: Promise<void>
  stop (): Promise<void>
}

/**
 * Below this many connections a process warns at start-up: one access point
 * holds one keep-alive connection, and the national network has tens of
 * thousands (the SLO suite runs 10,000 per process).
 */
const FEW_CONNECTIONS = 10_000

const finite = (n: number): number | 'unlimited' => Number.isFinite(n) ? n : 'unlimited'

export async function startService (config: Config, log: Logger, hashKey: Uint8Array = readHashKey(config.hashKeyFile)): Promise<RunningService> {
  loadNativeUws() // fail before touching the store if only the slow fallback is available
  if (!config.reusePort && config.port !== 0) await assertPortFree(config.host, config.port)
  const store = await openIndexForServing(config, hashKey)
  // uWS shares a port between threads only when every listener asks for it by number.
  if (config.threads > 1 && config.port === 0) config = { ...config, port: await freePort(config.host) }
  let parts: ProcessRuntime | undefined
  let server: RunningServer | undefined
  let threads: ServerThreads | undefined
  let details: Record<string, unknown>
  try {
    parts = await ProcessRuntime.start(CAPABILITIES, { config, log, store, hashKey, catalogue: CATALOGUE })
    server = await createServer(config, { store, hashKey, log, process: parts })
    threads = config.threads > 1
      ? await startServerThreads(config.threads - 1, server.port, { config, hashKey, log, store: store.shareHandle(), process: parts })
      : undefined
    details = await parts.serving({ port: server.port, lifecycle: server.lifecycle })
  } catch (err) {
    await server?.close(threads?.close())
    await parts?.close()
    await store.close()
    throw err
  }
  const processParts = parts
  const running = server
  const url = serviceUrl(config.host, server.port)
  const budget = await connectionBudget()
  const connections = budget === undefined ? {} : { openFileLimit: finite(budget.softLimit), connectionsAllowed: finite(budget.connections) }
  log.info({ url, threads: config.threads, ...details, store: config.store, entries: store.count(), auth: config.auth, receipts: config.auth === 'signatures' && config.receipts, ...connections }, 'serving')
  if (budget !== undefined && budget.connections < FEW_CONNECTIONS) {
    log.warn({ ...connections, hardLimit: finite(budget.hardLimit) }, `the open-file limit leaves room for only ${budget.connections} connections (one per access point) in this process, shared by all its threads: raise it (ulimit -n, systemd LimitNOFILE=, docker --ulimit nofile=) or run more processes (--processes N)`)
  }
  if (config.auth === 'none') log.warn('IDV_AUTH=none: requests are not authenticated (developer mode, loopback only)')

  let stopping: Promise<void> | undefined
  let resolveStopped!: () => void
  const stopped = new Promise<void>((resolve) => { resolveStopped = resolve })
  const stop = async (): Promise<void> => {
    stopping ??= (async () => {
      // Every thread stops accepting at once and answers what it accepted; then the process parts, in reverse order
      // (the metrics port last: probes see 503 on /readyz throughout the drain); then the store they read.
      await running.close(threads?.close())
      await processParts.close()
      await store.close()
      log.info('stopped')
      resolveStopped()
    })()
    return await stopping
  }
  const onReload = (): void => {
    log.info('SIGHUP: reloading the relying-party registry, receipt keys and CSCA trust store')
    running.reload()
    threads?.reload()
    processParts.reload()
  }
  const onSignal = (signal: NodeJS.Signals): void => {
    log.info({ signal }, 'shutting down')
    process.off('SIGTERM', onSignal)
    process.off('SIGINT', onSignal)
    process.off('SIGHUP', onReload)
    void stop()
  }
  process.on('SIGTERM', onSignal)
  process.on('SIGINT', onSignal)
  process.on('SIGHUP', onReload)
  return { server: running, store, url, details, stopped, stop }
}

/**
 * Opens the index to serve it. Serving never creates one: a typo in --data-dir
 * would otherwise answer every citizen `unknown`. So the index must exist, pass
 * the engine's checks, match the hash key and record layout, and hold citizens
 * unless IDV_ALLOW_EMPTY says an empty one is expected.
 */
export async function openIndexForServing (config: Config, hashKey: Uint8Array): Promise<StorageCore> {
  const empty = (): StoreFileError => new StoreFileError(`the index at ${config.dataDir} holds no citizens, so every answer would be "unknown": load one with idv load, or pass --allow-empty (IDV_ALLOW_EMPTY) for a replica that fills from a feed`)
  // An empty directory is refused before the engine writes its files into it.
  if (inspectIndexDir(config.store, config.dataDir) === 'empty' && !config.allowEmpty) throw empty()
  const store = await openStore(config.store, config.dataDir, { mustExist: true })
  try {
    await bindHashKey(store, new RecordCodec(hashKey))
    if (store.count() === 0 && !config.allowEmpty) throw empty()
    return store
  } catch (err) {
    await store.close()
    throw err
  }
}

/** The cluster supervisor's check before it forks: what a member would refuse, refused once. */
export async function checkIndex (config: Config): Promise<void> {
  await (await openIndexForServing(config, readHashKey(config.hashKeyFile))).close()
}

/** The base URL of a service listening on host:port (IPv6 literals bracketed). */
export function serviceUrl (host: string, port: number): string {
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`
}

/**
 * Refuses a port another process already serves. uWS listens with SO_REUSEPORT
 * (that is how threads and cluster members share one port), so a second
 * `idv serve` on a busy port would start silently and take half of its
 * connections, even over another index. A plain listen, without
 * SO_REUSEPORT, fails on such a port.
 */
export async function assertPortFree (host: string, port: number): Promise<void> {
  const probe = createNetServer()
  await new Promise<void>((resolve, reject) => {
    probe.once('error', (err: NodeJS.ErrnoException) => {
      reject(err.code === 'EADDRINUSE'
        ? new ListenError(`cannot listen on ${host}:${port}: the port is in use by another process; stop it, choose another (--port, IDV_PORT; 0 picks a free one), or pass --reuse-port (IDV_REUSE_PORT) to share it with another idv serve on purpose`)
        : new ListenError(`cannot listen on ${host}:${port}: ${err.code ?? err.message} (--port, IDV_PORT; --host, IDV_HOST)`))
    })
    probe.listen({ host, port, exclusive: true }, resolve)
  })
  await new Promise<void>((resolve) => probe.close(() => { resolve() }))
}

/** A port free on `host` right now (for `port 0` with several threads). */
export async function freePort (host: string): Promise<number> {
  const probe = createNetServer()
  await new Promise<void>((resolve, reject) => { probe.once('error', reject); probe.listen(0, host, resolve) })
  const port = (probe.address() as AddressInfo).port
  await new Promise<void>((resolve) => probe.close(() => { resolve() }))
  return port
}
