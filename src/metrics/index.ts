/**
 * The metrics capability: what SREs scrape. The process part lays out one
 * shared block from the capability list's catalogue (layout.ts,
 * shared-block.ts) and, once the public port listens, serves the registry
 * (registry.ts) on the metrics port (server.ts). Each server thread records
 * into its own stripe through a MetricsRecorder (recorder.ts): it observes
 * every request of the thread's lifecycle and hands out counters for the
 * families other capabilities declared. IDV_METRICS=off: nothing at all.
 */
import { COUNTERS, SCRAPE, type Capability, type ScrapeFamily } from '../capability.js'
import { Layout } from './layout.js'
import { MetricsRecorder } from './recorder.js'
import { createMetricsRegistry } from './registry.js'
import { startMetricsServer, type MetricsServer } from './server.js'
import { SharedBlock } from './shared-block.js'
import { cached, countEstablished, readBuildInfo } from './sources.js'

export { LATENCY_BUCKETS, PARTY_SLOTS, Layout } from './layout.js'
export { MetricsRecorder } from './recorder.js'
export { SharedBlock } from './shared-block.js'
export { createMetricsRegistry, type MetricsSources, type BuildInfo } from './registry.js'
export { startMetricsServer, type MetricsServer } from './server.js'
export { readBuildInfo, countEstablished } from './sources.js'

export const metrics: Capability<SharedArrayBuffer> = {
  name: 'metrics',
  process (ctx) {
    if (!ctx.config.metrics) return {}
    // A stripe per server thread, and one spare (stripes never written are pages the OS never backs).
    const block = SharedBlock.create(new Layout(ctx.catalogue), ctx.config.threads + 1)
    const families: ScrapeFamily[] = []
    ctx.provide(SCRAPE, { add: (family) => { families.push(family) } })
    let server: MetricsServer | undefined
    return {
      local: block.buffer,
      share: () => ({ value: block.buffer }),
      async serving ({ port, lifecycle }) {
        const registry = createMetricsRegistry(block, {
          build: readBuildInfo(ctx.config.store),
          ready: () => lifecycle.notReady() === undefined,
          store: () => ctx.store.stats(),
          // At most one read of the kernel's connection tables per minute, however often Prometheus scrapes:
          // with 40,000 sockets on the host a read costs ~150 ms of kernel time.
          openConnections: cached(async () => await countEstablished(port), 60_000),
          families: () => families
        })
        server = await startMetricsServer({
          host: ctx.config.host,
          port: ctx.config.metricsPort,
          registry,
          notReady: () => lifecycle.notReady(),
          onError: (err) => { ctx.log.error({ err }, 'collecting metrics failed') }
        })
        return { metricsPort: server.port }
      },
      // Last of all (metrics is first in the list): probes see 503 on /readyz while the others drain.
      close: async () => { await server?.close() }
    }
  },
  thread (ctx, buffer) {
    if (buffer === undefined) return undefined
    const recorder = MetricsRecorder.attach(buffer, ctx.catalogue)
    ctx.lifecycle.observe(recorder)
    ctx.provide(COUNTERS, recorder)
    const stopLoopWatch = recorder.watchEventLoop()
    return { close: stopLoopWatch }
  }
}

/** A block and a recorder on it for `catalogue` (tests and benchmarks that record without a server). */
export function createMetrics (catalogue: ConstructorParameters<typeof Layout>[0], stripes = 2): { block: SharedBlock, recorder: MetricsRecorder } {
  const block = SharedBlock.create(new Layout(catalogue), stripes)
  return { block, recorder: new MetricsRecorder(block) }
}
