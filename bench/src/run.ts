/**
 * The SLO suite: `npm run bench -- <scenario> [--duration S] [--connections N]
 * [--rate R] [--citizens N] [--slo FILE]`.
 *
 * One run: build or reuse the dataset (LMDB), prebuild the scenario's requests,
 * start the server processes (`idv serve`, several on one port: uWS sets
 * SO_REUSEPORT, and each is bound to its own loopback address 127.0.0.x so the
 * per-process open-file limit of 20,000 is never reached), fork the load
 * processes (bench/src/lib/load-worker.ts), wait until every connection is open,
 * warm up, measure, stop everything. The baselines get the same load shape
 * and thread count first: the uWS hello-world (bench/src/lib/baseline-server.ts)
 * and, for scenarios that ask for it, Fastify over the same store
 * (bench/src/lib/fastify-server.ts); `--baseline` picks them. For a paced
 * scenario each server is also run closed loop (`--capacity`), because a
 * throughput ratio means something only when both servers saturate. The raw
 * loop (bench/src/lib/raw-loop.ts: the verification work alone on every core, no
 * HTTP) runs between the baselines and the service where asked (telco-batch). The kernel's count of established connections is sampled
 * throughout (`ss`), latency histograms of all load processes are merged
 * (hdr-histogram-js), and each server instance's share of answers is counted
 * from the x-request-id prefix. The result goes to bench/results/ as JSON, a
 * table is printed, and the exit code is 1 when a target of bench/slo.json is
 * missed (2 for a usage error, 3 when the run itself failed).
 */
import { execFileSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os'
import { get as httpGet } from 'node:http'
import { join, resolve as resolvePath } from 'node:path'
import { pathToFileURL } from 'node:url'
import { parseArgs } from 'node:util'
import * as hdr from 'hdr-histogram-js'
import { packageRoot } from '../../dist/src/paths.js'
import { sampleConnections, samplesWithin, type ConnectionSample } from './lib/connections.js'
import { ensureDataset } from './lib/dataset.js'
import { HISTOGRAM_OPTIONS, type KindCounts, type LoadWorkerConfig, type LoadWorkerResult } from './lib/load-worker.js'
import { ProcessGroup, type ManagedProcess } from './lib/processes.js'
import { cpuSeconds, withChildren } from './lib/proc-cpu.js'
import { compareResults, formatComparison, readResult, type ComparableResult } from './lib/compare.js'
import { runRawLoop, type RawLoopResult } from './lib/raw-loop.js'
import { sweepSvg, type SweepPoint } from './lib/sweep-chart.js'
import { buildRequestPool, RECORDS_PER_REQUEST } from './lib/request-pool.js'
import { BASELINE_NAMES, loadScenario, scenarioNames, type BaselineName, type RequestKind, type Scenario } from './lib/scenario.js'
import { evaluateSlo, readSloFile, round3, type RatioName, type SloVerdict } from './lib/slo.js'
import { benchScript, RESULTS_DIR, SLO_FILE } from './lib/bench-paths.js'

/**
 * uWS closes a connection idle for ~10 s, checked on a 4 s tick, so the cut can
 * come after 8 s; a send due at 8 s that a busy load process makes a little
 * late loses its connection (seen at 40,000 connections). 6 s leaves margin.
 */
export const MAX_SEND_INTERVAL_MS = 6000
/** Connections per server or load process: half the 20,000 open-file limit leaves room for the rest. */
export const CONNECTIONS_PER_PROCESS = 10_000

const USAGE = `usage: npm run bench -- <scenario> [options]
       npm run bench -- --compare EARLIER.json LATER.json   (compare two results, run nothing)
scenarios: ${scenarioNames().join(', ')}
  --duration S        measured seconds (after every connection is open and the warm-up)
  --warmup S          seconds of traffic before the measured window
  --connections N     keep-alive connections in all
  --rate R            requests/s over all connections (0: closed loop)
  --citizens N        population size (built once under .bench-data/)
  --slo FILE          targets (default bench/slo.json)
  --servers N         idv serve processes sharing the port (default: one per ${CONNECTIONS_PER_PROCESS} connections)
  --load-processes N  load processes (default: one per ${CONNECTIONS_PER_PROCESS} connections)
  --addresses N       loopback addresses 127.0.0.1… (default: as many as server processes)
  --server-threads N  passed to idv serve as --threads (default: the service's own default)
  --baseline LIST     comma list of hello, fastify (under the same load and thread count) and
                      raw (the verification work alone, no HTTP, on all cores), or none
                      (default: the scenario's; portal-verify, chip and mixed hello,fastify; telco-batch hello,raw)
  --capacity on|off   also run every server closed loop (rate 0) for the throughput ratios
                      (default: on when the scenario is paced and a baseline is run)
  --compare FILE      print the change of the main figures against an earlier result JSON
  --sweep             run the service at several offered rates (no baselines) and chart
                      p50/p99/p99.9 against offered load (SVG next to the JSON result)
  --sweep-points LIST percent of capacity per point (default 25,50,75,100,125)
  --sweep-capacity R  capacity in req/s (default: measured by a closed-loop run first)
  --cpu-prof DIR      write a V8 CPU profile of every service thread to DIR (where the time goes)
  --results DIR       where the JSON result goes (default bench/results)`

export interface LoadShape {
  readonly connections: number
  readonly rate: number
  readonly intervalMs: number
  readonly durationSeconds: number
  readonly warmupSeconds: number
  readonly citizens: number
  readonly servers: number
  readonly loadProcesses: number
  readonly addresses: readonly string[]
  /** --threads for each idv serve process; undefined: the service's default. */
  readonly serverThreads?: number
  readonly notes: string[]
}

export interface PhaseFigures {
  readonly connections: { readonly requested: number, readonly opened: number, readonly connectSeconds?: number, readonly connectFailed: number, readonly peakEstablished: number, readonly minEstablishedMeasured: number | null, readonly lost: number, readonly openAtEnd: number }
  readonly requests: { readonly sent: number, readonly answered: number, readonly ok: number, readonly wrongAnswer: number, readonly non2xx: number, readonly errors: number, readonly timeouts: number }
  readonly byKind: Record<string, KindCounts>
  readonly statusCodes: Record<string, number>
  readonly errorRatio: number
  readonly throughputRps: number
  /** Citizens' records verified per second: throughputRps × records per request of the mix as sent (a 1,000-item batch is 1,000). */
  readonly recordsPerSecond: number
  readonly latencyMs: { readonly p50: number, readonly p90: number, readonly p99: number, readonly p999: number, readonly max: number, readonly mean: number }
  readonly serverProcesses: Array<{ readonly pid: number, readonly address: string }>
  /** Peak established connections per loopback address (each address has its own server process(es)). */
  readonly connectionsByAddress: Record<string, number>
  readonly serverInstances: Array<{ readonly id: string, readonly answers: number, readonly share: number }>
  /** Cores used in the measured window (CPU seconds / window seconds), all server processes and all load processes. */
  readonly coresUsed: { readonly servers: number, readonly load: number, readonly machine: number, readonly softirq: number }
  /** Server CPU time (all server processes and threads) per answer in the window, µs: what other work on a shared machine disturbs least. */
  readonly serverCpuUsPerAnswer: number | null
  readonly firstError?: string
}

function positiveInt (name: string, v: string | undefined, fallback: number, min = 1): number {
  if (v === undefined) return fallback
  const n = Number(v)
  if (!Number.isInteger(n) || n < min) throw new UsageError(`--${name} must be an integer ≥ ${min}, got ${JSON.stringify(v)}`)
  return n
}

class UsageError extends Error {}

export function resolveShape (s: Scenario, v: Record<string, string | undefined>): LoadShape {
  const connections = positiveInt('connections', v.connections, s.connections)
  let rate = positiveInt('rate', v.rate, s.rate, 0)
  const notes: string[] = []
  if (rate > 0 && (connections / rate) * 1000 > MAX_SEND_INTERVAL_MS) {
    rate = Math.ceil(connections * 1000 / MAX_SEND_INTERVAL_MS)
    notes.push(`rate raised to ${rate} req/s so that every connection sends at least every ${MAX_SEND_INTERVAL_MS / 1000} s (uWS closes idle connections after ~10 s)`)
  }
  const perProcess = Math.max(1, Math.ceil(connections / CONNECTIONS_PER_PROCESS))
  const servers = positiveInt('servers', v.servers, perProcess)
  const addressCount = positiveInt('addresses', v.addresses, servers)
  if (addressCount > servers) throw new UsageError(`--addresses (${addressCount}) cannot exceed --servers (${servers}): every address needs a server process bound to it`)
  if (addressCount > 250) throw new UsageError('--addresses must be ≤ 250')
  const loadProcesses = positiveInt('load-processes', v['load-processes'], perProcess)
  if (Math.ceil(connections / loadProcesses) > 19_000) throw new UsageError(`${connections} connections over ${loadProcesses} load processes exceeds the 20,000 open files of one process`)
  if (Math.ceil(connections / servers) > 19_000) throw new UsageError(`${connections} connections over ${servers} server processes exceeds the 20,000 open files of one process`)
  return {
    connections,
    rate,
    intervalMs: rate === 0 ? 0 : (connections / rate) * 1000,
    durationSeconds: positiveInt('duration', v.duration, s.durationSeconds),
    warmupSeconds: positiveInt('warmup', v.warmup, s.warmupSeconds, 0),
    citizens: positiveInt('citizens', v.citizens, s.citizens),
    servers,
    loadProcesses,
    addresses: Array.from({ length: addressCount }, (_, i) => `127.0.0.${i + 1}`),
    ...(v['server-threads'] !== undefined ? { serverThreads: positiveInt('server-threads', v['server-threads'], 1) } : {}),
    notes
  }
}

/** `--auth none` (unsigned requests, loopback only) and `--threads` where this build of idv serve has them. */
function serveOptions (root: string, threads: number | undefined): string[] {
  let help = ''
  try { help = execFileSync(process.execPath, [join(root, 'dist', 'src', 'app', 'cli.js'), 'serve', '--help'], { encoding: 'utf8' }) } catch { /* use none */ }
  const options = help.includes('--auth') ? ['--auth', 'none'] : []
  if (threads !== undefined) {
    if (!help.includes('--threads')) throw new UsageError('--server-threads: this build of idv serve has no --threads')
    options.push('--threads', String(threads))
  }
  return options
}

async function freePort (host: string): Promise<number> {
  const { createServer } = await import('node:net')
  return await new Promise((resolve, reject) => {
    const s = createServer()
    s.once('error', reject)
    s.listen(0, host, () => {
      const port = (s.address() as { port: number }).port
      s.close(() => { resolve(port) })
    })
  })
}

function gitDescribe (root: string): string {
  try {
    const sha = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim()
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: root, encoding: 'utf8' }).trim() !== ''
    return dirty ? `${sha}-dirty` : sha
  } catch { return 'unknown' }
}

export type PhaseLabel = 'service' | 'hello-world' | 'fastify'
const SERVES_VERIFY_ONLY = new Set(['verify-match', 'verify-mismatch', 'verify-unknown', 'batch-1000'])

/**
 * The baselines to run: `--baseline` (a comma list of hello and fastify, or
 * none), else the scenario's default. Fastify serves verify and batch requests
 * only, and Node 20's HTTP server cannot share a port between processes, so it
 * needs one address per server process: a default that cannot run is dropped
 * with a note, an explicit one is a usage error.
 */
export function resolveBaselines (value: string | undefined, s: Scenario, shape: LoadShape): { baselines: BaselineName[], notes: string[] } {
  const notes: string[] = []
  const explicit = value !== undefined
  let names: string[]
  if (!explicit) names = [...(s.baselines ?? ['hello'])]
  else if (value === 'none') names = []
  else names = value.split(',').map((n) => n.trim())
  for (const n of names) if (!(BASELINE_NAMES as readonly string[]).includes(n)) throw new UsageError(`--baseline: ${JSON.stringify(n)} is not one of ${BASELINE_NAMES.join(', ')}, none`)
  const baselines = [...new Set(names as BaselineName[])]
  const verifyOnly = !Object.keys(s.mix).some((k) => !SERVES_VERIFY_ONLY.has(k))
  const drop = (name: BaselineName, why: string | undefined): void => {
    if (why === undefined || !baselines.includes(name)) return
    if (explicit) throw new UsageError(`--baseline ${name}: ${why}`)
    baselines.splice(baselines.indexOf(name), 1)
    notes.push(`${name} baseline left out: ${why}`)
  }
  drop('fastify', shape.addresses.length < shape.servers ? `the Fastify baseline needs one address per server process (--addresses ${shape.servers}): Node 20 cannot share a port between processes` : undefined)
  drop('raw', verifyOnly ? undefined : `the raw loop does verify and batch items only, and ${s.name} sends others`)
  return { baselines, notes }
}

interface Phase {
  readonly label: PhaseLabel
  readonly serverArgs: (host: string, port: number) => { args: string[], env: NodeJS.ProcessEnv }
  /** The line a server prints once it is listening. */
  readonly ready: RegExp
  /** A path answering 200 once the server accepts requests (the service's /readyz), polled after `ready`. */
  readonly readyPath?: string
  readonly checkAnswers: boolean
}

/** Polls http://address:port{path} until it answers 200 (one connection per try, closed after it, so none lingers in the counts). */
async function waitUntilReady (address: string, port: number, path: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  let last = 'no answer'
  while (Date.now() < deadline) {
    last = await new Promise<string>((resolve) => {
      const req = httpGet({ host: address, port, path, agent: false, timeout: 2000 }, (res) => { res.resume(); resolve(`status ${res.statusCode ?? 0}`) })
      req.on('timeout', () => { req.destroy(new Error('timed out')) })
      req.on('error', (err) => { resolve(err.message) })
    })
    if (last === 'status 200') return
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  throw new Error(`${address}:${port}${path} not ready after ${timeoutMs} ms (${last})`)
}

async function runPhase (group: ProcessGroup, phase: Phase, shape: LoadShape, requestsFile: string, log: (s: string) => void): Promise<PhaseFigures> {
  const title = `${phase.label} (${shape.rate === 0 ? 'closed loop' : `${shape.rate} req/s`})`
  const port = await freePort('127.0.0.1')
  const servers: Array<{ p: ManagedProcess, address: string }> = []
  for (let i = 0; i < shape.servers; i++) {
    const address = shape.addresses[i % shape.addresses.length]!
    const { args, env } = phase.serverArgs(address, port)
    servers.push({ p: group.spawnNode(`${phase.label} server ${i + 1}`, args, env), address })
  }
  const workers: ManagedProcess[] = []
  const samples: ConnectionSample[] = []
  let sampling = true
  let sampler: Promise<void> = Promise.resolve()
  try {
    await Promise.all(servers.map(async ({ p, address }) => {
      await p.waitFor(phase.ready, 120_000)
      if (phase.readyPath !== undefined) await waitUntilReady(address, port, phase.readyPath, 30_000)
    }))
    log(`${title}: ${shape.servers} server process(es) on port ${port} over ${shape.addresses.join(', ')}`)
    sampler = (async () => {
      while (sampling) {
        try { samples.push(await sampleConnections(port)) } catch { /* no ss: the clients' counts remain */ }
        // ss takes ~1 s at 80,000 sockets; small runs sample often so short windows get several samples.
        await new Promise((resolve) => setTimeout(resolve, shape.connections > 5000 ? 2000 : 250))
      }
    })()

    const workerScript = benchScript('lib', 'load-worker.js')
    const opened: Array<Promise<{ opened: number, connectFailed: number, firstError?: string }>> = []
    const results: Array<Promise<LoadWorkerResult>> = []
    let assigned = 0
    for (let w = 0; w < shape.loadProcesses; w++) {
      const connections = Math.floor(shape.connections / shape.loadProcesses) + (w < shape.connections % shape.loadProcesses ? 1 : 0)
      // Rotate addresses per process so each address gets an equal share of all connections.
      const targets = shape.addresses.map((_, a) => ({ host: shape.addresses[(a + assigned) % shape.addresses.length]!, port }))
      assigned += connections
      const p = group.forkNode(`load ${w + 1}`, workerScript)
      workers.push(p)
      const config: LoadWorkerConfig = {
        targets,
        connections,
        intervalMs: shape.intervalMs,
        openingIntervalMs: MAX_SEND_INTERVAL_MS,
        requestsFile,
        orderOffset: w * 997,
        checkAnswers: phase.checkAnswers,
        connectConcurrency: 256,
        drainMs: 10_000
      }
      const exited = new Promise<never>((_resolve, reject) => {
        p.child.once('exit', (code, signal) => { reject(new Error(`load process ${w + 1} exited (${code ?? signal}) early:\n${p.output().slice(-2000)}`)) })
      })
      const message = async <T>(type: string): Promise<T> => await Promise.race([exited, new Promise<T>((resolve) => {
        const on = (m: { type: string }): void => { if (m.type === type) { p.child.off('message', on); resolve(m as T) } }
        p.child.on('message', on)
      })])
      const result = message<LoadWorkerResult>('result')
      opened.push(message('opened'))
      results.push(result)
      // Awaited below; until then a process that dies must not be an unhandled rejection.
      exited.catch(() => {})
      result.catch(() => {})
      p.child.send({ type: 'config', config })
    }
    const connectStart = Date.now()
    const openedAll = await Promise.all(opened)
    const connectSeconds = (Date.now() - connectStart) / 1000
    const openedCount = openedAll.reduce((s, o) => s + o.opened, 0)
    const connectFailed = openedAll.reduce((s, o) => s + o.connectFailed, 0)
    log(`${title}: ${openedCount} of ${shape.connections} connections open in ${connectSeconds} s${connectFailed > 0 ? ` (${connectFailed} failed: ${openedAll.find((o) => o.firstError !== undefined)?.firstError ?? ''})` : ''}; warm-up ${shape.warmupSeconds} s, measuring ${shape.durationSeconds} s`)
    const from = Date.now() + shape.warmupSeconds * 1000
    const until = from + shape.durationSeconds * 1000
    for (const w of workers) w.child.send({ type: 'measure', from, until })
    // With their children: a Fastify server with THREADS > 1 is a cluster of processes.
    const serverPids = withChildren(servers.map(({ p }) => p.child.pid ?? -1))
    let serverCpu = 0
    let machineFrom = machineCpu()
    let machine = { busy: 0, softirq: 0 }
    const cpuFrom = setTimeout(() => { serverCpu = -cpuSeconds(serverPids); machineFrom = machineCpu() }, from - Date.now())
    const cpuUntil = setTimeout(() => {
      serverCpu += cpuSeconds(serverPids)
      const m = machineCpu()
      machine = { busy: m.busy - machineFrom.busy, softirq: m.softirq - machineFrom.softirq }
    }, until - Date.now())
    const done = await Promise.all(results).finally(() => { clearTimeout(cpuFrom); clearTimeout(cpuUntil) })
    sampling = false
    await sampler
    const f = figures(shape, done, openedCount, connectFailed, samples, servers.map(({ p, address }) => ({ pid: p.child.pid ?? -1, address })), from, until)
    // The service logs no PIN or name; its warnings and errors explain lost connections and failures.
    for (const { p } of servers) {
      const noteworthy = p.output().split('\n').filter((l) => /"level":(4|5|6)0/.test(l) && !l.includes('IDV_CSCA_DIR is not set') && !l.includes('IDV_AUTH=none'))
      if (noteworthy.length > 0) log(`${p.name} warned:\n  ${noteworthy.slice(-10).join('\n  ')}`)
    }
    const answered = f.throughputRps * shape.durationSeconds
    return { ...f, connections: { ...f.connections, connectSeconds }, serverCpuUsPerAnswer: answered === 0 ? null : Math.round(serverCpu / answered * 1e7) / 10, coresUsed: { servers: round2(serverCpu / shape.durationSeconds), load: round2(done.reduce((s, r) => s + r.cpuSeconds, 0) / shape.durationSeconds), machine: round2(machine.busy / shape.durationSeconds), softirq: round2(machine.softirq / shape.durationSeconds) } }
  } finally {
    sampling = false
    await sampler
    await group.stopAll()
  }
}

const round2 = (x: number): number => Math.round(x * 100) / 100

export const DEFAULT_SWEEP_POINTS = [25, 50, 75, 100, 125]

/** `--sweep-points`: percentages of capacity, each > 0 and ≤ 1000, in the order given. */
export function parseSweepPoints (v: string | undefined): number[] {
  if (v === undefined) return DEFAULT_SWEEP_POINTS
  const points = v.split(',').map((x) => Number(x.trim()))
  if (points.length === 0 || points.some((p) => !Number.isFinite(p) || p <= 0 || p > 1000)) throw new UsageError(`--sweep-points must be a comma list of percentages (0 < p ≤ 1000), got ${JSON.stringify(v)}`)
  return [...new Set(points)].sort((a, b) => a - b)
}

/** The load shape of one sweep point: the rate for this share of capacity, raised like resolveShape does if connections would idle out. */
export function sweepShape (shape: LoadShape, capacityRps: number, percent: number): LoadShape {
  let rate = Math.max(1, Math.round((capacityRps * percent) / 100))
  const notes: string[] = []
  const lowest = Math.ceil((shape.connections * 1000) / MAX_SEND_INTERVAL_MS)
  if (rate < lowest) {
    notes.push(`${percent}%: rate raised from ${rate} to ${lowest} req/s so that every connection sends at least every ${MAX_SEND_INTERVAL_MS / 1000} s`)
    rate = lowest
  }
  return { ...shape, rate, intervalMs: (shape.connections / rate) * 1000, notes }
}

/** Records verified per request, averaged over the requests sent (RECORDS_PER_REQUEST per kind). */
export function recordsPerRequest (byKind: Readonly<Record<string, { readonly sent: number }>>): number {
  let sent = 0
  let records = 0
  for (const [kind, c] of Object.entries(byKind)) {
    sent += c.sent
    records += c.sent * (RECORDS_PER_REQUEST[kind as RequestKind] ?? 1)
  }
  return sent === 0 ? 1 : records / sent
}

/** CPU seconds the whole machine spent busy (everything but idle and iowait), and in softirq (loopback TCP), from /proc/stat. */
function machineCpu (): { busy: number, softirq: number } {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number)
    const total = fields.slice(0, 8).reduce((a, b) => a + b, 0)
    return { busy: (total - fields[3]! - fields[4]!) / 100, softirq: fields[6]! / 100 }
  } catch { return { busy: 0, softirq: 0 } }
}

function figures (shape: LoadShape, done: LoadWorkerResult[], opened: number, connectFailed: number, samples: ConnectionSample[], servers: Array<{ pid: number, address: string }>, from: number, until: number): Omit<PhaseFigures, 'coresUsed' | 'serverCpuUsPerAnswer'> {
  const histogram = hdr.build(HISTOGRAM_OPTIONS)
  const byKind: Record<string, KindCounts> = {}
  const statusCodes: Record<string, number> = {}
  const instances: Record<string, number> = {}
  for (const r of done) {
    const h = hdr.decodeFromCompressedBase64(r.histogram)
    histogram.add(h)
    for (const [k, c] of Object.entries(r.byKind)) {
      const t = byKind[k] ??= { sent: 0, ok: 0, wrong: 0, non2xx: 0, errors: 0, timeouts: 0 }
      t.sent += c.sent; t.ok += c.ok; t.wrong += c.wrong; t.non2xx += c.non2xx; t.errors += c.errors; t.timeouts += c.timeouts
    }
    for (const [s, n] of Object.entries(r.statusCodes)) statusCodes[s] = (statusCodes[s] ?? 0) + n
    for (const [id, n] of Object.entries(r.servers)) instances[id] = (instances[id] ?? 0) + n
  }
  const sum = (f: (c: KindCounts) => number): number => Object.values(byKind).reduce((s, c) => s + f(c), 0)
  const requests = {
    sent: sum((c) => c.sent),
    answered: histogram.totalCount,
    ok: sum((c) => c.ok),
    wrongAnswer: sum((c) => c.wrong),
    non2xx: sum((c) => c.non2xx),
    errors: sum((c) => c.errors),
    timeouts: sum((c) => c.timeouts)
  }
  const bad = requests.wrongAnswer + requests.non2xx + requests.errors + requests.timeouts
  const ms = (us: number): number => Math.round(us) / 1000
  const measured = samplesWithin(samples, from, until)
  const totalAnswers = Object.values(instances).reduce((s, n) => s + n, 0)
  const firstError = done.find((r) => r.firstError !== undefined)?.firstError
  return {
    connections: {
      requested: shape.connections,
      opened,
      connectFailed,
      peakEstablished: Math.max(0, ...samples.map((s) => s.total)),
      minEstablishedMeasured: measured.length === 0 ? null : Math.min(...measured.map((s) => s.total)),
      lost: done.reduce((s, r) => s + r.lost, 0),
      openAtEnd: done.reduce((s, r) => s + r.openAtEnd, 0)
    },
    requests,
    byKind,
    statusCodes,
    errorRatio: requests.sent === 0 ? 1 : bad / requests.sent,
    throughputRps: Math.round(done.reduce((s, r) => s + r.receivedInWindow, 0) / shape.durationSeconds),
    recordsPerSecond: Math.round((done.reduce((s, r) => s + r.receivedInWindow, 0) / shape.durationSeconds) * recordsPerRequest(byKind)),
    latencyMs: {
      p50: ms(histogram.getValueAtPercentile(50)),
      p90: ms(histogram.getValueAtPercentile(90)),
      p99: ms(histogram.getValueAtPercentile(99)),
      p999: ms(histogram.getValueAtPercentile(99.9)),
      max: ms(histogram.maxValue),
      mean: ms(histogram.mean)
    },
    serverProcesses: servers,
    connectionsByAddress: Object.fromEntries(shape.addresses.map((a) => [a, Math.max(0, ...samples.map((x) => x.byAddress[a] ?? 0))])),
    serverInstances: Object.entries(instances).sort((a, b) => b[1] - a[1]).map(([id, answers]) => ({ id, answers, share: totalAnswers === 0 ? 0 : Math.round((answers / totalAnswers) * 10_000) / 10_000 })),
    ...(firstError !== undefined ? { firstError } : {})
  }
}

/**
 * Service ÷ baseline. Throughput ratios come from the closed-loop capacity
 * phase when there is one (`throughputBasis: 'closed-loop'`): at a paced rate
 * every server that keeps up answers the offered rate and the ratio is 1.
 * Otherwise (a closed-loop scenario, or `--capacity off`) from the run as
 * shaped (`'as-run'`). p99 ratios are always at the scenario's own load.
 */
export interface Ratios {
  readonly throughputBasis: 'closed-loop' | 'as-run'
  /** Service ÷ hello-world throughput. */
  readonly throughput: number | null
  /** Service ÷ hello-world p99 at the scenario's load. */
  readonly p99: number | null
  readonly throughputVsFastify: number | null
  readonly p99VsFastify: number | null
  /**
   * Baseline ÷ service server CPU per answer (same basis as throughput): how
   * many times less CPU the service spends per answer. Unlike throughput it
   * holds when the load generator or other work limits both servers.
   */
  readonly cpuPerAnswerVsHello: number | null
  readonly cpuPerAnswerVsFastify: number | null
  /** Service's verified records/s (same basis as throughput) ÷ the raw loop's on all cores. */
  readonly recordsVsRawLoop: number | null
}

type Figures = Pick<PhaseFigures, 'throughputRps' | 'latencyMs' | 'serverCpuUsPerAnswer' | 'recordsPerSecond'>

export function computeRatios (phases: Partial<Record<PhaseLabel, Figures>>, capacity: Partial<Record<PhaseLabel, Figures>> | null, raw: Pick<RawLoopResult, 'recordsPerSecond'> | null = null): Ratios | null {
  const service = phases.service
  if (service === undefined || (phases['hello-world'] === undefined && phases.fastify === undefined && raw === null)) return null
  const rates = capacity?.service !== undefined ? capacity : phases
  const throughputVs = (label: PhaseLabel): number | null => {
    const base = rates[label]
    return base === undefined ? null : round3(rates.service!.throughputRps / Math.max(1, base.throughputRps))
  }
  const p99Vs = (label: PhaseLabel): number | null => {
    const base = phases[label]
    return base === undefined ? null : round3(service.latencyMs.p99 / Math.max(0.001, base.latencyMs.p99))
  }
  const cpuVs = (label: PhaseLabel): number | null => {
    const base = rates[label]?.serverCpuUsPerAnswer
    const own = rates.service!.serverCpuUsPerAnswer
    return base == null || own == null || own === 0 ? null : round3(base / own)
  }
  return {
    throughputBasis: rates === phases ? 'as-run' : 'closed-loop',
    throughput: throughputVs('hello-world'),
    p99: p99Vs('hello-world'),
    throughputVsFastify: throughputVs('fastify'),
    p99VsFastify: p99Vs('fastify'),
    cpuPerAnswerVsHello: cpuVs('hello-world'),
    cpuPerAnswerVsFastify: cpuVs('fastify'),
    recordsVsRawLoop: raw === null ? null : round3(rates.service!.recordsPerSecond / Math.max(1, raw.recordsPerSecond))
  }
}


/** HELLO_WORK_US, the µs of CPU the hello-world burns per request (bench/src/lib/baseline-server.ts); 0 when unset. */
export function helloWorkFromEnv (value: string | undefined): number {
  if (value === undefined || value === '') return 0
  const n = Number(value)
  if (!Number.isFinite(n) || n < 0) throw new UsageError(`HELLO_WORK_US must be a number of microseconds ≥ 0, got ${JSON.stringify(value)}`)
  return n
}

/** The throughput ratios this run measured but must not judge, with why. */
export function unjudgedRatios (pacedOnly: boolean, helloWorkUs: number): Partial<Record<RatioName, string>> {
  const paced = 'measured at a paced rate only (--capacity off), where every server that keeps up answers the offered rate'
  const out: Partial<Record<RatioName, string>> = pacedOnly ? { throughputVsHello: paced, throughputVsFastify: paced, recordsVsRawLoop: paced } : {}
  if (helloWorkUs > 0) out.throughputVsHello = `the hello-world burned ${helloWorkUs} µs per request (HELLO_WORK_US)`
  return out
}

function tableRow (f: PhaseFigures): Record<string, string | number> {
  return {
    'conns peak': f.connections.peakEstablished,
    'req/s': f.throughputRps,
    'p50 ms': f.latencyMs.p50,
    'p90 ms': f.latencyMs.p90,
    'p99 ms': f.latencyMs.p99,
    'p99.9 ms': f.latencyMs.p999,
    'max ms': f.latencyMs.max,
    sent: f.requests.sent,
    ok: f.requests.ok,
    wrong: f.requests.wrongAnswer,
    'non-2xx': f.requests.non2xx,
    errors: f.requests.errors,
    timeouts: f.requests.timeouts,
    'cores srv/load/all': `${f.coresUsed.servers}/${f.coresUsed.load}/${f.coresUsed.machine}`,
    'srv µs/answer': f.serverCpuUsPerAnswer ?? '–'
  }
}

function printTable (scenario: string, shape: LoadShape, threads: number, phases: Record<string, PhaseFigures>, capacity: Record<string, PhaseFigures> | null, raw: RawLoopResult | null, ratios: Ratios | null, verdict: SloVerdict, log: (s: string) => void): void {
  log(`\n${scenario}: ${shape.connections.toLocaleString('en')} connections, ${shape.rate === 0 ? 'closed loop' : `${shape.rate.toLocaleString('en')} req/s paced`}, ${shape.durationSeconds} s measured, ${shape.servers} server process(es) × ${threads} thread(s), ${shape.loadProcesses} load process(es), ${shape.addresses.length} address(es)`)
  const rows: Record<string, Record<string, string | number>> = {}
  for (const [label, f] of Object.entries(phases)) rows[label] = tableRow(f)
  for (const [label, f] of Object.entries(capacity ?? {})) rows[`${label} closed loop`] = tableRow(f)
  console.table(rows)
  const service = phases.service!
  const pct = (x: number | null): string => x === null ? '–' : `${(x * 100).toFixed(1)}%`
  if (ratios !== null) {
    const basis = ratios.throughputBasis === 'closed-loop' ? 'closed loop' : 'as run'
    const cpu = (x: number | null): string => x === null ? '' : `, its server CPU per answer ${x < 0.1 ? x.toPrecision(2) : x.toFixed(2)}× the service's`
    if (ratios.throughput !== null) log(`service / hello-world: throughput ${pct(ratios.throughput)} (${basis})${cpu(ratios.cpuPerAnswerVsHello)}, p99 ${service.latencyMs.p99} vs ${phases['hello-world']!.latencyMs.p99} ms`)
    if (ratios.recordsVsRawLoop !== null && raw !== null) log(`service / raw loop: ${pct(ratios.recordsVsRawLoop)} of verified records/s (${basis}): ${(capacity?.service ?? service).recordsPerSecond.toLocaleString('en')} vs ${raw.recordsPerSecond.toLocaleString('en')} on ${raw.threads} threads (${raw.cpuUsPerRecord} µs CPU per record, ${(raw.matchShare * 100).toFixed(1)}% matches)`)
    if (ratios.throughputVsFastify !== null) log(`service / Fastify: throughput ${ratios.throughputVsFastify.toFixed(2)}× (${basis})${cpu(ratios.cpuPerAnswerVsFastify)}, p99 ${service.latencyMs.p99} vs ${phases.fastify!.latencyMs.p99} ms`)
  }
  log(`answers per server instance: ${service.serverInstances.map((s) => `${s.id} ${(s.share * 100).toFixed(1)}%`).join(', ')}`)
  log(`connections per address (peak): ${Object.entries(service.connectionsByAddress).map(([a, n]) => `${a} ${n}`).join(', ')}`)
  for (const [kind, c] of Object.entries(service.byKind)) log(`  ${kind}: ${c.sent} sent, ${c.ok} ok, ${c.wrong} wrong, ${c.non2xx} non-2xx, ${c.errors} errors, ${c.timeouts} timeouts`)
  for (const [label, f] of Object.entries({ ...phases, ...Object.fromEntries(Object.entries(capacity ?? {}).map(([l, f]) => [`${l} closed loop`, f])) })) {
    const bad = f.requests.wrongAnswer + f.requests.non2xx + f.requests.errors + f.requests.timeouts
    if (label !== 'service' && bad > 0) log(`  ${label}: ${bad} of ${f.requests.sent} not ok${f.firstError !== undefined ? ` (${f.firstError})` : ''}`)
  }
  for (const n of shape.notes) log(`note: ${n}`)
  if (service.firstError !== undefined) log(`first error: ${service.firstError}`)
  if (verdict.targets === null) log('SLO: no targets for this scenario')
  else log(verdict.pass ? 'SLO: PASS' : `SLO: FAIL\n  ${verdict.violations.join('\n  ')}`)
  for (const n of verdict.notJudged) log(`SLO: not judged: ${n}`)
}

/** The service's own default thread count (IDV_THREADS passes through to the servers, else one per core). */
function serviceThreads (shape: LoadShape): number {
  if (shape.serverThreads !== undefined) return shape.serverThreads
  const env = Number(process.env.IDV_THREADS)
  return Number.isInteger(env) && env >= 1 ? env : availableParallelism()
}

export async function runBenchCli (argv: string[]): Promise<number> {
  const log = (s: string): void => { console.error(s) }
  let parsed
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        duration: { type: 'string' },
        warmup: { type: 'string' },
        connections: { type: 'string' },
        rate: { type: 'string' },
        citizens: { type: 'string' },
        slo: { type: 'string' },
        servers: { type: 'string' },
        'load-processes': { type: 'string' },
        addresses: { type: 'string' },
        'server-threads': { type: 'string' },
        baseline: { type: 'string' },
        capacity: { type: 'string' },
        compare: { type: 'string' },
        sweep: { type: 'boolean' },
        'sweep-points': { type: 'string' },
        'sweep-capacity': { type: 'string' },
        results: { type: 'string' },
        'cpu-prof': { type: 'string' },
        help: { type: 'boolean', short: 'h' }
      }
    })
  } catch (err) {
    log(`${(err as Error).message}\n${USAGE}`)
    return 2
  }
  if (parsed.values.help === true) { console.log(USAGE); return 0 }
  const name = parsed.positionals[0]
  if (name === undefined || parsed.positionals.length > 1) { log(USAGE); return 2 }
  let earlier: ComparableResult | undefined
  if (parsed.values.compare !== undefined) {
    try {
      earlier = readResult(parsed.values.compare)
      if (name.endsWith('.json')) {
        // Two results, nothing to run.
        const later = readResult(name)
        console.log(formatComparison(compareResults(earlier, later, parsed.values.compare), `${name} (${later.git ?? '?'}, ${later.finishedAt ?? '?'})`))
        return 0
      }
    } catch (err) {
      log(`--compare: ${(err as Error).message}`)
      return 2
    }
  }
  const root = packageRoot()
  let scenario: Scenario
  let shape: LoadShape
  let slo
  let serveArgs: string[]
  let baselines: BaselineName[]
  let capacity: boolean
  let sweepPoints: number[] | undefined
  let sweepCapacity: number | undefined
  let helloWorkUs: number
  try {
    helloWorkUs = helloWorkFromEnv(process.env.HELLO_WORK_US)
    scenario = await loadScenario(name)
    const { help: _help, sweep: _sweep, 'cpu-prof': _cpuProf, ...options } = parsed.values
    shape = resolveShape(scenario, options)
    const chosen = resolveBaselines(parsed.values.baseline, scenario, shape)
    baselines = chosen.baselines
    shape.notes.push(...chosen.notes)
    const c = parsed.values.capacity
    if (c !== undefined && c !== 'on' && c !== 'off') throw new UsageError('--capacity must be on or off')
    capacity = c === undefined ? shape.rate > 0 && baselines.length > 0 : c === 'on'
    if (parsed.values.sweep === true) {
      sweepPoints = parseSweepPoints(parsed.values['sweep-points'])
      if (parsed.values['sweep-capacity'] !== undefined) sweepCapacity = positiveInt('sweep-capacity', parsed.values['sweep-capacity'], 0)
      if (parsed.values.baseline !== undefined && parsed.values.baseline !== 'none') throw new UsageError('--sweep runs the service only: leave out --baseline')
      if (parsed.values.compare !== undefined) throw new UsageError('--sweep and --compare do not go together')
      baselines = []
      capacity = false
    } else if (parsed.values['sweep-points'] !== undefined || parsed.values['sweep-capacity'] !== undefined) {
      throw new UsageError('--sweep-points and --sweep-capacity need --sweep')
    }
    slo = readSloFile(parsed.values.slo ?? SLO_FILE)
    serveArgs = serveOptions(root, shape.serverThreads)
  } catch (err) {
    log(`${(err as Error).message}\n${USAGE}`)
    return 2
  }
  const threads = serviceThreads(shape)

  const dataset = await ensureDataset('lmdb', shape.citizens, 1, log)
  // Other work on a shared machine shows here: 1-minute load average before and after.
  const loadBefore = loadavg()[0]!
  const scratch = mkdtempSync(join(tmpdir(), 'idv-bench-'))
  const group = new ProcessGroup()
  const onSignal = (signal: NodeJS.Signals): void => {
    log(`${signal}: stopping every process this run started`)
    void group.stopAll(2000).finally(() => { rmSync(scratch, { recursive: true, force: true }); process.exit(130) })
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  // A run is bounded (a guard against hangs, not a schedule): per phase, start-up and
  // connecting (≤ 5 s per 1,000 connections), warm-up, window and drain.
  const servers = baselines.filter((b) => b !== 'raw').length + 1
  const phaseCount = sweepPoints !== undefined
    ? sweepPoints.length + (sweepCapacity === undefined ? 1 : 0)
    : servers * (capacity ? 2 : 1) + (baselines.includes('raw') ? 1 : 0)
  const budgetMs = phaseCount * (180_000 + 5 * shape.connections + (shape.warmupSeconds + shape.durationSeconds) * 1000 + 60_000)
  const watchdog = setTimeout(() => {
    log(`run exceeded its ${Math.round(budgetMs / 1000)} s bound: stopping everything`)
    for (const pid of group.pids) { try { process.kill(pid, 'SIGKILL') } catch { /* already gone */ } }
  }, budgetMs)
  watchdog.unref()
  const pool = buildRequestPool(scenario.mix, shape.citizens, scratch)
  // Node writes one profile per thread when the process exits (the service exits cleanly on SIGTERM).
  const profileArgs = parsed.values['cpu-prof'] === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', resolvePath(parsed.values['cpu-prof'])]
  try {
    const cli = join(root, 'dist', 'src', 'app', 'cli.js')
    const servicePhase: Phase = {
      label: 'service',
      checkAnswers: true,
      serverArgs: (host, port) => ({
        args: [...profileArgs, cli, 'serve', '--store', 'lmdb', '--data-dir', dataset.dataDir, '--hash-key-file', dataset.hashKeyFile, '--host', host, '--port', String(port), ...serveArgs, ...(pool.cscaDir !== undefined ? ['--csca-dir', pool.cscaDir] : [])],
        // Metrics stay on (they are part of the service's cost), each process on a free metrics port.
        env: { IDV_LOG_LEVEL: 'info', IDV_METRICS_PORT: '0' }
      }),
      ready: /"msg":"serving"/,
      readyPath: '/readyz'
    }
    const baselinePhases: Record<Exclude<BaselineName, 'raw'>, Phase> = {
      hello: {
        label: 'hello-world',
        checkAnswers: false,
        serverArgs: (host, port) => ({ args: [benchScript('lib', 'baseline-server.js')], env: { HOST: host, PORT: String(port), THREADS: String(threads) } }),
        ready: /listening \d+/
      },
      fastify: {
        label: 'fastify',
        // Same domain work, same answers: they are checked like the service's.
        checkAnswers: true,
        serverArgs: (host, port) => ({
          args: [benchScript('lib', 'fastify-server.js')],
          env: { HOST: host, PORT: String(port), THREADS: String(threads), DATA_DIR: dataset.dataDir, HASH_KEY_FILE: dataset.hashKeyFile, ...(pool.cscaDir !== undefined ? { CSCA_DIR: pool.cscaDir } : {}) }
        }),
        ready: /listening \d+/
      }
    }
    const phases: Record<string, PhaseFigures> = {}
    const capacityPhases: Record<string, PhaseFigures> = {}
    const closedLoop: LoadShape = { ...shape, rate: 0, intervalMs: 0 }
    const git = gitDescribe(root)
    const header = {
      scenario: scenario.name,
      description: scenario.description,
      git,
      node: process.version,
      cpu: cpus()[0]?.model ?? 'unknown',
      cores: availableParallelism(),
      // A hello-world made heavier on purpose (baseline-server.ts): its ratios are not judged.
      ...(helloWorkUs > 0 ? { helloWorkUs } : {})
    }
    const resultFile = (startedAt: Date, suffix = ''): string => {
      const dir = parsed.values.results ?? RESULTS_DIR
      mkdirSync(dir, { recursive: true })
      const stamp = startedAt.toISOString().slice(11, 19).replaceAll(':', '')
      return join(dir, `${startedAt.toISOString().slice(0, 10)}-${git}-${scenario.name}${suffix}-${stamp}`)
    }

    if (sweepPoints !== undefined) {
      // The sweep: capacity (given, or the service closed loop), then the service paced at each share of it.
      let capacityRps = sweepCapacity
      let measuredCapacity: PhaseFigures | null = null
      if (capacityRps === undefined) {
        measuredCapacity = await runPhase(group, servicePhase, closedLoop, pool.file, log)
        capacityRps = measuredCapacity.throughputRps
        log(`sweep: capacity ${capacityRps.toLocaleString('en')} req/s (closed loop, ${shape.connections} connections)`)
      }
      if (capacityRps <= 0) throw new Error('sweep: the closed-loop run answered nothing, so there is no capacity to take shares of')
      const points: Array<SweepPoint & { readonly figures: PhaseFigures }> = []
      const notes = [...shape.notes]
      for (const percent of sweepPoints) {
        const pointShape = sweepShape(shape, capacityRps, percent)
        notes.push(...pointShape.notes)
        const f = await runPhase(group, servicePhase, pointShape, pool.file, log)
        points.push({ percent, offeredRps: pointShape.rate, throughputRps: f.throughputRps, latencyMs: f.latencyMs, errorRatio: f.errorRatio, figures: f })
      }
      const rows: Record<string, Record<string, string | number>> = {}
      if (measuredCapacity !== null) rows['closed loop'] = { offered: '–', ...tableRow(measuredCapacity) }
      for (const p of points) rows[`${p.percent}%`] = { offered: p.offeredRps, ...tableRow(p.figures) }
      log(`\n${scenario.name} sweep: ${shape.connections.toLocaleString('en')} connections, capacity ${capacityRps.toLocaleString('en')} req/s (${sweepCapacity === undefined ? 'measured closed loop' : 'given'}), ${shape.durationSeconds} s per point, ${shape.servers} server process(es) × ${threads} thread(s)`)
      console.table(rows)
      for (const n of notes) log(`note: ${n}`)
      const startedAt = new Date()
      const base = resultFile(startedAt, '-sweep')
      const svg = sweepSvg(points, {
        title: `${scenario.name}: latency vs offered load`,
        subtitle: `capacity ${capacityRps.toLocaleString('en')} req/s (${sweepCapacity === undefined ? 'measured' : 'given'}), ${shape.connections.toLocaleString('en')} connections, ${shape.durationSeconds} s per point, ${shape.servers}×${threads} threads, ${git}`
      })
      writeFileSync(`${base}.svg`, svg)
      writeFileSync(`${base}.json`, JSON.stringify({
        ...header,
        finishedAt: startedAt.toISOString(),
        loadAverage1m: { before: round2(loadBefore), after: round2(loadavg()[0]!) },
        load: { connections: shape.connections, durationSeconds: shape.durationSeconds, warmupSeconds: shape.warmupSeconds, citizens: shape.citizens, servers: shape.servers, threadsPerServer: threads, loadProcesses: shape.loadProcesses, addresses: shape.addresses, serverArgs: serveArgs, mix: scenario.mix, notes },
        sweep: {
          capacityRps,
          capacitySource: sweepCapacity === undefined ? 'measured' : 'given',
          capacityRun: measuredCapacity,
          chart: `${base}.svg`,
          points: points.map(({ figures, ...p }) => ({ ...p, figures }))
        },
        processes: { started: group.started, pids: group.pids, running: group.running }
      }, null, 2) + '\n')
      log(`result: ${base}.json\nchart: ${base}.svg`)
      return 0
    }

    let raw: RawLoopResult | null = null
    for (const name of [...baselines, 'service' as const]) {
      if (name === 'raw') {
        const rawThreads = availableParallelism()
        log(`raw loop: ${rawThreads} thread(s), no HTTP; warm-up ${shape.warmupSeconds} s, measuring ${shape.durationSeconds} s`)
        raw = await runRawLoop({ dataDir: dataset.dataDir, hashKeyFile: dataset.hashKeyFile, requestsFile: pool.file, threads: rawThreads, warmupSeconds: shape.warmupSeconds, durationSeconds: shape.durationSeconds })
        continue
      }
      const phase = name === 'service' ? servicePhase : baselinePhases[name]
      phases[phase.label] = await runPhase(group, phase, shape, pool.file, log)
      if (capacity) capacityPhases[phase.label] = await runPhase(group, phase, closedLoop, pool.file, log)
    }
    const service = phases.service!
    const ratios = computeRatios(phases, capacity ? capacityPhases : null, raw)
    const verdict = evaluateSlo(slo.scenarios[scenario.name], {
      latencyMs: service.latencyMs,
      errorRatio: service.errorRatio,
      throughputRps: service.throughputRps,
      // Held: the lowest count sampled inside the window (the peak when no sample fell in it).
      connectionsHeld: service.connections.minEstablishedMeasured ?? service.connections.peakEstablished,
      recordsPerSecond: service.recordsPerSecond,
      unjudged: unjudgedRatios(shape.rate > 0 && !capacity, helloWorkUs),
      ratios: {
        ...(ratios?.recordsVsRawLoop != null ? { recordsVsRawLoop: ratios.recordsVsRawLoop } : {}),
        ...(ratios?.throughput != null ? { throughputVsHello: ratios.throughput } : {}),
        ...(ratios?.throughputVsFastify != null ? { throughputVsFastify: ratios.throughputVsFastify } : {})
      }
    })
    const startedAt = new Date()
    const result = {
      ...header,
      finishedAt: startedAt.toISOString(),
      loadAverage1m: { before: round2(loadBefore), after: round2(loadavg()[0]!) },
      load: {
        connections: shape.connections,
        rate: shape.rate,
        mode: shape.rate === 0 ? 'closed-loop' : 'paced',
        perConnectionIntervalMs: shape.intervalMs,
        durationSeconds: shape.durationSeconds,
        warmupSeconds: shape.warmupSeconds,
        citizens: shape.citizens,
        servers: shape.servers,
        threadsPerServer: threads,
        loadProcesses: shape.loadProcesses,
        addresses: shape.addresses,
        serverArgs: serveArgs,
        baselines,
        capacityPhase: capacity,
        mix: scenario.mix,
        notes: shape.notes
      },
      ...service,
      baseline: phases['hello-world'] ?? null,
      fastify: phases.fastify ?? null,
      capacity: capacity ? capacityPhases : null,
      rawLoop: raw,
      ratios,
      slo: verdict,
      processes: { started: group.started, pids: group.pids, running: group.running }
    }
    const comparison = earlier === undefined ? null : compareResults(earlier, result, parsed.values.compare!)
    printTable(scenario.name, shape, threads, phases, capacity ? capacityPhases : null, raw, ratios, verdict, log)
    if (comparison !== null) log(formatComparison(comparison, git))
    const file = `${resultFile(startedAt)}.json`
    writeFileSync(file, JSON.stringify(comparison === null ? result : { ...result, comparison }, null, 2) + '\n')
    log(`result: ${file}`)
    return verdict.pass ? 0 : 1
  } catch (err) {
    log(`bench: ${(err as Error).message}`)
    return 3
  } finally {
    await group.stopAll()
    group.dispose()
    clearTimeout(watchdog)
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
    pool.cleanup()
    rmSync(scratch, { recursive: true, force: true })
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await runBenchCli(process.argv.slice(2))
}
