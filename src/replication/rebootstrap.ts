/**
 * Re-bootstrap in place: a node that met a gap in the feed (or whose stream no
 * longer holds the changes after its index) waits for a snapshot in the Object
 * Store that reaches past the hole, restores it into a scratch directory beside
 * the index, and moves the live index to it in ONE conditional transaction:
 * every record that differs is written, every record the snapshot lacks is
 * deleted, and the applied sequence becomes the snapshot's, on condition that
 * it is still the one the node stopped at.
 *
 * Why not restart the service on the restored directory: the store is opened
 * once per process and shared by every server thread (LMDB's environment,
 * native-free's shared view), so swapping its files needs the whole service
 * down (its port closed) and up again on the same ports. The transaction keeps
 * it up and moves it from one consistent state (every change up to the hole)
 * to another (the snapshot's); no reader ever sees a mix, and no reader sees a
 * hole. The price: the two indexes are read through once (the same order of
 * work as the restore itself), and the changes between them are held in memory
 * for the transaction (131 bytes each: a gap found soon after it happened costs
 * little; a node years behind is better restarted, which bootstraps fully).
 *
 * Meanwhile the node is not ready (/readyz 503, with the sequence it waits for);
 * verification routes still answer from the consistent prefix, as while lagging
 * (readiness takes a node out of the load balancer; it does not refuse requests).
 */
import { rmSync } from 'node:fs'
import type { NatsConnection } from '@nats-io/transport-node'
import type { StoreKind } from '../config.js'
import type { Logger } from '../log.js'
import { openStore, SEQUENCE_META } from '../store/open.js'
import type { StorageCore, StoreEntry } from '../store/types.js'
import { appliedSequence, sequenceMeta } from './apply.js'

/**
 * Where snapshots come from: the Object Store (src/fleet/snapshots.ts, a tool
 * this capability may not import; src/app/capabilities.ts hands it in).
 */
export interface SnapshotSource {
  /** The sequence the newest snapshot of `engine` covers, or undefined when there is none. */
  newestSequence: (nc: NatsConnection, engine: StoreKind) => Promise<number | undefined>
  /** Restores the newest snapshot of `engine` into `dataDir` (checksums, layout and hash key checked). */
  restoreNewest: (nc: NatsConnection, engine: StoreKind, dataDir: string, keyFingerprint: Uint8Array) => Promise<void>
}

export const BOOTSTRAP_STATES = ['idle', 'waiting_for_snapshot', 'restoring', 'failed'] as const
export type BootstrapState = typeof BOOTSTRAP_STATES[number]

export interface RebootstrapOptions {
  readonly nc: NatsConnection
  readonly snapshots: SnapshotSource
  /** The live index (written in one transaction). */
  readonly store: StorageCore
  readonly engine: StoreKind
  readonly dataDir: string
  readonly keyFingerprint: Uint8Array
  /** The first sequence the snapshot must cover (the hole, or the stream's first sequence - 1). */
  readonly atLeast: number
  readonly log: Logger
  readonly stopping: () => boolean
  readonly onState: (state: BootstrapState) => void
  /** How often the Object Store is asked for a newer snapshot (ms). */
  readonly pollMs?: number
}

export interface RebootstrapResult {
  readonly applied: number
  readonly written: number
  readonly deleted: number
  readonly seconds: number
}

/** Waits for a snapshot covering `atLeast`, then moves the live index to it; undefined when stopped first. */
export async function rebootstrap (o: RebootstrapOptions): Promise<RebootstrapResult | undefined> {
  const started = performance.now()
  o.onState('waiting_for_snapshot')
  let warned = false
  for (;;) {
    if (o.stopping()) return undefined
    const newest = await o.snapshots.newestSequence(o.nc, o.engine).catch(() => undefined)
    if ((newest ?? 0) >= o.atLeast) break
    if (!warned) {
      o.log.error({ atLeast: o.atLeast, newest }, 'waiting for a snapshot that covers the hole: publish one from a node that has it (idv snapshot publish)')
      warned = true
    }
    await new Promise((resolve) => setTimeout(resolve, o.pollMs ?? 2_000))
  }
  o.onState('restoring')
  const scratch = `${o.dataDir}.rebootstrap`
  rmSync(scratch, { recursive: true, force: true })
  try {
    await o.snapshots.restoreNewest(o.nc, o.engine, scratch, o.keyFingerprint)
    const snapshot = await openStore(o.engine, scratch, { mustExist: true })
    try {
      const target = appliedSequence(snapshot)
      if (target < o.atLeast) throw new Error(`the snapshot restored reaches seq ${target}, not ${o.atLeast}`)
      const from = o.store.getMeta(SEQUENCE_META)
      const diff = difference(o.store, snapshot)
      await o.store.writeBatch(diff.entries, { [SEQUENCE_META]: sequenceMeta(target) }, { ifMeta: { name: SEQUENCE_META, value: from } })
      const result = { applied: target, written: diff.written, deleted: diff.deleted, seconds: (performance.now() - started) / 1000 }
      o.log.info(result, 're-bootstrapped from a snapshot')
      o.onState('idle')
      return result
    } finally {
      await snapshot.close()
    }
  } catch (err) {
    o.onState('failed')
    throw err
  } finally {
    rmSync(scratch, { recursive: true, force: true })
  }
}

/** What turns `live` into `target`: both walked in key order, differing records written, missing ones deleted. */
function difference (live: StorageCore, target: StorageCore): { entries: StoreEntry[], written: number, deleted: number } {
  const entries: StoreEntry[] = []
  let written = 0
  let deleted = 0
  const a = live.entries()
  const b = target.entries()
  let x = a.next()
  let y = b.next()
  while (!x.done || !y.done) {
    if (y.done || (!x.done && x.value[0] < y.value[0])) {
      entries.push({ key: x.value![0], value: null }); deleted++; x = a.next()
    } else if (x.done || y.value[0] < x.value[0]) {
      entries.push({ key: y.value[0], value: y.value[1] }); written++; y = b.next()
    } else {
      if (!Buffer.from(x.value[1]).equals(y.value[1])) { entries.push({ key: y.value[0], value: y.value[1] }); written++ }
      x = a.next(); y = b.next()
    }
  }
  return { entries, written, deleted }
}
