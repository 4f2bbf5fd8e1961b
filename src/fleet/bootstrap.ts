/**
 * What `idv serve --replicate` does before it serves: bring the index to where
 * the feed can carry it. A node with no index, an empty one, or one older than
 * the oldest change the stream still holds restores the newest snapshot from
 * the Object Store (src/fleet/snapshots.ts); the replication capability then
 * replays the feed from the snapshot's sequence. A node with no snapshot to
 * take and a feed that starts at seq 1 starts from an empty index. If NATS
 * cannot be reached, the node serves what it has (not ready until it reaches
 * the feed).
 */
import type { Config } from '../config.js'
import { RecordCodec } from '../domain/record.js'
import type { Logger } from '../log.js'
import { appliedSequence, connectFleet, fleetManager, STREAM } from '../replication/index.js'
import { inspectIndexDir } from '../store/inspect.js'
import { bindHashKey, openStore } from '../store/open.js'
import { bootstrapFromSnapshot, newestSnapshot } from './snapshots.js'

export interface PrepareResult {
  /** What was done: nothing, a snapshot restored, an empty index made. */
  readonly action: 'none' | 'restored' | 'created-empty' | 'unreachable'
  readonly applied: number
}

export async function prepareReplica (config: Config, hashKey: Uint8Array, log: Logger): Promise<PrepareResult> {
  const codec = new RecordCodec(hashKey)
  let count = 0
  let applied = 0
  if (inspectIndexDir(config.store, config.dataDir) === 'index') {
    const store = await openStore(config.store, config.dataDir, { mustExist: true })
    try {
      count = store.count()
      applied = appliedSequence(store)
    } finally {
      await store.close()
    }
  }
  let nc
  try {
    nc = await connectFleet(config.replicate, { name: `idv-bootstrap-${config.nodeId}` })
  } catch (err) {
    log.warn({ err: String(err) }, 'the change feed cannot be reached: serving the index as it is, not ready until the feed is reached')
    await ensureIndex(config, codec)
    return { action: 'unreachable', applied }
  }
  try {
    const jsm = await fleetManager(nc)
    const info = await jsm.streams.info(STREAM).catch(() => undefined)
    const first = info === undefined || info.state.messages === 0 ? applied + 1 : info.state.first_seq
    const behindStream = first > applied + 1
    if (count > 0 && !behindStream) return { action: 'none', applied }
    const newest = await newestSnapshot(nc, config.store)
    if (newest !== undefined && (newest.manifest.sequence ?? 0) > applied) {
      log.info({ snapshot: newest.info.name, sequence: newest.manifest.sequence, count: newest.manifest.count }, 'bootstrapping from the newest snapshot')
      const restored = await bootstrapFromSnapshot({ nc, engine: config.store, dataDir: config.dataDir, keyFingerprint: codec.keyFingerprint() })
      if (restored !== undefined) {
        log.info({ sequence: restored.manifest.sequence, count: restored.manifest.count, seconds: Number(restored.seconds.toFixed(2)) }, 'snapshot restored')
        return { action: 'restored', applied: restored.manifest.sequence ?? 0 }
      }
    }
    if (behindStream) log.error({ applied, streamFirst: first }, 'the stream no longer holds the changes this index needs, and no newer snapshot is published: publish one (idv snapshot publish) and restart')
    const made = inspectIndexDir(config.store, config.dataDir) !== 'index'
    await ensureIndex(config, codec)
    return { action: made ? 'created-empty' : 'none', applied }
  } finally {
    await nc.close()
  }
}

/** An index bound to the hash key, empty if there was none: a replica that fills from the feed. */
async function ensureIndex (config: Config, codec: RecordCodec): Promise<void> {
  const store = await openStore(config.store, config.dataDir)
  try {
    await bindHashKey(store, codec)
  } finally {
    await store.close()
  }
}
