/**
 * Single-thread POST /v1/verify throughput and latency over an N-citizen LMDB
 * index (default 1M), against a uWebSockets.js hello-world measured in the same
 * run with the same load. Targets (issue 2): verify ≥ 50% of hello-world
 * throughput, p99 < 5 ms at 100 connections.
 *
 * Two phases per server: saturation (autocannon, closed loop: throughput) and
 * a paced open-loop run at --rate req/s (latency from the intended send time).
 * A closed loop at saturation always shows latency ≈ connections / throughput,
 * so the p99 target is judged on the paced run.
 *
 * Usage: npm run bench:verify -- [--citizens N] [--duration S] [--connections C] [--rate R] [--threads 1,2]
 * The servers run as child processes; the load runs here, so on 2 cores the
 * server and the traffic generator each have one. With `--threads 1,2` the
 * service is also measured with 2 server threads (IDV_THREADS) in the same run,
 * to show what the second thread adds (the traffic generator then competes with it).
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { cpus } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { execSync } from 'node:child_process'
import autocannon from 'autocannon'
import { packageRoot } from '../../dist/src/paths.js'
import { ensureDataset, sampleCitizens } from './lib/dataset.js'
import { startChild } from './lib/child.js'
import { rawPost, runPaced, type PacedResult } from './lib/paced-client.js'
import { benchScript, RESULTS_DIR } from './lib/bench-paths.js'

const { values } = parseArgs({
  options: {
    citizens: { type: 'string', default: '1000000' },
    duration: { type: 'string', default: '10' },
    connections: { type: 'string', default: '100' },
    warmup: { type: 'string', default: '3' },
    rate: { type: 'string', default: '10000' },
    threads: { type: 'string', default: '1' }
  }
})
const citizens = Number(values.citizens)
const duration = Number(values.duration)
const connections = Number(values.connections)
const warmup = Number(values.warmup)
const rate = Number(values.rate)
const threadCounts = values.threads.split(',').map(Number)
if (threadCounts[0] !== 1 || threadCounts.some((n) => !Number.isInteger(n) || n < 1)) throw new Error('--threads is a list starting with 1, e.g. 1,2')
const root = packageRoot()

interface Figures { rps: number, p50: number, p90: number, p99: number, p999: number, max: number, errors: number, non2xx: number, timeouts: number }

async function measure (url: string, requests: autocannon.Request[], seconds: number): Promise<Figures> {
  const r = await autocannon({ url, connections, duration: seconds, pipelining: 1, requests })
  return {
    rps: r.requests.average,
    p50: r.latency.p50,
    p90: r.latency.p90,
    p99: r.latency.p99,
    p999: r.latency.p99_9,
    max: r.latency.max,
    errors: r.errors,
    non2xx: r.non2xx,
    timeouts: r.timeouts
  }
}

/** 70% full matches, 20% a wrong birth date, 10% unknown PINs: each a prebuilt request. */
function verifyRequests (): autocannon.Request[] {
  const sample = sampleCitizens(Math.min(citizens, 5000))
  return sample.map((c, i) => {
    const kind = i % 10
    const pin = kind === 9 ? `${c.pin.slice(0, 6)}${String((Number(c.pin.slice(6)) + 500_000) % 1_000_000).padStart(6, '0')}` : c.pin
    const dateOfBirth = kind >= 7 && kind < 9 ? '1900-01-01' : c.dateOfBirth
    return {
      method: 'POST',
      path: '/v1/verify',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ pin, attributes: { fullName: c.fullName, dateOfBirth, gender: c.gender } })
    }
  })
}

const dataset = await ensureDataset('lmdb', citizens)
const requests = verifyRequests()

const hello = await startChild([benchScript('hello-world.js')], /listening (\d+)/)
const helloUrl = `http://127.0.0.1:${hello.match[1]!}`
const startService = async (threads: number): Promise<{ stop: () => Promise<void>, url: string }> => {
  const child = await startChild(
    [join(root, 'dist', 'src', 'app', 'cli.js'), 'serve', '--data-dir', dataset.dataDir, '--hash-key-file', dataset.hashKeyFile, '--port', '0', '--auth', 'none', '--threads', String(threads)],
    /serving/, { IDV_LOG_LEVEL: 'info', IDV_METRICS_PORT: '0' }
  )
  return { stop: child.stop, url: (child.match.input!.match(/"url":"([^"]+)"/) ?? [])[1]! }
}
const service = await startService(1)
const serviceUrl = service.url
let helloFig: Figures
let verifyFig: Figures
let helloPaced: PacedResult
let verifyPaced: PacedResult
const moreThreads: Array<{ threads: number, figures: Figures }> = []
const raw = requests.map((r) => rawPost(r.path!, r.body as string))
const paced = async (url: string): Promise<PacedResult> =>
  await runPaced({ host: '127.0.0.1', port: Number(new URL(url).port), connections, rate, durationSeconds: duration, requests: raw })
try {
  await measure(helloUrl, requests, warmup)
  await measure(serviceUrl, requests, warmup)
  helloFig = await measure(helloUrl, requests, duration)
  verifyFig = await measure(serviceUrl, requests, duration)
  helloPaced = await paced(helloUrl)
  verifyPaced = await paced(serviceUrl)
} finally {
  await hello.stop()
  await service.stop()
}
for (const threads of threadCounts.slice(1)) {
  const more = await startService(threads)
  try {
    await measure(more.url, requests, warmup)
    moreThreads.push({ threads, figures: await measure(more.url, requests, duration) })
  } finally {
    await more.stop()
  }
}

const ratio = verifyFig.rps / helloFig.rps
const slo = {
  ratioTarget: 0.5,
  p99TargetMs: 5,
  pass: ratio >= 0.5 && verifyPaced.latency.p99 < 5 && verifyFig.errors === 0 && verifyFig.non2xx === 0 && verifyPaced.errors === 0 && verifyPaced.non2xx === 0
}
const git = (() => { try { return execSync('git rev-parse --short HEAD', { cwd: root }).toString().trim() } catch { return 'unknown' } })()
const result = {
  scenario: 'verify-single-thread',
  git,
  node: process.version,
  cpu: cpus()[0]?.model,
  cores: cpus().length,
  config: { citizens, duration, connections, pipelining: 1, mix: '70% match, 20% wrong birth date, 10% unknown PIN' },
  helloWorld: helloFig,
  verify: verifyFig,
  paced: { rate, helloWorld: helloPaced, verify: verifyPaced },
  threads: moreThreads.map((t) => ({ threads: t.threads, verify: t.figures, vsOneThread: t.figures.rps / verifyFig.rps })),
  ratio,
  slo
}
const fmt = (f: Figures): string => `${Math.round(f.rps).toString().padStart(8)} req/s  p50 ${f.p50} ms  p99 ${f.p99} ms  max ${f.max} ms  errors ${f.errors}  non-2xx ${f.non2xx}`
console.log(`\nPOST /v1/verify over ${citizens.toLocaleString('en')} citizens, ${connections} connections, ${duration} s, 1 server thread`)
console.log(`  hello-world ${fmt(helloFig)}`)
console.log(`  verify      ${fmt(verifyFig)}`)
const fmtPaced = (p: PacedResult): string => `${Math.round(p.achievedRps).toString().padStart(8)} req/s  p50 ${p.latency.p50} ms  p90 ${p.latency.p90} ms  p99 ${p.latency.p99} ms  p99.9 ${p.latency.p999} ms  max ${p.latency.max} ms  errors ${p.errors}  non-2xx ${p.non2xx}`
console.log(`  paced at ${rate} req/s (open loop, latency from intended send time):`)
console.log(`  hello-world ${fmtPaced(helloPaced)}`)
console.log(`  verify      ${fmtPaced(verifyPaced)}`)
for (const t of moreThreads) console.log(`  verify, ${t.threads} server threads ${fmt(t.figures)}  (${(t.figures.rps / verifyFig.rps * 100).toFixed(0)}% of 1 thread)`)
console.log(`  verify / hello-world = ${(ratio * 100).toFixed(1)}% (target ≥ 50%), paced p99 ${verifyPaced.latency.p99} ms (target < 5 ms): ${slo.pass ? 'PASS' : 'FAIL'}`)
const dir = RESULTS_DIR
mkdirSync(dir, { recursive: true })
const file = join(dir, `${new Date().toISOString().slice(0, 10)}-${git}-verify-single-thread.json`)
writeFileSync(file, JSON.stringify(result, null, 2))
console.log(`  result: ${file}`)
process.exitCode = slo.pass ? 0 : 1
