/**
 * The chip capability: POST /v1/chip/verify (route.ts) runs passive
 * authentication of a CCCD chip (passive-auth/, the ICAO 9303 library) on a
 * Piscina pool of crypto workers (pool.ts, worker.ts; chips of one event-loop
 * turn go as one task, batch.ts), then asks the register about the chip's
 * identity. The process part owns the one pool (when IDV_CSCA_DIR is set);
 * other server threads reach it over a MessagePort (relay.ts).
 */
import { MessageChannel, type MessagePort } from 'node:worker_threads'
import { SCRAPE, type Capability } from '../capability.js'
import type { Config } from '../config.js'
import { RecordCodec } from '../domain/record.js'
import { ADMISSION } from '../admission/index.js'
import { RECEIPTS } from '../receipts/index.js'
import { AUDIT } from '../audit/index.js'
import { Verifier } from '../verify/index.js'
import { ChipPool } from './pool.js'
import { CHIP_VERDICTS, poolFamilies } from './pool-metrics.js'
import { ChipRelayClient, serveChipRelay, type ChipSubmitter } from './relay.js'
import { registerChipRoutes } from './route.js'

export { ChipPool, ChipPoolError } from './pool.js'
export { CHIP_VERDICTS, type PoolStats } from './pool-metrics.js'

/** The main thread's server submits to the pool itself; another server thread, over a port to it. */
export type ChipShare = { readonly pool: ChipPool } | { readonly port: MessagePort }

export function createChipPool (config: Config): ChipPool {
  return new ChipPool({ threads: config.cryptoThreads, maxQueue: config.cryptoMaxQueue, trustDir: config.cscaDir, ...(config.crlFile !== '' ? { crlFile: config.crlFile } : {}) })
}

export const chip: Capability<ChipShare> = {
  name: 'chip',
  routes: [{ method: 'POST', path: '/v1/chip/verify', labelled: true }],
  metrics: [CHIP_VERDICTS],
  process (ctx) {
    if (ctx.config.cscaDir === '') {
      ctx.log.warn('IDV_CSCA_DIR is not set: /v1/chip/verify answers 503 until it is')
      return {}
    }
    const pool = createChipPool(ctx.config)
    for (const family of poolFamilies(() => pool.poolStats())) ctx.use(SCRAPE)?.add(family)
    return {
      local: { pool },
      share () {
        const channel = new MessageChannel()
        serveChipRelay(pool, channel.port1)
        channel.port1.unref()
        return { value: { port: channel.port2 }, transfer: [channel.port2] }
      },
      reload: () => { pool.reloadTrust() },
      // After every server thread has drained: none can still submit.
      close: async () => { await pool.close() }
    }
  },
  thread (ctx, shared) {
    const relay = shared !== undefined && 'port' in shared ? new ChipRelayClient(shared.port) : undefined
    const pool: ChipSubmitter | undefined = relay ?? (shared !== undefined && 'pool' in shared ? shared.pool : undefined)
    registerChipRoutes(ctx.app, {
      verifier: new Verifier(ctx.store, new RecordCodec(ctx.hashKey)),
      pool,
      ids: ctx.ids,
      log: ctx.log,
      maxBodyBytes: ctx.config.maxChipBodyBytes,
      lifecycle: ctx.lifecycle,
      route: ctx.route('/v1/chip/verify'),
      verdicts: ctx.counter(CHIP_VERDICTS),
      admission: ctx.use(ADMISSION),
      receipts: ctx.use(RECEIPTS),
      audit: ctx.use(AUDIT)
    })
    return { close: () => { relay?.close() } }
  }
}
