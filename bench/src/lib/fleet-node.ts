/**
 * The fleet's real parts for benchmarks: a local 3-server JetStream cluster
 * (src/fleet/local-cluster.ts), verification nodes as `idv serve --replicate`
 * processes that can be paused (SIGSTOP) and resumed, a feed publisher that
 * stamps each change's send time, and an ack watcher that sees when a node
 * has committed a change.
 *
 * How "applied" is observed without touching the node: a node acknowledges a
 * batch right after the transaction that applied it commits (AckPolicy.All,
 * src/replication/replicator.ts), and the acknowledgement is a core NATS
 * message on `$JS.ACK.<stream>.<consumer>.…` whose subject carries the
 * stream sequence. A plain subscription to that subject receives a copy, so
 * the bench learns each commit within a loopback hop, at no cost to the node
 * and with no polling interval to blur the figure. The metrics endpoint's
 * `idv_replication_applied_sequence` is the cross-check at the end.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { join } from 'node:path'
import { connect, type NatsConnection, type Subscription } from '@nats-io/transport-node'
import { jetstream, type JetStreamClient } from '@nats-io/jetstream'
import { LocalCluster } from '../../../dist/src/fleet/local-cluster.js'
import { connectFleet, encodeChange, ensureStream, fleetManager, keyTagOf, parseChangeLine, STREAM, SUBJECT } from '../../../dist/src/replication/index.js'
import { RecordCodec } from '../../../dist/src/domain/record.js'
import { packageRoot } from '../../../dist/src/paths.js'
import { ownAuditDir } from './child.js'

export { LocalCluster }

const CLI = join(packageRoot(), 'dist', 'src', 'app', 'cli.js')

export interface BenchNodeOptions {
  readonly name: string
  readonly dataDir: string
  readonly hashKeyFile: string
  readonly nats: string
  readonly store?: 'lmdb' | 'native-free'
  readonly maxLagSeconds?: number
  /** How long to wait for the "serving" line (a bootstrap restores a snapshot first). */
  readonly startTimeoutMs?: number
}

export interface BenchNode {
  readonly name: string
  readonly url: string
  readonly metricsUrl: string
  readonly child: ChildProcess
  /** When the process was spawned and when it logged "serving" (performance.now()). */
  readonly spawnedAt: number
  readonly servingAt: number
  log: () => string
  /** idv_replication_applied_sequence from the metrics port. */
  applied: () => Promise<number>
  readyz: () => Promise<{ status: number, body: string }>
  pause: () => void
  resume: () => void
  stop: () => Promise<void>
}

/** Starts `idv serve --replicate` on free ports (one HTTP thread, no auth) and waits until it serves. */
export async function startBenchNode (o: BenchNodeOptions): Promise<BenchNode> {
  const args = [CLI, 'serve', '--replicate', o.nats, '--node-id', o.name, '--data-dir', o.dataDir, '--hash-key-file', o.hashKeyFile,
    '--store', o.store ?? 'lmdb', '--port', '0', '--auth', 'none', '--threads', '1', '--log-level', 'info',
    '--max-lag-seconds', String(o.maxLagSeconds ?? 5)]
  const audit = ownAuditDir(args, {})
  const spawnedAt = performance.now()
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...audit.env } })
  const killOnExit = (): void => { child.kill('SIGKILL') }
  process.on('exit', killOnExit)
  let out = ''
  const keep = (d: Buffer): void => { out = (out + String(d)).slice(-200_000) }
  child.stdout!.on('data', keep)
  child.stderr!.on('data', keep)
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => {
      process.off('exit', killOnExit)
      if (audit.dir !== undefined) import('node:fs').then((fs) => { fs.rmSync(audit.dir!, { recursive: true, force: true }) }, () => {})
      resolve()
    })
  })
  const deadline = Date.now() + (o.startTimeoutMs ?? 120_000)
  let serving: { url: string, metricsPort: number } | undefined
  while (serving === undefined) {
    const line = out.split('\n').find((l) => l.includes('"msg":"serving"'))
    if (line !== undefined) serving = JSON.parse(line) as { url: string, metricsPort: number }
    else if (child.exitCode !== null || Date.now() > deadline) { child.kill('SIGKILL'); throw new Error(`node ${o.name} did not start:\n${out.slice(-3000)}`) }
    else await sleep(20)
  }
  const servingAt = performance.now()
  const metricsUrl = `http://127.0.0.1:${serving.metricsPort}`
  return {
    name: o.name,
    url: serving.url,
    metricsUrl,
    child,
    spawnedAt,
    servingAt,
    log: () => out,
    async applied () {
      const text = await (await fetch(`${metricsUrl}/metrics`)).text()
      const m = text.match(/^idv_replication_applied_sequence (\d+)/m)
      return m === null ? -1 : Number(m[1])
    },
    async readyz () {
      const res = await fetch(`${metricsUrl}/readyz`)
      return { status: res.status, body: await res.text() }
    },
    pause () { child.kill('SIGSTOP') },
    resume () { child.kill('SIGCONT') },
    async stop () {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGCONT')
        child.kill('SIGTERM')
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
        await exited
        clearTimeout(timer)
      }
    }
  }
}

/** Runs `idv` to completion. */
export async function runIdv (args: string[]): Promise<{ code: number | null, stdout: string, stderr: string }> {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''; let stderr = ''
  child.stdout!.on('data', (d) => { stdout += String(d) })
  child.stderr!.on('data', (d) => { stderr += String(d) })
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve))
  return { code, stdout, stderr }
}

/**
 * Watches one node's acknowledgements: `acked` is the highest stream sequence
 * the node has committed, `at(seq)` when (performance.now()) it was first seen.
 */
export class AckWatcher {
  readonly #sub: Subscription
  #acked = 0
  /** Ack arrivals in order: [stream sequence, time]. */
  readonly #events: Array<[number, number]> = []
  #waiters: Array<{ seq: number, resolve: (t: number) => void }> = []

  private constructor (sub: Subscription) { this.#sub = sub }

  static async watch (nc: NatsConnection, consumer: string): Promise<AckWatcher> {
    const sub = nc.subscribe(`$JS.ACK.${STREAM}.${consumer}.>`)
    const w = new AckWatcher(sub)
    void (async () => {
      for await (const m of sub) {
        const t = performance.now()
        // $JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.<consumer seq>.<ts>.<pending> (2.9; a 2.10+ server may send the v2 form, with a domain and account hash, which this subscription does not match).
        const parts = m.subject.split('.')
        const seq = Number(parts[parts.length - 4])
        if (!Number.isFinite(seq) || seq <= w.#acked) continue
        w.#acked = seq
        w.#events.push([seq, t])
        w.#waiters = w.#waiters.filter((x) => { if (x.seq <= seq) { x.resolve(t); return false } return true })
      }
    })()
    await nc.flush()
    return w
  }

  get acked (): number { return this.#acked }

  /** Resolves with the time the node acknowledged `seq` (or a later one). */
  async until (seq: number, timeoutMs: number): Promise<number> {
    if (this.#acked >= seq) return this.#events.find(([s]) => s >= seq)![1]
    return await new Promise((resolve, reject) => {
      const timer = setTimeout(() => { reject(new Error(`no ack of seq ${seq} within ${timeoutMs} ms (acked ${this.#acked})`)) }, timeoutMs)
      this.#waiters.push({ seq, resolve: (t) => { clearTimeout(timer); resolve(t) } })
    })
  }

  /** When each sequence in [from, to] was acknowledged: the first ack at or past it. */
  timesFor (from: number, to: number): Float64Array {
    const out = new Float64Array(to - from + 1).fill(NaN)
    let i = 0
    for (let seq = from; seq <= to; seq++) {
      while (i < this.#events.length && this.#events[i]![0] < seq) i++
      if (i < this.#events.length) out[seq - from] = this.#events[i]![1]
    }
    return out
  }

  close (): void { this.#sub.unsubscribe() }
}

/**
 * Publishes changes the way `idv publish` puts them on the stream (wire form,
 * Nats-Msg-Id = seq, expected last sequence seq - 1) but without its outbox,
 * so each change's send time is known: the bench measures the feed and the
 * node, not the producer's fsync.
 */
export class FeedPublisher {
  readonly nc: NatsConnection
  readonly #js: JetStreamClient
  readonly #codec: RecordCodec
  readonly #keyTag: Uint8Array

  private constructor (nc: NatsConnection, hashKey: Uint8Array) {
    this.nc = nc
    this.#js = jetstream(nc, { timeout: 10_000 })
    this.#codec = new RecordCodec(hashKey)
    this.#keyTag = keyTagOf(hashKey)
  }

  static async open (servers: string, hashKey: Uint8Array): Promise<FeedPublisher> {
    const nc = await connectFleet(servers, { name: 'idv-bench-publisher' })
    await ensureStream(await fleetManager(nc), 3)
    return new FeedPublisher(nc, hashKey)
  }

  async lastSeq (): Promise<number> {
    return (await (await fleetManager(this.nc)).streams.info(STREAM)).state.last_seq
  }

  /** Wire forms of NDJSON change lines (hashing done up front, off the timed path). */
  encode (lines: readonly string[]): Array<{ seq: number, data: Uint8Array }> {
    return encodeChanges(lines, this.#codec, this.#keyTag)
  }

  async publish (e: { seq: number, data: Uint8Array }): Promise<void> {
    await this.#js.publish(SUBJECT, e.data, { msgID: String(e.seq), expect: { lastSequence: e.seq - 1, streamName: STREAM } })
  }

  /** As fast as the stream takes them, `window` in flight (each waits for its position, so order holds). */
  async publishAll (changes: ReadonlyArray<{ seq: number, data: Uint8Array }>, window = 2_000): Promise<void> {
    for (let i = 0; i < changes.length; i += window) {
      await Promise.all(changes.slice(i, i + window).map(async (e) => { await this.publish(e) }))
    }
  }

  /**
   * At `rate` changes/s on a fixed schedule (a change late to leave is sent at
   * once, never skipped); returns each change's send time (performance.now()).
   */
  async publishPaced (changes: ReadonlyArray<{ seq: number, data: Uint8Array }>, rate: number): Promise<Float64Array> {
    const sent = new Float64Array(changes.length)
    const start = performance.now()
    const inFlight: Array<Promise<void>> = []
    for (let i = 0; i < changes.length; i++) {
      const due = start + (i * 1000) / rate
      const wait = due - performance.now()
      if (wait > 1) await sleep(wait)
      sent[i] = performance.now()
      inFlight.push(this.publish(changes[i]!))
      if (inFlight.length >= 1_000) await Promise.all(inFlight.splice(0))
    }
    await Promise.all(inFlight)
    return sent
  }

  async close (): Promise<void> { await this.nc.close() }
}

/** A plain connection to watch acks with. */
export async function watcherConnection (servers: string): Promise<NatsConnection> {
  return await connect({ servers: servers.split(','), name: 'idv-bench-ack-watcher' })
}

export async function waitUntil (what: string, probe: () => Promise<boolean>, ms: number, context: () => string = () => ''): Promise<void> {
  const deadline = Date.now() + ms
  for (;;) {
    try { if (await probe()) return } catch { /* not yet */ }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\n${context().slice(-3000)}`)
    await sleep(50)
  }
}

export const sleep = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }

/** Change lines in the wire form `idv publish` sends (what a node receives). */
export function encodeChanges (lines: readonly string[], codec: RecordCodec, keyTag: Uint8Array): Array<{ seq: number, data: Uint8Array }> {
  return lines.map((line) => {
    const parsed = parseChangeLine(line)
    if (!parsed.ok) throw new Error(`bad synthetic change: ${parsed.reason}`)
    return { seq: parsed.change.seq, data: encodeChange(parsed.change, codec, keyTag) }
  })
}
