/**
 * What recording metrics costs: POST /v1/verify throughput of the same server
 * with IDV_METRICS=on (its metrics port scraped every --scrape-interval
 * seconds, 15 as a usual Prometheus) and IDV_METRICS=off, in the same run.
 * Target (issue 7): metrics on costs under 3% throughput.
 *
 * Both servers run as child processes over the same index (--auth none, one
 * server thread: the hot path, where a fixed cost per request weighs most);
 * the load runs here. Two figures per run: throughput (closed loop), and the
 * server's CPU time per answered request, summed over all its threads from
 * /proc/<pid>/task/<tid>/schedstat (ns). On a shared machine throughput moves
 * with whatever else runs, while CPU per request barely does, and at
 * saturation a CPU-bound server's throughput is the inverse of it; so the
 * verdict is the CPU-per-request ratio (the throughput ratio is printed too).
 * Runs are interleaved (on, off, then off, on, …) and each figure is the
 * median over rounds.
 *
 * With --rate R the load is paced (open loop at R req/s, bench/src/lib/paced-client.ts)
 * instead of a closed loop: both servers then do the same work per second, so
 * their CPU per request compares like for like even when the traffic generator is
 * starved of CPU by other jobs (a closed loop's rate, and with it the server's
 * batching per wake-up, moves with that).
 *
 * Usage: node bench/dist/metrics.js [--citizens N] [--rounds R] [--duration S] [--connections C] [--scrape-interval S] [--rate R]
 */
import { execSync } from 'node:child_process'
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { cpus } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import autocannon from 'autocannon'
import { Lifecycle, noteResponse } from '../../dist/src/http/lifecycle.js'
import { CATALOGUE } from '../../dist/src/app/capabilities.js'
import { ATTRIBUTE_RESULTS, OutcomeRecorder, VERIFY_OUTCOMES } from '../../dist/src/verify/index.js'
import { AccessLog, createLogger } from '../../dist/src/log.js'
import { createMetrics } from '../../dist/src/metrics/index.js'
import { NO_COUNTER } from '../../dist/src/capability.js'
import { packageRoot } from '../../dist/src/paths.js'
import { startChild, type Started } from './lib/child.js'
import { ensureDataset, sampleCitizens } from './lib/dataset.js'
import { rawPost, runPaced } from './lib/paced-client.js'
import { RESULTS_DIR } from './lib/bench-paths.js'

const { values } = parseArgs({
  options: {
    citizens: { type: 'string', default: '1000000' },
    rounds: { type: 'string', default: '6' },
    duration: { type: 'string', default: '5' },
    connections: { type: 'string', default: '100' },
    'scrape-interval': { type: 'string', default: '15' },
    rate: { type: 'string', default: '0' }
  }
})
const citizens = Number(values.citizens)
const rounds = Number(values.rounds)
const duration = Number(values.duration)
const connections = Number(values.connections)
const scrapeMs = Number(values['scrape-interval']) * 1000
const rate = Number(values.rate)
const root = packageRoot()

/** 70% full matches, 20% a wrong birth date, 10% unknown PINs (as bench/src/verify.ts). */
function requests (): autocannon.Request[] {
  return sampleCitizens(Math.min(citizens, 5000)).map((c, i) => {
    const kind = i % 10
    const pin = kind === 9 ? `${c.pin.slice(0, 6)}${String((Number(c.pin.slice(6)) + 500_000) % 1_000_000).padStart(6, '0')}` : c.pin
    const dateOfBirth = kind >= 7 && kind < 9 ? '1900-01-01' : c.dateOfBirth
    return { method: 'POST', path: '/v1/verify', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ pin, attributes: { fullName: c.fullName, dateOfBirth, gender: c.gender } }) }
  })
}

async function start (metrics: 'on' | 'off', dataDir: string, hashKeyFile: string): Promise<{ child: Started, url: string, metricsPort: number | undefined }> {
  const child = await startChild(
    [join(root, 'dist', 'src', 'app', 'cli.js'), 'serve', '--data-dir', dataDir, '--hash-key-file', hashKeyFile, '--port', '0', '--auth', 'none'],
    /"serving"|serving/, { IDV_LOG_LEVEL: 'info', IDV_METRICS: metrics, IDV_ACCESS_LOG_SAMPLE: '0.01', IDV_THREADS: '1' }
  )
  const line = child.match.input!
  const url = (line.match(/"url":"([^"]+)"/) ?? [])[1]!
  const port = line.match(/"metricsPort":(\d+)/)?.[1]
  return { child, url, metricsPort: port === undefined ? undefined : Number(port) }
}

/** CPU time of every thread of a process so far, in nanoseconds. */
function cpuNs (pid: number): number {
  let ns = 0
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try { ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]) } catch { /* thread ended */ }
  }
  return ns
}

interface Run { rps: number, cpuUsPerRequest: number, errors: number, non2xx: number, scrapes: number }

let scrapes = 0

async function rps (url: string, pid: number, reqs: autocannon.Request[], seconds: number): Promise<Run> {
  const scrapesBefore = scrapes
  if (rate > 0) {
    const cpuBefore = cpuNs(pid)
    const p = await runPaced({ host: '127.0.0.1', port: Number(new URL(url).port), connections, rate, durationSeconds: seconds, requests: raw })
    const cpu = cpuNs(pid) - cpuBefore
    return { rps: p.achievedRps, cpuUsPerRequest: cpu / 1000 / p.completed, errors: p.errors, non2xx: p.non2xx, scrapes: scrapes - scrapesBefore }
  }
  const cpuBefore = cpuNs(pid)
  const r = await autocannon({ url, connections, duration: seconds, pipelining: 1, requests: reqs })
  const cpu = cpuNs(pid) - cpuBefore
  return { rps: r.requests.average, cpuUsPerRequest: cpu / 1000 / r.requests.total, errors: r.errors, non2xx: r.non2xx, scrapes: scrapes - scrapesBefore }
}

const dataset = await ensureDataset('lmdb', citizens)
const reqs = requests()
const raw = reqs.map((r) => rawPost(r.path!, r.body as string))
const on = await start('on', dataset.dataDir, dataset.hashKeyFile)
const off = await start('off', dataset.dataDir, dataset.hashKeyFile)
if (on.metricsPort === undefined || off.metricsPort !== undefined) throw new Error('expected a metrics port with IDV_METRICS=on only')
const rows: Array<{ round: number, on: Run, off: Run, rpsRatio: number, cpuRatio: number }> = []
const onPid = on.child.child.pid!
// Prometheus scrapes on its own clock, whichever server the load is on.
const scraper = setInterval(() => { fetch(`http://127.0.0.1:${on.metricsPort!}/metrics`).then(async (r) => { await r.text(); scrapes++ }, () => {}) }, scrapeMs)
const offPid = off.child.child.pid!
let failures = 0
try {
  await rps(on.url, onPid, reqs, 2)
  await rps(off.url, offPid, reqs, 2)
  for (let round = 0; round < rounds; round++) {
    // Alternate which server goes first, so drift in the machine's load hits both alike.
    let a, b
    if (round % 2 === 0) { a = await rps(on.url, onPid, reqs, duration); b = await rps(off.url, offPid, reqs, duration) } else { b = await rps(off.url, offPid, reqs, duration); a = await rps(on.url, onPid, reqs, duration) }
    rows.push({ round, on: a, off: b, rpsRatio: a.rps / b.rps, cpuRatio: a.cpuUsPerRequest / b.cpuUsPerRequest })
    failures += a.errors + a.non2xx + b.errors + b.non2xx
  }
} finally {
  clearInterval(scraper)
  await on.child.stop()
  await off.child.stop()
}

/**
 * The same per-request observation path in-process, without the noise of a
 * network and a shared machine: track, begin, a verdict, the answer, end, with
 * metrics on and off (both sample the access log, as the servers do).
 */
function inProcessNs (): { on: number, off: number } {
  const { recorder } = createMetrics(CATALOGUE, 1)
  const silent = createLogger('silent')
  const variants = { on: new Lifecycle({ metrics: recorder, accessLog: new AccessLog(silent, 0.01) }, CATALOGUE.routes), off: new Lifecycle({ accessLog: new AccessLog(silent, 0.01) }, CATALOGUE.routes) }
  const outcomes = { on: new OutcomeRecorder(recorder.counter(VERIFY_OUTCOMES), recorder.counter(ATTRIBUTE_RESULTS)), off: new OutcomeRecorder(NO_COUNTER, NO_COUNTER) }
  const attributes = { fullName: 'match', dateOfBirth: 'mismatch', gender: 'match' } as const
  const verifyRoute = CATALOGUE.routes.indexOf('/v1/verify')
  const one = (lc: Lifecycle): void => {
    const res = {} as unknown as Parameters<Lifecycle['track']>[0]
    const scope = lc.track(res, verifyRoute, 'r')
    const end = lc.begin(scope)
    outcomes[lc === variants.on ? 'on' : 'off'].record(scope.party, { match: false, citizen: 'active', attributes })
    noteResponse(res, 200)
    end()
  }
  const times: Record<'on' | 'off', number[]> = { on: [], off: [] }
  for (let round = 0; round < 5; round++) {
    for (const name of (round % 2 === 0 ? ['on', 'off'] : ['off', 'on']) as Array<'on' | 'off'>) {
      const n = 1_000_000
      const t = performance.now()
      for (let i = 0; i < n; i++) one(variants[name])
      times[name].push((performance.now() - t) * 1e6 / n)
    }
  }
  return { on: median(times.on), off: median(times.off) }
}

function median (xs: number[]): number {
  const v = [...xs].sort((x, y) => x - y)
  return v.length % 2 === 1 ? v[(v.length - 1) / 2]! : (v[v.length / 2 - 1]! + v[v.length / 2]!) / 2
}
const inProcess = inProcessNs()
const offCpuNs = median(rows.map((r) => r.off.cpuUsPerRequest)) * 1000
const cpuRatio = median(rows.map((r) => r.cpuRatio))
const rpsRatio = median(rows.map((r) => r.rpsRatio))
const cost = cpuRatio - 1
const pass = cost < 0.03 && failures === 0
console.log(`\nPOST /v1/verify over ${citizens.toLocaleString('en')} citizens, ${connections} connections, ${duration} s per run, ${rate > 0 ? `paced at ${rate} req/s` : 'closed loop'}, 1 server thread`)
console.log(`round   metrics on (scraped every ${scrapeMs / 1000} s)          metrics off                              on/off: throughput  CPU per request`)
const fmt = (r: Run): string => `${Math.round(r.rps).toString().padStart(6)} req/s ${r.cpuUsPerRequest.toFixed(2).padStart(6)} µs CPU/req ${String(r.errors + r.non2xx).padStart(4)} err`
for (const r of rows) console.log(`${String(r.round).padStart(5)}   ${fmt(r.on)}     ${fmt(r.off)}     ${(r.rpsRatio * 100).toFixed(1).padStart(6)}%  ${(r.cpuRatio * 100).toFixed(1).padStart(6)}%`)
console.log(`in-process observation path: ${inProcess.on.toFixed(0)} ns with metrics, ${inProcess.off.toFixed(0)} ns without: +${(inProcess.on - inProcess.off).toFixed(0)} ns per request = ${((inProcess.on - inProcess.off) / offCpuNs * 100).toFixed(2)}% of the server's ${(offCpuNs / 1000).toFixed(1)} µs CPU per request`)
console.log(`median on/off: throughput ${(rpsRatio * 100).toFixed(1)}%, CPU per request ${(cpuRatio * 100).toFixed(1)}%: metrics cost ${(cost * 100).toFixed(1)}% (target < 3%), errors ${failures}: ${pass ? 'PASS' : 'FAIL'}`)
const git = (() => { try { return execSync('git rev-parse --short HEAD', { cwd: root }).toString().trim() } catch { return 'unknown' } })()
const dir = RESULTS_DIR
mkdirSync(dir, { recursive: true })
const file = join(dir, `${new Date().toISOString().slice(0, 10)}-${git}-metrics-cost.json`)
writeFileSync(file, JSON.stringify({ scenario: 'metrics-cost', git, node: process.version, cpu: cpus()[0]?.model, cores: cpus().length, config: { citizens, rounds, duration, connections, scrapeIntervalSeconds: scrapeMs / 1000, rate }, rounds: rows, medianCpuRatio: cpuRatio, inProcessNs: inProcess, medianThroughputRatio: rpsRatio, cost, pass }, null, 2))
console.log(`  result: ${file}`)
process.exitCode = pass ? 0 : 1
