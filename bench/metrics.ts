/**
 * What recording metrics costs: POST /v1/verify throughput of the same server
 * with IDV_METRICS=on (its metrics port scraped every second, 15x more often
 * than a usual Prometheus) and IDV_METRICS=off, measured in the same run.
 * Target (issue 7): metrics on costs under 3% throughput.
 *
 * Both servers run as child processes over the same index (--auth none: the
 * single-thread hot path, where a fixed cost per request weighs most); the
 * load runs here. The machine is shared and noisy, so the runs are interleaved
 * (on, off, then off, on, …) and the verdict is the median of the per-round
 * ratios.
 *
 * Usage: node dist/bench/metrics.js [--citizens N] [--rounds R] [--duration S] [--connections C]
 */
import { execSync } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { cpus } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import autocannon from 'autocannon'
import { packageRoot } from '../src/paths.js'
import { startChild, type Started } from './lib/child.js'
import { ensureDataset, sampleCitizens } from './lib/dataset.js'

const { values } = parseArgs({
  options: {
    citizens: { type: 'string', default: '1000000' },
    rounds: { type: 'string', default: '6' },
    duration: { type: 'string', default: '5' },
    connections: { type: 'string', default: '100' }
  }
})
const citizens = Number(values.citizens)
const rounds = Number(values.rounds)
const duration = Number(values.duration)
const connections = Number(values.connections)
const root = packageRoot()

/** 70% full matches, 20% a wrong birth date, 10% unknown PINs (as bench/verify.ts). */
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
    [join(root, 'dist', 'src', 'cli.js'), 'serve', '--data-dir', dataDir, '--hash-key-file', hashKeyFile, '--port', '0', '--auth', 'none'],
    /"serving"|serving/, { IDV_LOG_LEVEL: 'info', IDV_METRICS: metrics, IDV_ACCESS_LOG_SAMPLE: '0.01' }
  )
  const line = child.match.input!
  const url = (line.match(/"url":"([^"]+)"/) ?? [])[1]!
  const port = line.match(/"metricsPort":(\d+)/)?.[1]
  return { child, url, metricsPort: port === undefined ? undefined : Number(port) }
}

async function rps (url: string, reqs: autocannon.Request[], seconds: number, scrapePort?: number): Promise<{ rps: number, errors: number, non2xx: number, scrapes: number }> {
  let scrapes = 0
  const timer = scrapePort === undefined
    ? undefined
    : setInterval(() => { fetch(`http://127.0.0.1:${scrapePort}/metrics`).then(async (r) => { await r.text(); scrapes++ }, () => {}) }, 1000)
  try {
    const r = await autocannon({ url, connections, duration: seconds, pipelining: 1, requests: reqs })
    return { rps: r.requests.average, errors: r.errors, non2xx: r.non2xx, scrapes }
  } finally {
    clearInterval(timer)
  }
}

const dataset = await ensureDataset('lmdb', citizens)
const reqs = requests()
const on = await start('on', dataset.dataDir, dataset.hashKeyFile)
const off = await start('off', dataset.dataDir, dataset.hashKeyFile)
if (on.metricsPort === undefined || off.metricsPort !== undefined) throw new Error('expected a metrics port with IDV_METRICS=on only')
const rows: Array<{ round: number, on: number, off: number, ratio: number, scrapes: number }> = []
let failures = 0
try {
  await rps(on.url, reqs, 2, on.metricsPort)
  await rps(off.url, reqs, 2)
  for (let round = 0; round < rounds; round++) {
    // Alternate which server goes first, so drift in the machine's load hits both alike.
    let a, b
    if (round % 2 === 0) { a = await rps(on.url, reqs, duration, on.metricsPort); b = await rps(off.url, reqs, duration) } else { b = await rps(off.url, reqs, duration); a = await rps(on.url, reqs, duration, on.metricsPort) }
    rows.push({ round, on: a.rps, off: b.rps, ratio: a.rps / b.rps, scrapes: a.scrapes })
    failures += a.errors + a.non2xx + b.errors + b.non2xx
  }
} finally {
  await on.child.stop()
  await off.child.stop()
}

const sorted = rows.map((r) => r.ratio).sort((x, y) => x - y)
const median = sorted.length % 2 === 1 ? sorted[(sorted.length - 1) / 2]! : (sorted[sorted.length / 2 - 1]! + sorted[sorted.length / 2]!) / 2
const cost = 1 - median
const pass = cost < 0.03 && failures === 0
console.log(`\nPOST /v1/verify over ${citizens.toLocaleString('en')} citizens, ${connections} connections, ${duration} s per run, 1 server thread`)
console.log('round   metrics on (scraped 1/s)   metrics off   on/off')
for (const r of rows) console.log(`${String(r.round).padStart(5)}   ${Math.round(r.on).toString().padStart(12)} req/s     ${Math.round(r.off).toString().padStart(8)} req/s   ${(r.ratio * 100).toFixed(1)}%`)
console.log(`median on/off ${(median * 100).toFixed(1)}%: metrics cost ${(cost * 100).toFixed(1)}% of throughput (target < 3%), errors ${failures}: ${pass ? 'PASS' : 'FAIL'}`)
const git = (() => { try { return execSync('git rev-parse --short HEAD', { cwd: root }).toString().trim() } catch { return 'unknown' } })()
const dir = join(root, 'bench', 'results')
mkdirSync(dir, { recursive: true })
const file = join(dir, `${new Date().toISOString().slice(0, 10)}-${git}-metrics-cost.json`)
writeFileSync(file, JSON.stringify({ scenario: 'metrics-cost', git, node: process.version, cpu: cpus()[0]?.model, cores: cpus().length, config: { citizens, rounds, duration, connections }, rounds: rows, medianRatio: median, cost, pass }, null, 2))
console.log(`  result: ${file}`)
process.exitCode = pass ? 0 : 1
