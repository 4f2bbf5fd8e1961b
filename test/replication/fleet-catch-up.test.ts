/**
 * Issue 21's two fleet scenarios with real parts (3 nats-server processes,
 * `idv serve --replicate` nodes, the real producer):
 *
 * - a node stopped with SIGSTOP for 60 s while changes are published reports
 *   not ready (the lag reason) once resumed and behind, catches up, reports
 *   ready, and its index equals the reference;
 * - a fresh node bootstraps from a 1,000,000-citizen snapshot in the Object
 *   Store, catches up on the changes published while it did, and its index
 *   equals the snapshot's plus those changes.
 *
 * A node's commits are seen through its acknowledgements (AckWatcher in
 * bench/src/lib/fleet-node.ts): the catch-up time runs from SIGCONT to the
 * acknowledgement of the last change. The 1M-citizen index is the benchmarks'
 * cached dataset (.bench-data/, built on first use in about a minute).
 */
import { cpSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { LocalCluster } from '../../src/fleet/local-cluster.js'
import { publishChanges } from '../../src/fleet/publish.js'
import { syntheticChanges } from '../../src/fleet/synthetic-changes.js'
import { appliedSequence } from '../../src/replication/index.js'
import { openStore } from '../../src/store/open.js'
import { AckWatcher, FeedPublisher, watcherConnection } from '../../bench/src/lib/fleet-node.js'
import { BENCH_KEY, ensureDataset } from '../../bench/src/lib/dataset.js'
import { cpuSeconds } from '../../bench/src/lib/proc-cpu.js'
import { referenceState, stateDiff, storeState } from '../helpers/feed-reference.js'
import { runCli, startNode, waitFor, type FleetNode } from '../helpers/fleet-node.js'
import { tempDir } from '../helpers/temp.js'

const PAUSE_MS = 60_000
/** Changes published while the node is stopped: at 50,000 changes/s, 4 s of catching up. */
const BACKLOG = 200_000
const LAG_REASON = /^the replica is \d+ changes and [\d.]+ s behind its change feed \(threshold 3 s\)$/

const cleanups: Array<() => Promise<void>> = []
afterAll(async () => { for (const c of cleanups.reverse()) await c().catch(() => {}) })

/** A cluster, a key file holding the benchmarks' fixed key (so the cached 1M index matches), and a publish helper. */
async function fleet (name: string): Promise<{ dir: string, cluster: LocalCluster, keyFile: string, publish: (lines: readonly string[]) => Promise<number> }> {
  const dir = tempDir(`idv-${name}`)
  const cluster = await LocalCluster.start({ dir: join(dir, 'nats') })
  cleanups.push(async () => { await cluster.stop() })
  const keyFile = join(dir, 'hash-key')
  writeFileSync(keyFile, BENCH_KEY.toString('hex'), { mode: 0o600 })
  let files = 0
  const publish = async (lines: readonly string[]): Promise<number> => {
    const file = join(dir, `changes-${files++}.ndjson`)
    writeFileSync(file, lines.join('\n') + '\n')
    const s = await publishChanges({ file, servers: cluster.urls, hashKey: BENCH_KEY, outboxDir: join(dir, 'outbox'), replicas: 3, batch: 5_000, onReject: (line, reason) => { throw new Error(`line ${line}: ${reason}`) } })
    return s.lastSeq
  }
  return { dir, cluster, keyFile, publish }
}

async function node (name: string, dataDir: string, keyFile: string, cluster: LocalCluster): Promise<FleetNode> {
  const n = await startNode({ name, dataDir, hashKeyFile: keyFile, nats: cluster.urls, maxLagSeconds: 3 })
  cleanups.push(async () => { await n.kill() })
  return n
}

async function acksOf (cluster: LocalCluster, consumer: string): Promise<AckWatcher> {
  const nc = await watcherConnection(cluster.urls)
  const acks = await AckWatcher.watch(nc, consumer)
  cleanups.push(async () => { acks.close(); await nc.close() })
  return acks
}

async function expectIndex (dataDir: string, applied: number, expected: Map<number, Uint8Array>): Promise<void> {
  const s = await openStore('lmdb', dataDir, { mustExist: true })
  try {
    expect(appliedSequence(s)).toBe(applied)
    expect(stateDiff(storeState(s), expected)).toEqual([])
  } finally {
    await s.close()
  }
}

describe('fleet catch-up and bootstrap', () => {
  it('a node stopped (SIGSTOP) for 60 s while changes are published reports not ready once resumed, catches up, reports ready, and equals the reference', async () => {
    const f = await fleet('catch-up')
    const published: string[] = syntheticChanges(1_000, { seed: 21 })
    await f.publish(published)
    const a = await node('node-a', join(f.dir, 'node-a'), f.keyFile, f.cluster)
    const acks = await acksOf(f.cluster, 'node-a')
    await waitFor('node-a ready and current', async () => (await a.readyz()).status === 200 && await a.applied() === published.length)

    // The backlog goes out in the wire form and with the headers `idv publish` uses, hashed before
    // the pause (FeedPublisher): the real producer, outbox and all, is fleet.test.ts's subject, and on
    // a shared 2-core machine it cannot put 300,000 changes out within the pause.
    const backlog = syntheticChanges(BACKLOG, { seed: 22, firstSeq: published.length + 1, pool: 200_000 })
    const publisher = await FeedPublisher.open(f.cluster.urls, BENCH_KEY)
    cleanups.push(async () => { await publisher.close() })
    const wire = publisher.encode(backlog)
    a.child.kill('SIGSTOP')
    const pausedAt = Date.now()
    await publisher.publishAll(wire)
    const last = await publisher.lastSeq()
    for (const line of backlog) published.push(line)
    expect(last).toBe(published.length)
    const publishSeconds = (Date.now() - pausedAt) / 1000
    expect(publishSeconds).toBeLessThan(PAUSE_MS / 1000) // else the pause was not what the test says
    await new Promise((resolve) => setTimeout(resolve, PAUSE_MS - (Date.now() - pausedAt)))

    const pid = a.child.pid!
    const cpu0 = cpuSeconds([pid])
    const t0 = performance.now()
    a.child.kill('SIGCONT')
    // The first answers after SIGCONT, from the metrics port (main thread) and the public port (server thread), for the report.
    const [first, firstPublic] = await Promise.all([a.readyz(), fetch(`${a.url}/readyz`).then((r) => r.status)])
    // Resumed and 300,000 changes behind: not ready, for the lag.
    await waitFor('node-a not ready for its lag', async () => {
      const r = await a.readyz()
      return r.status === 503 && LAG_REASON.test(JSON.parse(r.body).detail as string)
    }, 10_000, a.log)
    const done = await acks.until(last, 120_000)
    const cpu = cpuSeconds([pid]) - cpu0
    await waitFor('node-a ready again', async () => (await a.readyz()).status === 200, 10_000, a.log)
    const seconds = (done - t0) / 1000
    console.log(`catch-up: ${BACKLOG} changes in ${seconds.toFixed(2)} s = ${Math.round(BACKLOG / seconds)} changes/s wall clock; node CPU ${cpu.toFixed(2)} s = ${Math.round(BACKLOG / cpu)} changes per CPU-second; published in ${publishSeconds.toFixed(1)} s; first /readyz after SIGCONT: metrics port ${first.status}, public port ${firstPublic}`)
    // The rate is printed, not asserted: on the shared 2-core development machine (load average 8-10
    // from other jobs) three runs gave 14,114-28,806 changes/s wall clock and 41,040-51,020 per
    // CPU-second of the node, against 53,937/s on a quieter day: a threshold would test the neighbours.
    // `npm run bench:replication` measures it with the load average beside it.

    expect(await a.applied()).toBe(last)
    await a.stop()
    await expectIndex(join(f.dir, 'node-a'), last, referenceState(BENCH_KEY, published))
  }, 180_000)

  it('a fresh node bootstraps from a 1,000,000-citizen snapshot in the Object Store and catches up on the changes published meanwhile', async () => {
    const ds = await ensureDataset('lmdb', 1_000_000, 1, () => {})
    const f = await fleet('bootstrap')
    // A node over the 1M index applies a first batch of changes, so its snapshot carries a sequence.
    const seedDir = join(f.dir, 'seed')
    cpSync(ds.dataDir, seedDir, { recursive: true, filter: (src) => !src.endsWith('/complete') })
    const seed = await node('seed', seedDir, f.keyFile, f.cluster)
    const before = syntheticChanges(1_000, { seed: 23 })
    await f.publish(before)
    await waitFor('seed to apply the first changes', async () => await seed.applied() === before.length)
    await seed.stop()
    const snap = await runCli(['snapshot', 'publish', '--nats', f.cluster.urls, '--data-dir', seedDir, '--hash-key-file', f.keyFile])
    expect(snap.stdout + snap.stderr).toMatch(/^published lmdb-0+1000: 100\d{4} citizens at sequence 1000, [\d.]+ MB/)
    const atSnapshot = await (async () => {
      const s = await openStore('lmdb', seedDir, { mustExist: true })
      try { return storeState(s) } finally { await s.close() }
    })()

    // The fresh node starts with an empty directory while changes keep coming.
    const later = syntheticChanges(20_000, { seed: 24, firstSeq: before.length + 1 })
    const t0 = performance.now()
    const freshDir = join(f.dir, 'fresh')
    const starting = node('fresh', freshDir, f.keyFile, f.cluster)
    await f.publish(later.slice(0, 10_000))
    const fresh = await starting
    await f.publish(later.slice(10_000))
    const last = before.length + later.length
    await waitFor('the fresh node to apply every change', async () => await fresh.applied() === last, 60_000, fresh.log)
    await waitFor('the fresh node ready', async () => (await fresh.readyz()).status === 200, 10_000, fresh.log)
    console.log(`bootstrap of 1M citizens: ready after ${((performance.now() - t0) / 1000).toFixed(1)} s`)
    expect(fresh.log()).toMatch(/"sequence":1000,[^\n]*"msg":"snapshot restored"/)
    await fresh.stop()
    await expectIndex(freshDir, last, referenceState(BENCH_KEY, later, atSnapshot))
  }, 240_000)
})
