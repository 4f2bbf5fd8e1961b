/**
 * Operating a fleet, with real parts (a 3-server nats-server cluster, `idv
 * serve --replicate` processes, LMDB, a real `prometheus`):
 * - a node's replication metrics are all there, with values that agree with
 *   the feed, and `promtool check metrics` accepts them; every query of the
 *   Fleet dashboard and the fleet recording rule parse and return data from
 *   Prometheus scraping the node (the other dashboards and rules are checked
 *   in test/observability/prometheus.test.ts);
 * - a node that meets a gap stops at the change before it (/readyz 503 with
 *   the sequence it waits for, its answers from the consistent prefix), and
 *   once a snapshot past the hole is published it re-bootstraps in place,
 *   follows again, and its index equals the reference.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { jetstreamManager } from '@nats-io/jetstream'
import { connect } from '@nats-io/transport-node'
import { createHashKey } from '../../src/files/hash-key-file.js'
import { LocalCluster } from '../../src/fleet/local-cluster.js'
import { syntheticChanges } from '../../src/fleet/synthetic-changes.js'
import { packageRoot } from '../../src/paths.js'
import { appliedSequence, STREAM } from '../../src/replication/index.js'
import { openStore } from '../../src/store/open.js'
import { referenceState, stateDiff, storeState } from '../helpers/feed-reference.js'
import { runCli, startNode, waitFor, type FleetNode, TestFeed } from '../helpers/fleet-node.js'
import { tempDir } from '../helpers/temp.js'

const GRAFANA = join(packageRoot(), 'grafana')
/** Exported only by a node that signs (src/fleet-security, checked in fleet-security.test.ts); this test's node runs unsigned. */
const FROM_ELSEWHERE = new Set(['idv_fleet_config_version'])

let dir: string
let cluster: LocalCluster
let keyFile: string
let hashKey: Buffer
const nodes: FleetNode[] = []
let prometheus: ChildProcess | undefined
const feed = new TestFeed()
const published = feed.published

beforeAll(async () => {
  dir = tempDir('idv-fleet-ops')
  cluster = await LocalCluster.start({ dir: join(dir, 'nats') })
  keyFile = join(dir, 'hash-key')
  hashKey = createHashKey(keyFile)
  feed.open(dir, hashKey)
}, 40_000)

afterAll(async () => {
  if (prometheus !== undefined && prometheus.exitCode === null) {
    const exited = new Promise((resolve) => prometheus!.once('exit', resolve))
    prometheus.kill('SIGTERM')
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5_000))])
    if (prometheus.exitCode === null) prometheus.kill('SIGKILL')
  }
  for (const n of nodes) await n.kill()
  await cluster?.stop()
}, 20_000)

const publish = async (lines: readonly string[]): Promise<unknown> => await feed.publish(cluster.urls, lines)

async function node (name: string, store: 'lmdb' | 'native-free' = 'lmdb'): Promise<FleetNode> {
  const n = await startNode({ name, dataDir: join(dir, name), hashKeyFile: keyFile, nats: cluster.urls, maxLagSeconds: 3, store })
  nodes.push(n)
  return n
}

/** `name{labels} value` lines of a scrape, by series. */
async function scrape (n: FleetNode): Promise<{ text: string, value: (series: string) => number }> {
  const text = await (await fetch(`${n.metricsUrl}/metrics`)).text()
  const values = new Map<string, number>()
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || line === '') continue
    const i = line.lastIndexOf(' ')
    values.set(line.slice(0, i), Number(line.slice(i + 1)))
  }
  return {
    text,
    value: (series) => {
      const v = values.get(series)
      if (v === undefined) throw new Error(`${series} is not in the scrape`)
      return v
    }
  }
}

async function freePort (): Promise<number> {
  const srv = createServer()
  await new Promise<void>((resolve) => { srv.listen(0, '127.0.0.1', resolve) })
  const port = (srv.address() as { port: number }).port
  await new Promise((resolve) => srv.close(resolve))
  return port
}

describe('fleet operations', () => {
  it('a node exports every replication metric, with values that agree with the feed; the Fleet dashboard and rules return data from Prometheus', async () => {
    await publish(syntheticChanges(400, { seed: 51 }))
    const a = await node('ops-a')
    await waitFor('ops-a to apply the feed', async () => await a.applied() === published.length, 30_000, a.log)
    await waitFor('ops-a ready', async () => (await a.readyz()).status === 200, 10_000, a.log)
    const m = await scrape(a)
    expect(m.value('idv_replication_applied_sequence')).toBe(published.length)
    expect(m.value('idv_replication_stream_sequence')).toBe(published.length)
    expect(m.value('idv_replication_lag_changes')).toBe(0)
    expect(m.value('idv_replication_lag_seconds')).toBeLessThan(3)
    expect(m.value('idv_replication_ready')).toBe(1)
    expect(m.value('idv_replication_state{state="following"}')).toBe(1)
    expect(m.value('idv_replication_state{state="gap"}')).toBe(0)
    // A node that filled from an empty index applied (or refused: its sequence is consumed) every change once.
    expect(m.value('idv_replication_changes_applied_total')).toBe(published.length)
    expect(m.value('idv_replication_duplicates_total')).toBe(0)
    const batches = m.value('idv_replication_apply_batches_total')
    expect(batches).toBeGreaterThanOrEqual(1)
    expect(batches).toBeLessThanOrEqual(published.length)
    expect(m.value('idv_replication_apply_seconds_total')).toBeGreaterThan(0)
    expect(m.value('idv_replication_bootstrap_state{state="idle"}')).toBe(1)
    expect(m.value('idv_replication_bootstrap_state{state="waiting_for_snapshot"}')).toBe(0)
    expect(m.value('idv_replication_bootstraps_total')).toBe(0)
    expect(m.value('idv_replication_bootstrap_seconds')).toBe(0)
    expect(m.value('idv_replication_bootstrap_snapshot_sequence')).toBe(0)
    const check = spawnSync('promtool', ['check', 'metrics'], { input: m.text, encoding: 'utf8' })
    expect(check.stdout + check.stderr).toBe('')

    // Prometheus scrapes the node every second with the rules; every Fleet dashboard query and fleet record returns data.
    const port = await freePort()
    const config = join(dir, 'prometheus.yml')
    writeFileSync(config, [
      'global:', '  scrape_interval: 1s', '  evaluation_interval: 1s',
      'rule_files:', `  - ${join(GRAFANA, 'alerts', 'idv-rules.yml')}`,
      'scrape_configs:', '  - job_name: idv', '    static_configs:', `      - targets: ['${new URL(a.metricsUrl).host}']`, ''
    ].join('\n'))
    prometheus = spawn('prometheus', [`--config.file=${config}`, `--storage.tsdb.path=${join(dir, 'tsdb')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=error'], { stdio: 'ignore' })
    const promUrl = `http://127.0.0.1:${port}`
    await waitFor('prometheus ready', async () => (await fetch(`${promUrl}/-/ready`)).ok, 20_000)
    // Some changes while scraped, so that rates have something to show.
    await publish(syntheticChanges(200, { seed: 52, firstSeq: published.length + 1 }))
    const dashboard = JSON.parse(readFileSync(join(GRAFANA, 'dashboards', 'idv-fleet.json'), 'utf8')) as { panels: Array<{ title: string, targets?: Array<{ expr: string }> }> }
    const queries = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ where: p.title, expr: t.expr })))
    const records = [...readFileSync(join(GRAFANA, 'alerts', 'idv-rules.yml'), 'utf8').matchAll(/record: (idv:fleet_\S+)/g)].map((r) => r[1]!)
    expect(records).toEqual(['idv:fleet_outbox_changes'])
    queries.push(...records.map((expr) => ({ where: 'recording rule', expr })))
    expect(queries.length).toBeGreaterThan(15)
    const exported = new Set([...m.text.matchAll(/^# TYPE (\S+)/gm)].map((t) => t[1]!))
    const elsewhere = (expr: string): boolean => [...expr.matchAll(/\b(idv_[a-z_]+)/g)].some((x) => FROM_ELSEWHERE.has(x[1]!) && !exported.has(x[1]!))
    let failing: string[] = []
    await waitFor('every fleet query to return data', async () => {
      failing = []
      for (const q of queries) {
        const expr = q.expr.replaceAll('$__rate_interval', '5s').replaceAll('$__range', '1m')
        const r = await (await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(expr)}`)).json() as { status: string, error?: string, data?: { result: unknown[] } }
        if (r.status !== 'success') throw new Error(`${q.where}: ${q.expr}: ${r.error ?? r.status}`)
        if ((r.data?.result.length ?? 0) === 0 && !elsewhere(q.expr)) failing.push(`${q.where}: ${q.expr}`)
      }
      return failing.length === 0
    }, 25_000).catch((err: Error) => { throw new Error(`${err.message}; no data:\n${failing.join('\n')}`) })
  }, 90_000)

  it('a gap stops a node (LMDB and native-free) at the change before it, not ready with the reason; a snapshot past the hole re-bootstraps it in place, and it follows on to equal the reference', async () => {
    const STORES = ['lmdb', 'native-free'] as const
    // Per engine, a node that has every change (to publish the snapshot from) and one that is down while the hole is made.
    const holders = await Promise.all(STORES.map(async (store) => await node(`${store}-holder`, store)))
    const downs = await Promise.all(STORES.map(async (store) => await node(`${store}-gapped`, store)))
    for (const n of [...holders, ...downs]) await waitFor(`${n.name} to apply the feed`, async () => await n.applied() === published.length, 30_000, n.log)
    for (const n of downs) { await n.stop(); nodes.splice(nodes.indexOf(n), 1) }
    await publish(syntheticChanges(300, { seed: 53, firstSeq: published.length + 1 }))
    const hole = published.length - 200
    for (const n of holders) await waitFor(`${n.name} to apply the feed`, async () => await n.applied() === published.length, 30_000, n.log)
    const nc = await connect({ servers: cluster.url(0) })
    await (await jetstreamManager(nc)).streams.deleteMessage(STREAM, hole)
    await nc.close()

    const gapped = await Promise.all(STORES.map(async (store) => await node(`${store}-gapped`, store)))
    for (const b of gapped) {
      await waitFor(`${b.name} to stop at the gap`, async () => (await b.readyz()).status === 503 && await b.applied() === hole - 1, 20_000, b.log)
      expect(JSON.parse((await b.readyz()).body)).toMatchObject({
        status: 503,
        code: 'IDV_ERR_NOT_READY',
        detail: `gap in the change feed after seq ${hole - 1}: the node stopped applying; re-bootstrapping: waiting for a snapshot at seq ${hole} or later in the Object Store`
      })
      expect((await fetch(`${b.url}/readyz`)).status).toBe(503) // the public port says the same
      await waitFor(`${b.name} to wait for a snapshot`, async () => (await scrape(b)).value('idv_replication_bootstrap_state{state="waiting_for_snapshot"}') === 1, 10_000, b.log)
    }
    // Waiting, they hold the consistent prefix: nothing after the hole.
    await new Promise((resolve) => setTimeout(resolve, 1_000))
    for (const b of gapped) expect(await b.applied()).toBe(hole - 1)

    for (const [i, store] of STORES.entries()) {
      const snap = await runCli(['snapshot', 'publish', '--nats', cluster.urls, '--data-dir', join(dir, holders[i]!.name), '--store', store, '--hash-key-file', keyFile])
      expect(snap.code, snap.stderr).toBe(0)
    }
    for (const b of gapped) {
      await waitFor(`${b.name} to re-bootstrap and follow`, async () => (await b.readyz()).status === 200 && await b.applied() === published.length, 30_000, b.log)
      const m = await scrape(b)
      expect(m.value('idv_replication_bootstraps_total')).toBe(1)
      expect(m.value('idv_replication_bootstrap_snapshot_sequence')).toBe(published.length)
      expect(m.value('idv_replication_bootstrap_seconds')).toBeGreaterThan(0)
      expect(m.value('idv_replication_bootstrap_state{state="idle"}')).toBe(1)
      expect(b.log()).toMatch(/"msg":"re-bootstrapped from a snapshot"/)
    }

    // They follow on after the re-bootstrap.
    await publish(syntheticChanges(100, { seed: 54, firstSeq: published.length + 1 }))
    for (const n of [...holders, ...gapped]) {
      await waitFor(`${n.name} to apply the feed`, async () => await n.applied() === published.length, 30_000, n.log)
      await n.stop()
      const s = await openStore(n.name.startsWith('lmdb') ? 'lmdb' : 'native-free', join(dir, n.name), { mustExist: true })
      try {
        expect(appliedSequence(s)).toBe(published.length)
        expect(stateDiff(storeState(s), referenceState(hashKey, published))).toEqual([])
      } finally {
        await s.close()
      }
    }
  }, 150_000)
})
