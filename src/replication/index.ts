/**
 * The replication capability: a node of the fleet follows the registry's
 * change feed on NATS JetStream (`idv serve --replicate nats://…`). The process
 * part runs the replicator (replicator.ts) on the main thread, which owns the
 * writable store; every server thread's /readyz reads the replica's state from
 * shared memory (status.ts) and answers 503 with the reason while the node is
 * behind by more than IDV_MAX_LAG_SECONDS, has met a gap, or has not reached
 * the feed yet. On a gap it re-bootstraps in place from a snapshot
 * (rebootstrap.ts), which src/app/capabilities.ts hands in as a SnapshotSource
 * (the Object Store code is a tool, src/fleet/snapshots.ts). Metrics: applied
 * sequence, lag, apply totals and time, state, re-bootstraps.
 * Without IDV_REPLICATE it does nothing (a single node, as `npm start` runs).
 *
 * The tools that feed the fleet (`idv publish`, `idv snapshot publish`,
 * `idv fleet status`: src/fleet/) use what this entry exports.
 */
import { SCRAPE, type Capability, type Sample } from '../capability.js'
import { RecordCodec } from '../domain/record.js'
import { BOOTSTRAP_STATES, type SnapshotSource } from './rebootstrap.js'
import { Replicator } from './replicator.js'
import { ReplicaStatus, STATE_NAMES } from './status.js'
import { KEY_TAG_BYTES } from './wire.js'

export { parseChangeLine, validateChange, type Change, type ChangeResult } from './change.js'
export { encodeChange, decodeChange, wireSeq, KEY_TAG_BYTES, type WireChange } from './wire.js'
export { applyBatch, appliedSequence, sequenceMeta, type ApplyResult, type FeedMessage } from './apply.js'
export { STREAM, SUBJECT, FLEET_BUCKET, SNAPSHOT_BUCKET, DUPLICATE_WINDOW_MS, nodeKey, nanos, serverList, connectFleet, ensureStream, fleetManager, isTransient, patiently } from './feed.js'
export { Replicator, type NodeReport } from './replicator.js'
export { ReplicaStatus, ReplicaState, STATE_NAMES } from './status.js'
export { BOOTSTRAP_STATES, type SnapshotSource } from './rebootstrap.js'

/** The key tag a node and its producer share: the first bytes of the hash key's fingerprint. */
export function keyTagOf (hashKey: Uint8Array): Uint8Array {
  return new RecordCodec(hashKey).keyFingerprint().subarray(0, KEY_TAG_BYTES)
}

/** The capability; with `snapshots`, a node that meets a gap re-bootstraps from them instead of waiting for a restart. */
export const replicationCapability = (snapshots?: SnapshotSource): Capability<SharedArrayBuffer> => ({
  name: 'replication',
  process (ctx) {
    if (ctx.config.replicate === '') return {}
    const status = new ReplicaStatus(ctx.config.maxLagSeconds)
    const replicator = new Replicator({
      servers: ctx.config.replicate,
      nodeId: ctx.config.nodeId,
      store: ctx.store,
      keyTag: keyTagOf(ctx.hashKey),
      status,
      log: ctx.log.child({ replication: ctx.config.nodeId }),
      ...(snapshots === undefined
        ? {}
        : { rebootstrap: { snapshots, engine: ctx.config.store, dataDir: ctx.config.dataDir, keyFingerprint: new RecordCodec(ctx.hashKey).keyFingerprint() } })
    })
    const gauge = (name: string, help: string, value: () => number): void => {
      ctx.use(SCRAPE)?.add({ name, help, type: 'gauge', values: () => [{ labels: {}, value: value() }] })
    }
    const counter = (name: string, help: string, value: () => number): void => {
      ctx.use(SCRAPE)?.add({ name, help, type: 'counter', values: () => [{ labels: {}, value: value() }] })
    }
    gauge('idv_replication_applied_sequence', 'The last change-feed sequence applied to this node\'s index.', () => status.applied)
    gauge('idv_replication_stream_sequence', 'The change feed\'s last sequence, as last seen by this node.', () => status.last)
    gauge('idv_replication_lag_changes', 'Changes in the feed this node has not applied.', () => status.lagChanges)
    gauge('idv_replication_lag_seconds', 'How long ago this node last held every change of the feed.', () => status.lagSeconds)
    gauge('idv_replication_ready', 'Whether replication lets this node take traffic (1) or not (0).', () => status.notReadyReason() === undefined ? 1 : 0)
    counter('idv_replication_changes_applied_total', 'Changes applied to this node\'s index since start (refused ones included: their sequence is consumed).', () => replicator.counts.applied)
    counter('idv_replication_changes_refused_total', 'Changes refused (malformed, a status change for an unknown PIN): nothing of them written.', () => replicator.counts.rejected)
    counter('idv_replication_duplicates_total', 'Redelivered changes skipped because the index already held them.', () => replicator.counts.duplicates)
    counter('idv_replication_apply_batches_total', 'Apply transactions committed (a batch holds what arrived while the previous one committed).', () => replicator.counts.batches)
    counter('idv_replication_apply_seconds_total', 'Time spent in apply transactions: its rate is the share of one core the applier uses.', () => replicator.counts.applySeconds)
    counter('idv_replication_bootstraps_total', 'Re-bootstraps from a snapshot completed since start (after a gap, or a stream that no longer holds the changes after the index).', () => replicator.counts.bootstraps)
    gauge('idv_replication_bootstrap_seconds', 'How long the last re-bootstrap took, from stopping at the gap to the index moved to the snapshot, the wait for a snapshot included (0: none since start).', () => replicator.counts.bootstrapSeconds)
    gauge('idv_replication_bootstrap_snapshot_sequence', 'The sequence of the snapshot last restored by a re-bootstrap (0: none since start).', () => replicator.counts.bootstrapSnapshotSequence)
    ctx.use(SCRAPE)?.add({
      name: 'idv_replication_bootstrap_state',
      help: 'Re-bootstrap (1 for the current state): idle, waiting_for_snapshot (none covers the gap yet), restoring, failed (tried again).',
      type: 'gauge',
      values: (): Sample[] => BOOTSTRAP_STATES.map((state) => ({ labels: { state }, value: replicator.bootstrapState === state ? 1 : 0 }))
    })
    ctx.use(SCRAPE)?.add({
      name: 'idv_replication_state',
      help: 'The replica\'s state (1 for the current one): connecting, following, gap, other_key, conflict, needs_bootstrap.',
      type: 'gauge',
      values: (): Sample[] => STATE_NAMES.map((state, i) => ({ labels: { state }, value: status.state === i ? 1 : 0 }))
    })
    replicator.start()
    return {
      local: status.buffer,
      share: () => ({ value: status.buffer }),
      serving: () => ({ replicating: ctx.config.nodeId, applied: replicator.applied }),
      close: async () => { await replicator.stop() }
    }
  },
  thread (ctx, buffer) {
    if (buffer === undefined) return undefined
    const status = new ReplicaStatus(ctx.config.maxLagSeconds, buffer)
    ctx.lifecycle.addReadinessCheck(() => status.notReadyReason())
    return undefined
  }
})
