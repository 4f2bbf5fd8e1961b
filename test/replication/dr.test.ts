/**
 * The DR site with real parts: two 3-server nats-server clusters, each its own
 * JetStream domain, the DR site's servers leaf nodes of the primary; the DR
 * stream a mirror of the primary's (`idv fleet mirror`). A node at each site
 * (`idv serve --replicate`) answers alike; then every primary server is killed
 * (SIGKILL), `idv fleet promote` makes the DR stream writable, the producer
 * goes on at the DR site with its outbox, and the DR node applies every change
 * once: checked by the stream's sequences and content and the node's counters.
 */
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { jetstreamManager } from '@nats-io/jetstream'
import { connect } from '@nats-io/transport-node'
import { createHashKey } from '../../src/files/hash-key-file.js'
import { RecordCodec } from '../../src/domain/record.js'
import { DR_PRIMARY, DR_SITE, LocalCluster } from '../../src/fleet/local-cluster.js'
import type { PublishSummary } from '../../src/fleet/publish.js'
import { syntheticChanges } from '../../src/fleet/synthetic-changes.js'
import { appliedSequence, encodeChange, keyTagOf, parseChangeLine, STREAM } from '../../src/replication/index.js'
import { openStore } from '../../src/store/open.js'
import { referenceState, stateDiff, storeState } from '../helpers/feed-reference.js'
import { runCli, startNode, waitFor, type FleetNode, TestFeed } from '../helpers/fleet-node.js'
import { tempDir } from '../helpers/temp.js'
import { packageRoot } from '../../src/paths.js'

let dir: string
let primary: LocalCluster
let dr: LocalCluster
let keyFile: string
let hashKey: Buffer
const nodes: FleetNode[] = []
const feed = new TestFeed()
const published = feed.published

beforeAll(async () => {
  dir = tempDir('idv-dr')
  primary = await LocalCluster.start({ dir: join(dir, 'nats-primary'), ...DR_PRIMARY })
  dr = await LocalCluster.start({ dir: join(dir, 'nats-dr'), ...DR_SITE, leafRemotes: primary.leafUrls })
  keyFile = join(dir, 'hash-key')
  hashKey = createHashKey(keyFile)
  feed.open(dir, hashKey)
}, 60_000)

afterAll(async () => {
  for (const n of nodes) await n.kill()
  await dr?.stop()
  await primary?.stop()
})

/** Publishes through `idv publish`'s function with one outbox, whichever site takes it. */
const publish = async (servers: string, lines: readonly string[]): Promise<PublishSummary> => await feed.publish(servers, lines)

async function node (name: string, servers: string): Promise<FleetNode> {
  const n = await startNode({ name, dataDir: join(dir, name), hashKeyFile: keyFile, nats: servers, maxLagSeconds: 5 })
  nodes.push(n)
  return n
}

async function metric (n: FleetNode, name: string): Promise<number> {
  const m = (await (await fetch(`${n.metricsUrl}/metrics`)).text()).match(new RegExp(`^${name} (\\d+)`, 'm'))
  return m === null ? -1 : Number(m[1])
}

/** Runs `idv fleet promote` and kills it (SIGKILL) once it prints `step`: a crash mid-promotion. */
async function promoteKilledAt (step: string): Promise<{ signal: string | null, stderr: string }> {
  const child = spawn(process.execPath, [join(packageRoot(), 'dist', 'src', 'app', 'cli.js'), 'fleet', 'promote', '--nats', dr.urls], { stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr.on('data', (b: Buffer) => {
    stderr += b.toString()
    if (stderr.includes(step)) child.kill('SIGKILL')
  })
  const signal = await new Promise<string | null>((resolve) => child.once('exit', (_code, sig) => { resolve(sig) }))
  return { signal, stderr }
}

/** The same questions to every node; the answers without their request ids. */
async function answers (n: FleetNode, lines: readonly string[]): Promise<string[]> {
  const out: string[] = []
  for (const line of lines.filter((_, i) => i % 97 === 0)) {
    const c = JSON.parse(line) as { citizen?: { pin: string, fullName: string, dateOfBirth: string }, pin?: string }
    const body = JSON.stringify({ pin: c.citizen?.pin ?? c.pin, attributes: c.citizen === undefined ? { gender: 'male' } : { fullName: c.citizen.fullName, dateOfBirth: c.citizen.dateOfBirth } })
    const res = await fetch(`${n.url}/v1/verify`, { method: 'POST', headers: { 'content-type': 'application/json' }, body })
    out.push(`${res.status} ${(await res.text()).replace(/"requestId":"[^"]*",?/, '')}`)
  }
  return out
}

async function expectReference (n: FleetNode): Promise<void> {
  await n.stop()
  const s = await openStore('lmdb', join(dir, n.name), { mustExist: true })
  try {
    expect(appliedSequence(s)).toBe(published.length)
    expect(stateDiff(storeState(s), referenceState(hashKey, published))).toEqual([])
  } finally {
    await s.close()
  }
}

describe('DR site: a mirror over leaf nodes, and promotion', () => {
  it('the DR node answers as the primary node does; after kill -9 of the primary, one promote command and the DR node applies every change once', async () => {
    await publish(primary.urls, syntheticChanges(2000, { seed: 21 }))
    const mirror = await runCli(['fleet', 'mirror', '--nats', dr.urls, '--primary-domain', 'primary'])
    expect(mirror.stdout, mirror.stderr).toContain('mirror created of the primary domain')
    expect(mirror.code).toBe(0)
    const p = await node('node-primary', primary.urls)
    const d = await node('node-dr', dr.urls)
    await publish(primary.urls, syntheticChanges(1000, { seed: 22, firstSeq: published.length + 1 }))
    for (const n of [p, d]) await waitFor(`${n.name} to apply ${published.length}`, async () => await n.applied() === published.length, 30_000, n.log)
    await waitFor('node-dr ready', async () => (await d.readyz()).status === 200)
    const questions = published.slice()
    const [ap, ad] = [await answers(p, questions), await answers(d, questions)]
    expect(ap.length).toBeGreaterThan(25)
    expect(ad).toEqual(ap)
    expect(ap.filter((a) => a.startsWith('200 ')).length).toBeGreaterThan(20)
    // The primary's producer counts the DR node before pruning its outbox: its reports reach the primary's bucket.
    await waitFor('node-dr listed at the primary', async () => (await runCli(['fleet', 'status', '--nats', primary.urls])).stdout.includes('node-dr'), 15_000)

    // Promotion refuses while the primary answers.
    const early = await runCli(['fleet', 'promote', '--nats', dr.urls])
    expect(early.code).not.toBe(0)
    expect(early.stderr).toContain('the primary (primary domain) still answers')

    await expectReference(p)
    // The DR site is cut off while the primary acknowledges more changes: these are never mirrored. The producer
    // keeps them in its outbox, since the DR node (a registered node at the primary) has not applied them.
    await dr.stop()
    const before = published.length
    const unmirrored = await publish(primary.urls, syntheticChanges(500, { seed: 24, firstSeq: published.length + 1 }))
    expect(unmirrored.outboxLeft).toBeGreaterThanOrEqual(500)
    for (const i of [0, 1, 2]) primary.kill(i)
    for (const i of [0, 1, 2]) dr.startServer(i)
    await dr.waitReady()
    // The DR node answers the same (it served its index while its own site was down, too).
    expect(await answers(d, questions)).toEqual(ap)
    // kill -9 of the promotion while it refills the new stream; the same command again finishes it.
    const t0 = Date.now()
    const crashed = await promoteKilledAt('step 3/5')
    expect(crashed.signal, crashed.stderr).toBe('SIGKILL')
    expect(crashed.stderr).toContain('the primary domain is gone')
    const promoted = await runCli(['fleet', 'promote', '--nats', dr.urls])
    const promoteMs = Date.now() - t0
    expect(promoted.stdout, promoted.stderr).toContain(`promoted: the change feed is writable here at seq 1..${before}`)
    expect(promoted.code).toBe(0)
    // Run again: nothing left to do.
    const again = await runCli(['fleet', 'promote', '--nats', dr.urls])
    expect(again.stdout).toContain(`nothing to promote: the change feed here is writable already (seq 1..${before})`)

    // The producer goes on at the DR site with the same outbox; the DR node follows the promoted stream.
    // The outbox first publishes the 500 changes the mirror never had, at their own sequences.
    const t1 = Date.now()
    const resumed = await publish(dr.urls, syntheticChanges(1000, { seed: 23, firstSeq: published.length + 1 }))
    expect(resumed.republished).toBe(500)
    const publishedMs = Date.now() - t1
    await waitFor(`node-dr to apply ${published.length}`, async () => await d.applied() === published.length, 20_000, d.log)
    const caughtUpMs = Date.now() - t1
    const refollow = d.log().split('\n').filter((l) => /made again|following the change feed failed|no deliveries while behind/.test(l)).map((l) => (JSON.parse(l) as { msg: string }).msg)
    console.log(`DR figures: promote ${promoteMs} ms (killed once, then finished; a stream of ${before} changes); how node-dr came to follow the new stream: ${JSON.stringify(refollow)}; publish at the DR site of 500 from the outbox and 1000 new ${publishedMs} ms; DR node applied them ${caughtUpMs} ms after the publish began`)

    // Once each: the node applied exactly as many changes as the feed holds, with no redelivery counted as applied.
    expect(await metric(d, 'idv_replication_changes_applied_total')).toBe(published.length)
    expect(d.log()).not.toMatch(/"msg":"replication stopped/)
    // By sequence and content: the promoted stream holds change n at seq n, the bytes the producer encoded.
    const nc = await connect({ servers: dr.url(0) })
    try {
      const jsm = await jetstreamManager(nc)
      const info = await jsm.streams.info(STREAM)
      expect(info.config.mirror).toBeUndefined()
      expect([info.state.first_seq, info.state.last_seq, info.state.messages]).toEqual([1, published.length, published.length])
      const codec = new RecordCodec(hashKey)
      const tag = keyTagOf(hashKey)
      const differing: number[] = []
      for (let from = 1; from <= published.length; from += 200) {
        await Promise.all(published.slice(from - 1, from + 199).map(async (line, i) => {
          const parsed = parseChangeLine(line)
          if (!parsed.ok) throw new Error(parsed.reason)
          const stored = await jsm.streams.getMessage(STREAM, { seq: from + i })
          if (stored === null || !Buffer.from(stored.data).equals(Buffer.from(encodeChange(parsed.change, codec, tag)))) differing.push(from + i)
        }))
      }
      expect(differing).toEqual([])
    } finally {
      await nc.close()
    }
    await expectReference(d)

    // Fail back: the old primary comes back; its writable stream is refused as a mirror until --replace, then follows the DR site.
    for (const i of [0, 1, 2]) primary.startServer(i)
    await primary.waitReady()
    const refused = await runCli(['fleet', 'mirror', '--nats', primary.urls, '--primary-domain', 'dr'])
    expect(refused.code).not.toBe(0)
    expect(refused.stderr).toContain('--replace deletes it and mirrors the dr domain instead (fail back)')
    const back = await runCli(['fleet', 'mirror', '--nats', primary.urls, '--primary-domain', 'dr', '--replace'])
    expect(back.stdout, back.stderr).toContain('replaced by a mirror of the dr domain')
    expect(back.stderr).toContain('no longer takes the dr domain\'s node reports')
    const p2 = await node('node-primary', primary.urls)
    await waitFor(`node-primary to apply ${published.length} from the mirror of the DR site`, async () => await p2.applied() === published.length, 20_000, p2.log)
    expect(await metric(p2, 'idv_replication_changes_applied_total')).toBe(published.length - before)
    await expectReference(p2)
  }, 120_000)
})
