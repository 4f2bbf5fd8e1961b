/**
 * Wires the metrics of a running service: a registry over the server's shared
 * block with the service's point-in-time sources (readiness, store, crypto
 * pool, open connections, build), served on the metrics port.
 */
import type { Config } from '../config.js'
import type { Logger } from '../log.js'
import type { RunningServer } from '../server.js'
import type { StorageCore } from '../store/types.js'
import { createMetricsRegistry } from './registry.js'
import { startMetricsServer, type MetricsServer } from './server.js'
import { cached, countEstablished, readBuildInfo } from './sources.js'

/** Starts the metrics port for `server`, or returns undefined when metrics are off. */
export async function startServiceMetrics (config: Config, server: RunningServer, store: StorageCore, log: Logger): Promise<MetricsServer | undefined> {
  if (server.metrics === undefined) return undefined
  const registry = createMetricsRegistry(server.metrics.block, {
    build: readBuildInfo(config.store),
    ready: () => server.lifecycle.ready,
    store: () => store.stats(),
    pool: () => server.chipPool?.poolStats(),
    // At most one read of the kernel's connection tables per minute, however often Prometheus scrapes:
    // with 40,000 sockets on the host a read costs ~150 ms of kernel time.
    openConnections: cached(async () => await countEstablished(server.port), 60_000)
  })
  return await startMetricsServer({
    host: config.host,
    port: config.metricsPort,
    registry,
    ready: () => server.lifecycle.ready,
    onError: (err) => { log.error({ err }, 'collecting metrics failed') }
  })
}
