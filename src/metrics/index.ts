/**
 * Metrics for SREs: the shared block every server thread records into
 * (shared-block.ts), the per-thread hot-path recorder (recorder.ts), the
 * prom-client registry that publishes the block on scrape (registry.ts), and
 * the metrics port (server.ts). Names and label values: layout.ts.
 */
import { availableParallelism } from 'node:os'
import { MetricsRecorder } from './recorder.js'
import { SharedBlock } from './shared-block.js'

export { Route, ROUTES, LATENCY_BUCKETS, PARTY_SLOTS } from './layout.js'
export { MetricsRecorder } from './recorder.js'
export { SharedBlock } from './shared-block.js'
export { createMetricsRegistry, type MetricsSources, type PoolStats, type BuildInfo } from './registry.js'
export { startMetricsServer, type MetricsServer } from './server.js'
export { readBuildInfo, countEstablished } from './sources.js'

/**
 * A new shared block with room for `stripes` recording threads and the main
 * thread's recorder on it. The default leaves room for a server thread per
 * core (at least 16) plus the main thread; stripes never written are pages the
 * OS never backs, so the headroom costs address space, not memory.
 */
export function createMetrics (stripes = Math.max(16, availableParallelism()) + 1): { block: SharedBlock, recorder: MetricsRecorder } {
  const block = SharedBlock.create(stripes)
  return { block, recorder: new MetricsRecorder(block) }
}
