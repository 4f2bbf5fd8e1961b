/**
 * Snapshots in JetStream's Object Store, for bootstrap: `idv snapshot publish`
 * makes a snapshot of a node's index (src/snapshot: consistent while serving)
 * and puts it in the SNAPSHOT_BUCKET under `<engine>-<sequence>`, the manifest
 * in the object's description; old ones expire by policy (the newest `keep`
 * per engine stay). A new or far-behind node fetches the newest one for its
 * engine, restores it (checksums, layout and hash key checked by
 * restoreSnapshot) and replays the feed from the snapshot's sequence.
 */
import { createReadStream, createWriteStream, rmSync } from 'node:fs'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { Objm, type ObjectInfo, type ObjectStore } from '@nats-io/obj'
import type { NatsConnection } from '@nats-io/transport-node'
import type { StoreKind } from '../config.js'
import { connectFleet, SNAPSHOT_BUCKET, type SnapshotSource } from '../replication/index.js'
import { createSnapshot, restoreSnapshot, type SnapshotManifest } from '../snapshot/index.js'

const objectName = (engine: StoreKind, sequence: number): string => `${engine}-${String(sequence).padStart(16, '0')}`

export interface PublishedSnapshot {
  readonly name: string
  readonly manifest: SnapshotManifest
  readonly bytes: number
  readonly expired: number
}

async function bucket (nc: NatsConnection, replicas?: number): Promise<ObjectStore> {
  const objm = new Objm(nc)
  return replicas === undefined ? await objm.open(SNAPSHOT_BUCKET) : await objm.create(SNAPSHOT_BUCKET, { replicas })
}

/** Makes a snapshot of the index at dataDir and publishes it; keeps the newest `keep` of its engine. */
export async function publishSnapshot (o: { servers: string, engine: StoreKind, dataDir: string, replicas: number, keep: number }): Promise<PublishedSnapshot> {
  const file = `${o.dataDir}.publish.snapshot`
  rmSync(file, { force: true })
  const nc = await connectFleet(o.servers, { name: 'idv-snapshot-publish' })
  try {
    const { manifest, bytes } = await createSnapshot(o.engine, o.dataDir, file)
    const os = await bucket(nc, o.replicas)
    const name = objectName(o.engine, manifest.sequence ?? 0)
    await os.put({ name, description: JSON.stringify(manifest) }, Readable.toWeb(createReadStream(file)) as ReadableStream<Uint8Array>)
    const older = (await os.list()).filter((i) => !i.deleted && i.name.startsWith(`${o.engine}-`)).sort(byName).slice(0, -o.keep)
    for (const info of older) await os.delete(info.name)
    return { name, manifest, bytes, expired: older.length }
  } finally {
    rmSync(file, { force: true })
    await nc.close()
  }
}

/** The newest snapshot of `engine` in the bucket, or undefined. */
export async function newestSnapshot (nc: NatsConnection, engine: StoreKind): Promise<{ info: ObjectInfo, manifest: SnapshotManifest } | undefined> {
  let os: ObjectStore
  try {
    os = await bucket(nc)
  } catch {
    return undefined // no bucket: nothing was ever published
  }
  const info = (await os.list()).filter((i) => !i.deleted && i.name.startsWith(`${engine}-`)).sort(byName).pop()
  if (info === undefined) return undefined
  return { info, manifest: JSON.parse(info.description ?? '{}') as SnapshotManifest }
}

/** Downloads the newest snapshot of `engine` and restores it into dataDir (the service must not be running). */
export async function bootstrapFromSnapshot (o: { nc: NatsConnection, engine: StoreKind, dataDir: string, keyFingerprint: Uint8Array }): Promise<{ manifest: SnapshotManifest, seconds: number } | undefined> {
  const started = performance.now()
  const newest = await newestSnapshot(o.nc, o.engine)
  if (newest === undefined) return undefined
  const file = `${o.dataDir}.bootstrap.snapshot`
  rmSync(file, { force: true })
  try {
    const result = await (await bucket(o.nc)).get(newest.info.name)
    if (result === null) return undefined
    await pipeline(Readable.fromWeb(result.data as never), createWriteStream(file, { mode: 0o600 }))
    const failed = await result.error
    if (failed !== null && failed !== undefined) throw failed
    const { manifest } = await restoreSnapshot({ file, engine: o.engine, dataDir: o.dataDir, keyFingerprint: o.keyFingerprint })
    return { manifest, seconds: (performance.now() - started) / 1000 }
  } finally {
    rmSync(file, { force: true })
  }
}

const byName = (a: ObjectInfo, b: ObjectInfo): number => a.name < b.name ? -1 : a.name > b.name ? 1 : 0

/** The Object Store as the replication capability's source of snapshots for re-bootstrap (src/replication/rebootstrap.ts). */
export const objectStoreSnapshots: SnapshotSource = {
  newestSequence: async (nc, engine) => (await newestSnapshot(nc, engine))?.manifest.sequence ?? undefined,
  restoreNewest: async (nc, engine, dataDir, keyFingerprint) => {
    if (await bootstrapFromSnapshot({ nc, engine, dataDir, keyFingerprint }) === undefined) throw new Error(`no ${engine} snapshot in the Object Store`)
  }
}
