/**
 * A partition between one node and NATS, made by a TCP proxy (test/helpers/
 * tcp-proxy.ts) the node reaches its NATS server through (nodes use only the
 * servers they are given, so it cannot reach round the cut). Real parts: a
 * 3-server nats-server cluster, `idv serve --replicate` processes, LMDB.
 *
 * While cut off, the node answers from its consistent, stale index, and says
 * ready only within the lag threshold; then /readyz answers 503 with the lag
 * as the reason. It never applies anything out of order: its applied sequence
 * stays where it was while cut off, it never reports a gap, and once the cut
 * heals it catches up, turns ready, answers as a node that was never cut off,
 * and its index equals the reference computed from the change lines.
 */
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createHashKey } from '../../src/files/hash-key-file.js'
import { LocalCluster } from '../../src/fleet/local-cluster.js'
import { syntheticChanges } from '../../src/fleet/synthetic-changes.js'
import { appliedSequence } from '../../src/replication/index.js'
import { openStore } from '../../src/store/open.js'
import { referenceState, stateDiff, storeState } from '../helpers/feed-reference.js'
import { startNode, waitFor, type FleetNode, TestFeed } from '../helpers/fleet-node.js'
import { TcpProxy } from '../helpers/tcp-proxy.js'
import { tempDir } from '../helpers/temp.js'

const MAX_LAG_SECONDS = 3
let dir: string
let cluster: LocalCluster
let proxy: TcpProxy
let keyFile: string
let hashKey: Buffer
const nodes: FleetNode[] = []
const feed = new TestFeed()
const published = feed.published

beforeAll(async () => {
  dir = tempDir('idv-partition')
  cluster = await LocalCluster.start({ dir: join(dir, 'nats') })
  const { hostname, port } = new URL(cluster.url(0))
  proxy = await TcpProxy.start({ host: hostname, port: Number(port) })
  keyFile = join(dir, 'hash-key')
  hashKey = createHashKey(keyFile)
  feed.open(dir, hashKey)
}, 40_000)

afterAll(async () => {
  for (const n of nodes) await n.kill()
  await proxy?.close()
  await cluster?.stop()
}, 20_000)

const publish = async (lines: readonly string[]): Promise<unknown> => await feed.publish(cluster.urls, lines)

async function node (name: string, nats: string): Promise<FleetNode> {
  const n = await startNode({ name, dataDir: join(dir, name), hashKeyFile: keyFile, nats, maxLagSeconds: MAX_LAG_SECONDS })
  nodes.push(n)
  return n
}

async function verify (n: FleetNode, body: string): Promise<string> {
  const res = await fetch(`${n.url}/v1/verify`, { method: 'POST', headers: { 'content-type': 'application/json' }, body })
  return (await res.text()).replace(/"requestId":"[^"]*",?/, '')
}

async function metric (n: FleetNode, name: string): Promise<string[]> {
  const text = await (await fetch(`${n.metricsUrl}/metrics`)).text()
  return text.split('\n').filter((l) => l.startsWith(name))
}

describe('a node cut off from NATS by a partition', () => {
  it.each(['blackhole', 'reset'] as const)('%s: answers stale only within the lag threshold, then is not ready; never applies with a gap; after the cut heals it catches up and answers as the reference', async (mode) => {
    await publish(syntheticChanges(500, { seed: mode === 'blackhole' ? 31 : 32, firstSeq: published.length + 1 }))
    const cut = await node(`cut-${mode}`, `nats://127.0.0.1:${proxy.port}`)
    const reference = await node(`reference-${mode}`, cluster.urls)
    for (const n of [cut, reference]) {
      await waitFor(`${n.name} to apply ${published.length}`, async () => await n.applied() === published.length, 30_000, n.log)
      await waitFor(`${n.name} ready`, async () => (await n.readyz()).status === 200, 10_000, n.log)
    }
    // A citizen the node holds as active (a match): the changes made during the cut make them inactive.
    let sample: { pin: string } | undefined
    let body = ''
    let before = ''
    for (const line of [...published].reverse().filter((l) => l.includes('"op":"upsert"'))) {
      const c = (JSON.parse(line) as { citizen: { pin: string, fullName: string, dateOfBirth: string } }).citizen
      body = JSON.stringify({ pin: c.pin, attributes: { fullName: c.fullName, dateOfBirth: c.dateOfBirth } })
      before = await verify(cut, body)
      if (before.startsWith('{"match":true')) { sample = c; break }
    }
    if (sample === undefined) throw new Error('no active citizen in the feed')
    const appliedBefore = published.length

    proxy.cut(mode)
    const cutAt = Date.now()
    // Changes made during the partition: the sample citizen dies first.
    await publish([JSON.stringify({ seq: published.length + 1, op: 'status', pin: sample.pin, status: 'deceased' }), ...syntheticChanges(300, { seed: 40, firstSeq: published.length + 2 })])
    await waitFor('the reference node to apply the changes made during the cut', async () => await reference.applied() === published.length, 20_000, reference.log)

    // Watch the cut-off node until it turns not ready: every answer meanwhile is the stale one, every ready
    // answer within the threshold (plus one probe period and the scheduling slack of a loaded machine).
    let notReady: { status: number, body: string } | undefined
    const readyAt: number[] = []
    while (notReady === undefined) {
      const r = await cut.readyz()
      const at = Date.now() - cutAt
      if (r.status === 200) readyAt.push(at)
      else notReady = r
      expect(await verify(cut, body)).toBe(before)
      expect(await cut.applied()).toBe(appliedBefore)
      expect(at, 'turned not ready in time').toBeLessThan((MAX_LAG_SECONDS + 4) * 1000)
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    expect(Math.max(0, ...readyAt)).toBeLessThan((MAX_LAG_SECONDS + 1.5) * 1000)
    expect(notReady.status).toBe(503)
    expect(JSON.parse(notReady.body)).toMatchObject({ code: 'IDV_ERR_NOT_READY', detail: expect.stringMatching(new RegExp(`^the replica is \\d+ changes and [\\d.]+ s behind its change feed \\(threshold ${MAX_LAG_SECONDS} s\\)$`)) })
    // Still cut off a while later: still not ready, still the same consistent index, lag growing by the clock.
    await new Promise((resolve) => setTimeout(resolve, 1_500))
    expect((await cut.readyz()).status).toBe(503)
    expect(await cut.applied()).toBe(appliedBefore)
    expect(Number((await metric(cut, 'idv_replication_lag_seconds '))[0]!.split(' ')[1])).toBeGreaterThan(MAX_LAG_SECONDS)
    expect(await metric(cut, 'idv_replication_state{state="following"}')).toEqual(['idv_replication_state{state="following"} 1'])

    proxy.restore()
    await waitFor(`${cut.name} to catch up after the cut`, async () => await cut.applied() === published.length, 40_000, cut.log)
    await waitFor(`${cut.name} ready again`, async () => (await cut.readyz()).status === 200, 15_000, cut.log)
    const after = await verify(cut, body)
    expect(after).not.toBe(before)
    expect(after).toBe(await verify(reference, body))
    expect(cut.log()).not.toMatch(/gap in the change feed/)
    // Refusals (a status change for a PIN deleted before) are the feed's: both nodes met the same ones.
    expect(await metric(cut, 'idv_replication_changes_refused_total')).toEqual(await metric(reference, 'idv_replication_changes_refused_total'))

    for (const n of [cut, reference]) {
      await n.stop()
      const s = await openStore('lmdb', join(dir, n.name), { mustExist: true })
      try {
        expect(appliedSequence(s)).toBe(published.length)
        expect(stateDiff(storeState(s), referenceState(hashKey, published))).toEqual([])
      } finally {
        await s.close()
      }
    }
  }, 120_000)
})
