/**
 * The audit capability: every answer (a verification, each batch item, each
 * chip check) and every look at a citizen's history is recorded in this
 * node's tamper-evident log before it is sent (audit-log.ts: an append-only
 * RFC 6962 tree over segment files, batched and fsynced, with signed C2SP
 * checkpoints; design in docs/design/audit.md). The process part owns the one
 * writer; other server threads reach it over a MessagePort (relay.ts). Each
 * thread offers AUDIT to the answering routes (trail.ts), answers the audit
 * routes (routes.ts) from the logs on disk (reader.ts), and reports the log
 * failed at /readyz. IDV_AUDIT=off: none of it.
 */
import { MessageChannel, type MessagePort } from 'node:worker_threads'
import { join } from 'node:path'
import { SCRAPE, serviceKey, type Capability, type CounterFamily, type ScrapeFamily } from '../capability.js'
import { ADMISSION } from '../admission/index.js'
import { AuditLog, type AuditStats } from './audit-log.js'
import { loadOrCreateAuditKey } from './audit-key.js'
import { AuditReader } from './reader.js'
import { AuditRelayClient, serveAuditRelay, type AuditSink } from './relay.js'
import { registerAuditRoutes } from './routes.js'
import { AuditTrail } from './trail.js'

export { AuditTrail } from './trail.js'
export type { AuditRecord } from './entry.js'
export { auditVerifyCommand, auditWatchCommand } from './audit-cli.js'

/** The service answering routes record through; absent when the audit log is off. */
export const AUDIT = serviceKey<AuditTrail>('audit')

export const AUDIT_ENTRIES: CounterFamily = {
  name: 'idv_audit_entries_total',
  help: 'Audit entries made durable (one per answer, batch item, chip check or history look).',
  labels: [],
  alwaysPublished: [0]
}

export const AUDIT_WRITE_FAILURES: CounterFamily = {
  name: 'idv_audit_write_failures_total',
  help: 'Audit entries that could not be written (their answers were refused with 503 instead).',
  labels: [],
  // Published at zero, so a rate (and its alert) exists before the first failure.
  alwaysPublished: [0]
}

/** What a server thread gets: the writer itself (main thread) or a port to it, and the failed flag all threads read. */
export type AuditShare = ({ readonly log: AuditLog } | { readonly port: MessagePort }) & { readonly failed: Int32Array, readonly verifierKey: string }

export function auditOrigin (node: string): string {
  return `idv.audit/${node}`
}

function scrapeFamilies (stats: AuditStats): ScrapeFamily[] {
  const one = (name: string, help: string, type: 'gauge' | 'counter', value: () => number): ScrapeFamily => ({ name, help, type, values: () => [{ labels: {}, value: value() }] })
  return [
    one('idv_audit_bytes_total', 'Bytes appended to the audit log\'s segment files.', 'counter', () => stats.bytes),
    one('idv_audit_tree_size', 'Entries in this node\'s audit tree.', 'gauge', () => stats.size),
    one('idv_audit_checkpoint_age_seconds', 'How long entries have waited for a checkpoint: seconds since the oldest entry no checkpoint covers was written (0 when the newest checkpoint covers the whole log).',
      'gauge', () => stats.uncoveredSince === 0 ? 0 : (Date.now() - stats.uncoveredSince) / 1000)
  ]
}

export const audit: Capability<AuditShare> = {
  name: 'audit',
  routes: [
    { method: 'GET', path: '/v1/audit/checkpoint' },
    { method: 'GET', path: '/v1/audit/key' },
    { method: 'GET', path: '/v1/audit/proof/inclusion' },
    { method: 'GET', path: '/v1/audit/proof/consistency' },
    { method: 'GET', path: '/v1/audit/citizens/:pin/accesses' },
    { method: 'GET', path: '/v1/audit/party/usage' }
  ],
  metrics: [AUDIT_ENTRIES, AUDIT_WRITE_FAILURES],
  async process (ctx) {
    const config = ctx.config
    if (!config.audit) return {}
    const origin = auditOrigin(config.auditNode)
    const signer = loadOrCreateAuditKey(config.auditKeyFile, auditOrigin(config.auditNode.replace(/-\d+$/, '')))
    const log = await AuditLog.open({
      dir: join(config.auditDir, config.auditNode),
      node: config.auditNode,
      origin,
      signer,
      segmentEntries: config.auditSegmentEntries,
      segmentSeconds: config.auditSegmentSeconds,
      retentionSeconds: config.auditRetentionDays * 86_400,
      checkpointMs: config.auditCheckpointMs,
      sync: config.auditSync,
      log: ctx.log
    })
    const failed = new Int32Array(new SharedArrayBuffer(4))
    log.onState = (failure) => { Atomics.store(failed, 0, failure === undefined ? 0 : 1) }
    for (const family of scrapeFamilies(log.stats)) ctx.use(SCRAPE)?.add(family)
    return {
      local: { log, failed, verifierKey: signer.verifierKey },
      share () {
        const channel = new MessageChannel()
        serveAuditRelay(log, channel.port1)
        channel.port1.unref()
        return { value: { port: channel.port2, failed, verifierKey: signer.verifierKey }, transfer: [channel.port2] }
      },
      serving: () => ({ audit: { log: log.options.dir, size: log.size } }),
      // After every server thread has drained: nothing can still append.
      close: async () => { await log.close() }
    }
  },
  thread (ctx, shared) {
    if (shared === undefined) return undefined
    const relay = 'port' in shared ? new AuditRelayClient(shared.port) : undefined
    const sink: AuditSink = relay ?? (shared as { log: AuditLog }).log
    const trail = new AuditTrail(sink, ctx.hashKey, { entries: ctx.counter(AUDIT_ENTRIES), failures: ctx.counter(AUDIT_WRITE_FAILURES) })
    ctx.provide(AUDIT, trail)
    const failed = shared.failed
    ctx.lifecycle.addReadinessCheck(() => Atomics.load(failed, 0) === 1 ? 'the audit log cannot be written (disk full or an I/O error, see the service log): answers are refused' : undefined)
    const reader = new AuditReader(ctx.config.auditDir, ctx.config.auditNode, 'log' in shared ? shared.log.index : undefined)
    const admission = ctx.use(ADMISSION)
    registerAuditRoutes(ctx.app, {
      reader,
      trail,
      verifierKey: shared.verifierKey,
      admission,
      ids: ctx.ids,
      lifecycle: ctx.lifecycle,
      log: ctx.log,
      partyName: (id) => admission?.party(id)?.name
    })
    return { close: async () => { relay?.close(); await reader.close() } }
  }
}
