/**
 * The fleet with real parts: three nats-server processes (JetStream, routes on
 * loopback, files in a temporary directory), the producer (`idv publish` and
 * its function), and verification nodes as `idv serve --replicate` processes.
 * Every node's index is compared record by record with a reference computed
 * independently from the same change lines (test/helpers/feed-reference.ts).
 */
import { join } from 'node:path'
import { writeFileSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest'
import { jetstreamManager } from '@nats-io/jetstream'
import { connect } from '@nats-io/transport-node'
import { createHashKey } from '../../src/files/hash-key-file.js'
import { LocalCluster } from '../../src/fleet/local-cluster.js'
import { publishChanges } from '../../src/fleet/publish.js'
import { syntheticChanges } from '../../src/fleet/synthetic-changes.js'
import { appliedSequence, patiently, STREAM } from '../../src/replication/index.js'
import { openStore } from '../../src/store/open.js'
import { referenceState, stateDiff, storeState } from '../helpers/feed-reference.js'
import { runCli, startNode, waitFor, type FleetNode, TestFeed } from '../helpers/fleet-node.js'
import { tempDir } from '../helpers/temp.js'

let dir: string
let cluster: LocalCluster
let keyFile: string
let hashKey: Buffer
const nodes: FleetNode[] = []
/** Every change line the stream holds, in order: the reference is computed from these. */
const feed = new TestFeed()
const published = feed.published

beforeAll(async () => {
  dir = tempDir('idv-fleet')
  cluster = await LocalCluster.start({ dir: join(dir, 'nats') })
  keyFile = join(dir, 'hash-key')
  hashKey = createHashKey(keyFile)
  feed.open(dir, hashKey)
})

afterAll(async () => {
  for (const n of nodes) await n.kill()
  await cluster?.stop()
})

const publish = async (lines: readonly string[], outbox?: string): Promise<unknown> => await feed.publish(cluster.urls, lines, outbox)

async function node (name: string, extra: { store?: 'lmdb' | 'native-free' } = {}): Promise<FleetNode> {
  const n = await startNode({ name, dataDir: join(dir, name), hashKeyFile: keyFile, nats: cluster.urls, maxLagSeconds: 3, ...extra })
  nodes.push(n)
  return n
}

/** Stops the node and compares its index with the reference of everything published. */
async function expectReference (n: FleetNode, store: 'lmdb' | 'native-free' = 'lmdb'): Promise<void> {
  await n.stop()
  const s = await openStore(store, join(dir, n.name), { mustExist: true })
  try {
    expect(appliedSequence(s)).toBe(published.length)
    expect(stateDiff(storeState(s), referenceState(hashKey, published))).toEqual([])
  } finally {
    await s.close()
  }
}

describe('fleet on a 3-server JetStream cluster', () => {
  it('idv publish refuses bad changes with their line and reason and publishes none of them', async () => {
    const good = syntheticChanges(3, { seed: 11 })
    const file = join(dir, 'mixed.ndjson')
    writeFileSync(file, [good[0], '{"seq":2,"op":"status","pin":"001099012345"}', good[1], 'not json', '{"seq":9,"op":"delete","pin":"001099012345"}', good[2]].join('\n'))
    const r = await runCli(['publish', file, '--nats', cluster.urls, '--hash-key-file', keyFile, '--outbox', join(dir, 'outbox')])
    expect(r.stderr).toContain('line 2: status must be active, deceased or revoked')
    expect(r.stderr).toContain('line 4: not valid JSON')
    expect(r.stderr).toContain('line 5: seq 9 does not follow the last published seq 2: the feed has no holes')
    expect(r.stdout).toContain('published 3 changes (stream at seq 3)')
    expect(r.code).toBe(1)
    published.push(...good)
    // Publishing the same file again publishes nothing twice.
    const again = await runCli(['publish', file, '--nats', cluster.urls, '--hash-key-file', keyFile, '--outbox', join(dir, 'outbox')])
    expect(again.stdout).toContain('published 0 changes (stream at seq 3); 3 were published before')
  })

  it('a stream of changes reaches two nodes, whose indexes equal the reference; the outbox is pruned once both applied', async () => {
    const a = await node('node-a')
    const b = await node('node-b', { store: 'native-free' })
    await publish(syntheticChanges(3000, { seed: 12, firstSeq: published.length + 1 }))
    for (const n of [a, b]) await waitFor(`${n.name} to apply ${published.length}`, async () => await n.applied() === published.length)
    for (const n of [a, b]) await waitFor(`${n.name} ready`, async () => (await n.readyz()).status === 200)
    // Both answer alike through the API too.
    const pin = (JSON.parse(published[published.length - 1]!) as { citizen?: { pin: string }, pin?: string })
    const body = JSON.stringify({ pin: pin.citizen?.pin ?? pin.pin, attributes: { gender: 'male' } })
    const answers = await Promise.all([a, b].map(async (n) => await (await fetch(`${n.url}/v1/verify`, { method: 'POST', headers: { 'content-type': 'application/json' }, body })).text()))
    expect(answers[0]!.replace(/"requestId":"[^"]*"/, '')).toBe(answers[1]!.replace(/"requestId":"[^"]*"/, ''))
    // The nodes' reports reach the fleet bucket; the next publish prunes the outbox up to what both applied.
    await new Promise((resolve) => setTimeout(resolve, 1_500))
    const status = await runCli(['fleet', 'status', '--nats', cluster.urls])
    expect(status.stdout).toMatch(new RegExp(`node-a\\s+${published.length}\\s+0`))
    expect(status.stdout).toMatch(/node-b\s+\d+\s+0\s+[\d.]+\s+-\s+ready/)
    writeFileSync(join(dir, 'empty.ndjson'), '')
    const summary = await publishChanges({ file: join(dir, 'empty.ndjson'), servers: cluster.urls, hashKey, outboxDir: join(dir, 'outbox'), replicas: 3, onReject: () => {} })
    expect(summary.nodes).toBe(2)
    expect(summary.outboxLeft).toBe(0)
    await expectReference(a)
    await expectReference(b, 'native-free')
  }, 60_000)

  it('kill -9 of one NATS server and one node mid-stream: after restarts no change is lost or applied twice', async () => {
    const a = await node('node-a')
    const b = await node('node-b', { store: 'native-free' })
    const lines = syntheticChanges(6000, { seed: 13, firstSeq: published.length + 1 })
    const file = join(dir, 'crash.ndjson')
    writeFileSync(file, lines.join('\n') + '\n')
    const run = publishChanges({ file, servers: cluster.urls, hashKey, outboxDir: join(dir, 'outbox'), replicas: 3, batch: 200, onReject: () => {} }).catch((err: unknown) => err)
    await waitFor('node-a to be mid-stream', async () => await a.applied() > published.length + 500, 20_000)
    cluster.kill(1)
    await a.kill()
    await new Promise((resolve) => setTimeout(resolve, 500))
    cluster.startServer(1)
    // The producer may lose its in-flight publishes with the server: its outbox publishes them again on the next run.
    await run
    await cluster.waitReady()
    const rerun = await publishChanges({ file, servers: cluster.urls, hashKey, outboxDir: join(dir, 'outbox'), replicas: 3, onReject: () => {} })
    expect(rerun.lastSeq).toBe(published.length + lines.length)
    published.push(...lines)
    const a2 = await node('node-a')
    let lastApplied = -1
    const watch = setInterval(() => { void b.applied().then((n) => { lastApplied = n }, () => {}) }, 500)
    onTestFinished(() => { clearInterval(watch) })
    for (const n of [a2, b]) await waitFor(`${n.name} to apply ${published.length}`, async () => await n.applied() === published.length, 30_000, () => `applied ${lastApplied}\n${n.log()}`)
    await expectReference(a2)
    await expectReference(b, 'native-free')
    // Nothing applied twice: each change's position is the stream's, and the stream holds each seq once.
    const nc = await connect({ servers: cluster.url(0) })
    const info = await (await jetstreamManager(nc)).streams.info(STREAM)
    await nc.close()
    expect(info.state.last_seq).toBe(published.length)
    expect(info.state.messages).toBe(published.length)
  }, 90_000)

  it('a fresh node bootstraps from a snapshot in the Object Store and catches up on changes made since', async () => {
    const snap = await runCli(['snapshot', 'publish', '--nats', cluster.urls, '--data-dir', join(dir, 'node-a'), '--hash-key-file', keyFile])
    expect(snap.stdout).toMatch(new RegExp(`published lmdb-0+${published.length}: \\d+ citizens at sequence ${published.length}`))
    await publish(syntheticChanges(500, { seed: 14, firstSeq: published.length + 1 }))
    const c = await node('node-c')
    expect(c.log()).toMatch(/"msg":"snapshot restored"/)
    await waitFor(`node-c to apply ${published.length}`, async () => await c.applied() === published.length)
    await expectReference(c)
  }, 60_000)

  it('lag over the threshold turns a node not ready, and back once it reaches the feed again; a gap stops a node with /readyz 503 and the reason', async () => {
    await publish(syntheticChanges(20, { seed: 15, firstSeq: published.length + 1 }))
    const a = await node('node-a')
    await waitFor('node-a ready', async () => (await a.readyz()).status === 200)
    await cluster.stop()
    await waitFor('node-a not ready once 3 s behind', async () => (await a.readyz()).status === 503, 15_000)
    expect(JSON.parse((await a.readyz()).body).detail).toMatch(/^the replica is 0 changes and [\d.]+ s behind its change feed \(threshold 3 s\)$/)
    for (const i of [0, 1, 2]) cluster.startServer(i)
    await cluster.waitReady()
    await waitFor('node-a ready again', async () => (await a.readyz()).status === 200, 20_000, a.log)
    await a.stop()

    const hole = published.length - 10
    const nc = await connect({ servers: cluster.url(0) })
    const jsm = await jetstreamManager(nc)
    // All three servers were just restarted: the stream may still be electing its leader.
    await patiently(async () => await jsm.streams.deleteMessage(STREAM, hole))
    await nc.close()
    const d = await node('node-d') // bootstraps from the snapshot, replays, meets the hole
    await waitFor('node-d to stop at the gap', async () => (await d.readyz()).status === 503 && (await d.applied()) === hole - 1, 20_000, d.log)
    const r = await d.readyz()
    expect(JSON.parse(r.body)).toMatchObject({ status: 503, code: 'IDV_ERR_NOT_READY', detail: `gap in the change feed after seq ${hole - 1}: the node stopped applying; re-bootstrapping: waiting for a snapshot at seq ${hole} or later in the Object Store` })
    // The public port answers the same.
    expect((await fetch(`${d.url}/readyz`)).status).toBe(503)
  }, 60_000)
})
