/**
 * The fleet's replication, measured with real parts (issue 21): a local
 * 3-server nats-server cluster, verification nodes as `idv serve --replicate`
 * processes over cached LMDB datasets, the feed in the wire form `idv publish`
 * writes. Stages, in one run:
 *
 * - catch-up: a current node is paused (SIGSTOP) while N changes are
 *   published, then resumed; changes/s from SIGCONT until it has committed the
 *   last one. Quiet, and again while the node also answers POST /v1/verify
 *   from a closed loop of connections in this process.
 * - apply: the store's part of catch-up, in this process without NATS:
 *   applyBatch over a copy of the same index, the same changes.
 * - propagation: changes published on a fixed schedule (default 1,000/s for
 *   20 s); per change, the time from its send to the node's commit of it.
 * - bootstrap, per size: a snapshot of an N-citizen index (`idv snapshot
 *   publish`, to the Object Store), changes made meanwhile, then a fresh node
 *   with an empty directory: time from its start until it restored the
 *   snapshot, applied every change and answers /readyz 200.
 * - fleet-check-cost: server CPU per Ed25519-signed request on one node with
 *   the fleet-wide replay/quota check off, then on (bench/src/fleet-check-cost.ts),
 *   rounds of `--seconds` (default 10) each.
 *
 * A node's commits are seen through its acknowledgements (bench/src/lib/fleet-node.ts,
 * AckWatcher): a node acks a batch right after the transaction that applied it.
 * The machine's load average is printed with every figure: on a shared machine
 * it says how much of the two cores the run had.
 *
 * Usage: npm run bench:replication -- [--sizes 1m[,10m]] [--changes N] [--rate R]
 *   [--propagation-seconds S] [--load-connections C] [--seconds S]
 *   [--stages catch-up,apply,propagation,bootstrap,fleet-check-cost]
 * Writes bench/results/<date>-<sha>-replication.json.
 */
import { execSync } from 'node:child_process'
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import autocannon from 'autocannon'
import { packageRoot } from '../../dist/src/paths.js'
import { syntheticChanges } from '../../dist/src/fleet/synthetic-changes.js'
import { BENCH_KEY, ensureDataset, sampleCitizens } from './lib/dataset.js'
import { RESULTS_DIR } from './lib/bench-paths.js'
import { cpuSeconds } from './lib/proc-cpu.js'
import { RecordCodec } from '../../dist/src/domain/record.js'
import { applyBatch, keyTagOf, type FeedMessage } from '../../dist/src/replication/index.js'
import { openStore } from '../../dist/src/store/open.js'
import { AckWatcher, encodeChanges, FeedPublisher, LocalCluster, runIdv, startBenchNode, waitUntil, watcherConnection, type BenchNode } from './lib/fleet-node.js'
import { measureFleetCheckCost } from './fleet-check-cost.js'

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '1m' },
    changes: { type: 'string', default: '300000' },
    rate: { type: 'string', default: '1000' },
    'propagation-seconds': { type: 'string', default: '20' },
    'load-connections': { type: 'string', default: '16' },
    'catch-up-citizens': { type: 'string', default: '1m' },
    seconds: { type: 'string', default: '10' },
    stages: { type: 'string' }
  }
})

/** `1m`, `10m`, `250k` or a plain number. */
function count (s: string): number {
  const m = s.trim().toLowerCase().match(/^(\d+(?:\.\d+)?)([km]?)$/)
  if (m === null) throw new Error(`not a size: ${s} (use e.g. 1m, 250k, 100000)`)
  return Math.round(Number(m[1]) * (m[2] === 'm' ? 1e6 : m[2] === 'k' ? 1e3 : 1))
}

interface StageOptions {
  readonly sizes: number[]
  readonly changes: number
  readonly rate: number
  readonly propagationSeconds: number
  readonly loadConnections: number
  readonly catchUpCitizens: number
  /** For stages measured over a duration (the fleet check's cost). */
  readonly seconds: number
}

/** One printed figure: what, the value, and the machine's 1-minute load average when it was taken. */
interface Figure {
  readonly stage: string
  readonly what: string
  readonly value: string
  readonly load1: number
  readonly data?: Record<string, unknown>
}

interface Stage {
  readonly name: string
  readonly run: (o: StageOptions) => Promise<Figure[]>
}

const opts: StageOptions = {
  sizes: values.sizes!.split(',').map(count),
  changes: count(values.changes!),
  rate: Number(values.rate),
  propagationSeconds: Number(values['propagation-seconds']),
  loadConnections: Number(values['load-connections']),
  catchUpCitizens: count(values['catch-up-citizens']!),
  seconds: Number(values.seconds)
}

const load1 = (): number => Number(loadavg()[0]!.toFixed(2))
const fmt = (n: number, digits = 0): string => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })
const log = (s: string): void => { console.error(`[replication] ${s}`) }

/** A cluster, a dataset copy per node, and everything stopped and removed at the end. */
class Fleet {
  readonly dir = mkdtempSync(join(tmpdir(), 'idv-bench-fleet-'))
  cluster: LocalCluster | undefined
  readonly nodes: BenchNode[] = []
  publisher: FeedPublisher | undefined
  readonly #watchers: AckWatcher[] = []
  #nc: Awaited<ReturnType<typeof watcherConnection>> | undefined
  hashKeyFile = ''

  async start (): Promise<void> {
    this.cluster = await LocalCluster.start({ dir: join(this.dir, 'nats') })
    this.publisher = await FeedPublisher.open(this.cluster.urls, BENCH_KEY)
    this.#nc = await watcherConnection(this.cluster.urls)
  }

  /** A node over a copy of `fromDataDir` (or an empty directory), with an ack watcher. */
  async node (name: string, fromDataDir?: string): Promise<{ node: BenchNode, acks: AckWatcher }> {
    const dataDir = join(this.dir, name)
    if (fromDataDir !== undefined) cpSync(fromDataDir, dataDir, { recursive: true, filter: (src) => !src.endsWith('/complete') })
    const acks = await AckWatcher.watch(this.#nc!, name)
    this.#watchers.push(acks)
    const node = await startBenchNode({ name, dataDir, hashKeyFile: this.hashKeyFile, nats: this.cluster!.urls, startTimeoutMs: 600_000 })
    this.nodes.push(node)
    return { node, acks }
  }

  async stop (): Promise<void> {
    for (const n of this.nodes) await n.stop().catch(() => {})
    for (const w of this.#watchers) w.close()
    await this.publisher?.close().catch(() => {})
    await this.#nc?.close().catch(() => {})
    await this.cluster?.stop()
    rmSync(this.dir, { recursive: true, force: true })
  }
}

async function withFleet<T> (hashKeyFile: string, fn: (f: Fleet) => Promise<T>): Promise<T> {
  const f = new Fleet()
  f.hashKeyFile = hashKeyFile
  try {
    await f.start()
    return await fn(f)
  } finally {
    await f.stop()
  }
}

/** Publishes `n` synthetic changes after the stream's last one, as fast as the stream takes them. */
async function publishSynthetic (p: FeedPublisher, n: number, seed: number): Promise<number> {
  const first = await p.lastSeq() + 1
  for (let i = 0; i < n; i += 100_000) {
    const lines = syntheticChanges(Math.min(100_000, n - i), { seed: seed + i, firstSeq: first + i, pool: 70_000 })
    await p.publishAll(p.encode(lines))
  }
  return first + n - 1
}

/** A closed loop of POST /v1/verify (autocannon, as bench:verify) from `connections` connections until stopped. */
function verifyLoad (url: string, connections: number): { stop: () => Promise<{ answers: number, errors: number, seconds: number }> } {
  const requests = sampleCitizens(2_000, 1).map((c) => ({
    method: 'POST' as const,
    path: '/v1/verify',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ pin: c.pin, attributes: { gender: c.gender } })
  }))
  const started = performance.now()
  let instance: autocannon.Instance | undefined
  const result = new Promise<autocannon.Result>((resolve, reject) => {
    instance = autocannon({ url, connections, duration: 3_600, pipelining: 1, requests }, (err, r) => { if (err !== null && err !== undefined) reject(err); else resolve(r) })
  })
  return {
    async stop () {
      instance!.stop()
      const r = await result
      return { answers: r['2xx'], errors: r.errors + r.non2xx + r.timeouts, seconds: (performance.now() - started) / 1000 }
    }
  }
}

const catchUp: Stage = {
  name: 'catch-up',
  async run (o) {
    const ds = await ensureDataset('lmdb', o.catchUpCitizens, 1, log)
    return await withFleet(ds.hashKeyFile, async (f) => {
      const { node, acks } = await f.node('catch-up', ds.dataDir)
      const figures: Figure[] = []
      for (const underLoad of [false, true]) {
        // Current first: a few changes, applied and acknowledged.
        const warm = await publishSynthetic(f.publisher!, 1_000, 900 + figures.length)
        await acks.until(warm, 60_000)
        // The same load on the current node first: what it answers when it has nothing to apply.
        let idle: { answers: number, seconds: number } | undefined
        if (underLoad) {
          const l = verifyLoad(node.url, o.loadConnections)
          await new Promise((resolve) => setTimeout(resolve, 5_000))
          idle = await l.stop()
        }
        node.pause()
        const from = acks.acked
        const last = await publishSynthetic(f.publisher!, o.changes, 1_000 + figures.length * 1_000_000)
        const load = underLoad ? verifyLoad(node.url, o.loadConnections) : undefined
        const cpu0 = cpuSeconds([node.child.pid!])
        const t0 = performance.now()
        node.resume()
        const done = await acks.until(last, 600_000)
        const cpu = cpuSeconds([node.child.pid!]) - cpu0
        const served = await load?.stop()
        const seconds = (done - t0) / 1000
        const rate = (last - from) / seconds
        const applied = await node.applied()
        if (applied !== last) throw new Error(`catch-up: the node reports applied ${applied}, the stream holds ${last}`)
        await waitUntil('ready after catch-up', async () => (await node.readyz()).status === 200, 30_000, node.log)
        figures.push({
          stage: 'catch-up',
          what: underLoad
            ? `changes/s applied after SIGCONT, ${fmt(last - from)} changes, while serving ${o.loadConnections} verify connections (autocannon, closed loop)`
            : `changes/s applied after SIGCONT, ${fmt(last - from)} changes, node serving nothing else (${fmt(o.catchUpCitizens)}-citizen LMDB index)`,
          value: `${fmt(rate)} changes/s (${seconds.toFixed(2)} s; node CPU ${cpu.toFixed(2)} s, ${fmt((last - from) / cpu)} changes per CPU-second)` + (served === undefined ? '' : `; verify ${fmt(served.answers / served.seconds)} answers/s meanwhile (${fmt(idle!.answers / idle!.seconds)}/s with nothing to apply), ${served.errors} errors`),
          load1: load1(),
          data: { changes: last - from, seconds, rate, nodeCpuSeconds: cpu, changesPerCpuSecond: (last - from) / cpu, underLoad, ...(served === undefined ? {} : { verifyPerSecond: served.answers / served.seconds, verifyIdlePerSecond: idle!.answers / idle!.seconds, verifyErrors: served.errors }) }
        })
        log(`${figures.at(-1)!.what}: ${figures.at(-1)!.value} (load ${figures.at(-1)!.load1})`)
      }
      return figures
    })
  }
}

/** The replicator's batch: at most this many queued changes go into one transaction (src/replication/replicator.ts). */
const REPLICATOR_BATCH = 10_000

/**
 * The store's part of catching up, in this process and without NATS:
 * applyBatch (decode, one LMDB transaction per batch with the applied
 * sequence, durable before it returns) over a copy of the same index, the same
 * number of changes. Catch-up's figure less this one is the feed's part
 * (delivery through the NATS client, acks).
 */
const apply: Stage = {
  name: 'apply',
  async run (o) {
    const ds = await ensureDataset('lmdb', o.catchUpCitizens, 1, log)
    const dir = mkdtempSync(join(tmpdir(), 'idv-bench-apply-'))
    try {
      cpSync(ds.dataDir, join(dir, 'index'), { recursive: true, filter: (src) => !src.endsWith('/complete') })
      const store = await openStore('lmdb', join(dir, 'index'), { mustExist: true })
      try {
        const codec = new RecordCodec(BENCH_KEY)
        const keyTag = keyTagOf(BENCH_KEY)
        const messages: FeedMessage[] = []
        for (let i = 0; i < o.changes; i += 100_000) {
          const lines = syntheticChanges(Math.min(100_000, o.changes - i), { seed: 3_000 + i, firstSeq: i + 1, pool: 70_000 })
          for (const e of encodeChanges(lines, codec, keyTag)) messages.push({ data: e.data, streamSeq: e.seq })
        }
        const cpu0 = process.cpuUsage()
        const t0 = performance.now()
        for (let i = 0; i < messages.length; i += REPLICATOR_BATCH) {
          const r = await applyBatch(store, messages.slice(i, i + REPLICATOR_BATCH), keyTag)
          if (r.stop !== undefined) throw new Error(`apply: ${r.stop}`)
        }
        const seconds = (performance.now() - t0) / 1000
        const used = process.cpuUsage(cpu0)
        const cpu = (used.user + used.system) / 1e6
        return [{
          stage: 'apply',
          what: `applyBatch alone (no NATS), ${fmt(messages.length)} changes in batches of ${fmt(REPLICATOR_BATCH)} into a copy of the ${fmt(o.catchUpCitizens)}-citizen LMDB index`,
          value: `${fmt(messages.length / seconds)} changes/s (${seconds.toFixed(2)} s; CPU ${cpu.toFixed(2)} s, ${(cpu * 1e6 / messages.length).toFixed(1)} µs per change)`,
          load1: load1(),
          data: { changes: messages.length, seconds, cpuSeconds: cpu, batch: REPLICATOR_BATCH }
        }]
      } finally {
        await store.close()
      }
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  }
}

const propagation: Stage = {
  name: 'propagation',
  async run (o) {
    const ds = await ensureDataset('lmdb', o.catchUpCitizens, 1, log)
    return await withFleet(ds.hashKeyFile, async (f) => {
      const { acks } = await f.node('propagation', ds.dataDir)
      const warm = await publishSynthetic(f.publisher!, 1_000, 77)
      await acks.until(warm, 60_000)
      const n = Math.round(o.rate * o.propagationSeconds)
      const changes = f.publisher!.encode(syntheticChanges(n, { seed: 78, firstSeq: warm + 1, pool: 70_000 }))
      const sent = await f.publisher!.publishPaced(changes, o.rate)
      const achieved = n / ((sent[n - 1]! - sent[0]!) / 1000)
      await acks.until(warm + n, 60_000)
      const committed = acks.timesFor(warm + 1, warm + n)
      const latencies = Array.from(committed, (t, i) => t - sent[i]!).sort((a, b) => a - b)
      const q = (p: number): number => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))]!
      const figure: Figure = {
        stage: 'propagation',
        what: `send → node commit at ${fmt(o.rate)} changes/s paced (${fmt(achieved)} sent/s) for ${o.propagationSeconds} s, ${fmt(n)} changes`,
        value: `p50 ${q(0.5).toFixed(1)} ms · p99 ${q(0.99).toFixed(1)} ms · p99.9 ${q(0.999).toFixed(1)} ms · max ${latencies.at(-1)!.toFixed(1)} ms`,
        load1: load1(),
        data: { rate: o.rate, achieved, changes: n, p50: q(0.5), p90: q(0.9), p99: q(0.99), p999: q(0.999), max: latencies.at(-1) }
      }
      log(`${figure.what}: ${figure.value} (load ${figure.load1})`)
      return [figure]
    })
  }
}

const bootstrap: Stage = {
  name: 'bootstrap',
  async run (o) {
    const figures: Figure[] = []
    for (const size of o.sizes) {
      const ds = await ensureDataset('lmdb', size, 1, log)
      figures.push(await withFleet(ds.hashKeyFile, async (f) => {
        // A node that holds the index and has applied changes: its snapshot carries a sequence to replay from.
        const seed = await f.node('seed', ds.dataDir)
        await seed.acks.until(await publishSynthetic(f.publisher!, 1_000, 500), 120_000)
        await seed.node.stop()
        let t = performance.now()
        const snap = await runIdv(['snapshot', 'publish', '--nats', f.cluster!.urls, '--data-dir', join(f.dir, 'seed'), '--hash-key-file', ds.hashKeyFile])
        if (snap.code !== 0) throw new Error(`snapshot publish failed: ${snap.stderr}`)
        const snapshotSeconds = (performance.now() - t) / 1000
        const snapshotLoad = load1()
        // Changes made after the snapshot: the fresh node replays them.
        const meanwhile = 10_000
        const last = await publishSynthetic(f.publisher!, meanwhile, 600)
        t = performance.now()
        const fresh = await f.node('fresh')
        await fresh.acks.until(last, 600_000)
        await waitUntil('the fresh node ready', async () => (await fresh.node.readyz()).status === 200, 120_000, fresh.node.log)
        const readySeconds = (performance.now() - t) / 1000
        const restored = fresh.node.log().split('\n').find((l) => l.includes('"msg":"snapshot restored"'))
        if (restored === undefined) throw new Error(`the fresh node did not restore a snapshot:\n${fresh.node.log().slice(-2000)}`)
        const restoreSeconds = (JSON.parse(restored) as { seconds: number }).seconds
        const mb = Number(snap.stdout.match(/([\d.]+) MB/)?.[1] ?? NaN)
        const figure: Figure = {
          stage: 'bootstrap',
          what: `${fmt(size)} citizens (LMDB, snapshot ${fmt(mb, 1)} MB): fresh node start → snapshot fetched and restored → ${fmt(meanwhile)} later changes applied → /readyz 200`,
          value: `${readySeconds.toFixed(1)} s (fetch + restore ${restoreSeconds.toFixed(1)} s); snapshot publish ${snapshotSeconds.toFixed(1)} s (load ${snapshotLoad})`,
          load1: load1(),
          data: { citizens: size, snapshotMB: mb, snapshotSeconds, restoreSeconds, readySeconds, meanwhile }
        }
        log(`${figure.what}: ${figure.value} (load ${figure.load1})`)
        return figure
      }))
    }
    return figures
  }
}

/** The cost of the fleet-wide replay/quota check: node CPU per signed request, fleet against single node (bench/src/fleet-check-cost.ts). */
const fleetCheck: Stage = {
  name: 'fleet-check-cost',
  async run (o) {
    const r = await measureFleetCheckCost({ seconds: o.seconds })
    return [{
      stage: 'fleet-check-cost',
      what: `node CPU per Ed25519-signed POST /v1/verify (${r.rounds} rounds of ${r.seconds} s, ${r.concurrency} in flight): single node against the fleet-wide replay/quota check`,
      value: `single node ${r.singleNode.nodeUsPerRequest.toFixed(0)} µs · fleet ${r.fleet.nodeUsPerRequest.toFixed(0)} µs (×${r.nodeCpuRatio.toFixed(2)}); the 3 nats-servers ${r.singleNode.natsUsPerRequest.toFixed(0)} → ${r.fleet.natsUsPerRequest.toFixed(0)} µs per request`,
      load1: load1(),
      data: { ...r }
    }]
  }
}

/** The stages this run knows, in order (`--stages` picks some). */
const stages: Stage[] = [catchUp, apply, propagation, bootstrap, fleetCheck]

async function main (): Promise<void> {
  const wanted = values.stages?.split(',').map((s) => s.trim())
  const unknown = wanted?.filter((w) => !stages.some((s) => s.name === w)) ?? []
  if (unknown.length > 0) throw new Error(`unknown stage ${unknown.join(', ')}: the stages are ${stages.map((s) => s.name).join(', ')}`)
  const figures: Figure[] = []
  for (const stage of stages) {
    if (wanted !== undefined && !wanted.includes(stage.name)) continue
    log(`stage ${stage.name} (load ${load1()})`)
    figures.push(...await stage.run(opts))
  }
  console.log(`\nReplication (${cpus().length} cores, ${cpus()[0]?.model ?? 'cpu'}; load average = 1-minute, when the figure was taken)\n`)
  console.log('| stage | what | figure | load |')
  console.log('| --- | --- | --- | --- |')
  for (const f of figures) console.log(`| ${f.stage} | ${f.what} | ${f.value} | ${f.load1} |`)
  const root = packageRoot()
  const git = (() => { try { return execSync('git rev-parse --short HEAD', { cwd: root }).toString().trim() } catch { return 'unknown' } })()
  mkdirSync(RESULTS_DIR, { recursive: true })
  const file = join(RESULTS_DIR, `${new Date().toISOString().slice(0, 10)}-${git}-replication.json`)
  writeFileSync(file, JSON.stringify({ scenario: 'replication', git, node: process.version, cpu: cpus()[0]?.model, cores: cpus().length, options: opts, figures }, null, 2))
  console.log(`\nwrote ${file}`)
}

main().then(() => { process.exit(0) }, (err: unknown) => { console.error(err); process.exit(1) })
