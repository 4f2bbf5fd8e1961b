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
 * Addresses (issue 25): the same requests with `placeOfResidence` added (half
 * in the units before 1 July 2025, half as the register holds it) run against
 * the same server in the same run, and an in-process section times the
 * verifier per request with and without the address (the mapping's CPU cost,
 * free of the network's noise) and the reading of the worst addresses.
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
import { BENCH_KEY, ensureDataset, samplePeople } from './lib/dataset.js'
import { RecordCodec } from '../../dist/src/domain/record.js'
import { pinToKey } from '../../dist/src/domain/pin.js'
import { readPlace } from '../../dist/src/addresses/index.js'
import { Verifier } from '../../dist/src/verify/index.js'
import type { StorageCore } from '../../dist/src/store/types.js'
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

const people = samplePeople(Math.min(citizens, 5000))

/** The attributes of request i: 70% full matches, 20% a wrong birth date, 10% unknown PINs. */
function attributesOf (i: number, withAddress: boolean): { pin: string, attributes: Record<string, string> } {
  const { citizen: c, places } = people[i]!
  const kind = i % 10
  const pin = kind === 9 ? `${c.pin.slice(0, 6)}${String((Number(c.pin.slice(6)) + 500_000) % 1_000_000).padStart(6, '0')}` : c.pin
  const dateOfBirth = kind >= 7 && kind < 9 ? '1900-01-01' : c.dateOfBirth
  const attributes: Record<string, string> = { fullName: c.fullName, dateOfBirth, gender: c.gender }
  // Half the addresses in the old units (read, then mapped to 1–3 candidates), half as the register holds them.
  if (withAddress) attributes.placeOfResidence = i % 2 === 0 ? places.placeOfResidence.old : (c.placeOfResidence ?? places.placeOfResidence.new)
  return { pin, attributes }
}

/** Prebuilt requests, the same mix with or without the address. */
function verifyRequests (withAddress = false): autocannon.Request[] {
  return people.map((_, i) => ({
    method: 'POST',
    path: '/v1/verify',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(attributesOf(i, withAddress))
  }))
}

/** Microseconds per call of fn over the sample, median of 5 rounds (each after a warm-up pass). */
function microseconds (fn: (i: number) => unknown, n: number): number {
  const rounds: number[] = []
  for (let r = 0; r < 6; r++) {
    const t = process.hrtime.bigint()
    for (let k = 0; k < 20_000; k++) fn(k % n)
    if (r > 0) rounds.push(Number(process.hrtime.bigint() - t) / 20_000 / 1000)
  }
  return rounds.sort((a, b) => a - b)[2]!
}

/**
 * The mapping's CPU cost in process: the verifier over a Map of the sample's
 * records (as the index holds them), per request with and without the address.
 */
function addressCost () {
  const codec = new RecordCodec(BENCH_KEY)
  const records = new Map<number, Uint8Array>()
  for (const { citizen } of people) records.set(pinToKey(citizen.pin), codec.encode(pinToKey(citizen.pin), citizen))
  const store = { getFast: (key: number) => records.get(key) } as unknown as StorageCore
  const verifier = new Verifier(store, codec)
  const asks = (withAddress: boolean, form?: 'old' | 'registered'): Array<{ key: number, attributes: Array<readonly [never, string]> }> => people.map((p, i) => {
    const a = attributesOf(i, false)
    const attributes = Object.entries(a.attributes) as Array<[never, string]>
    if (withAddress) attributes.push(['placeOfResidence' as never, form === 'old' ? p.places.placeOfResidence.old : p.citizen.placeOfResidence!])
    return { key: pinToKey(a.pin), attributes }
  })
  const plain = asks(false); const old = asks(true, 'old'); const registered = asks(true, 'registered')
  const n = people.length
  const worst = [
    'Phường Điện Biên, '.repeat(600), // 10 KB: refused at 500 characters before the verifier; read here directly
    ','.repeat(499) + 'x',
    'Phường '.repeat(71),
    'a' + '\u0301'.repeat(499),
    ('Рhường Кim Mã, ').repeat(33),
    ('Số 12 Ngõ 5 Phố Kim Mã ').repeat(21) + ', P. Kim Mã, Q. Ba Đình, TP. Hà Nội',
    ('Phường Kim Mã, Quận Ba Đình, ').repeat(16) + 'Hà Nội'
  ].map((w) => w.length > 1000 ? w : w.slice(0, 500)) // what the API accepts is at most 500 characters
  const worstTimes = worst.map((w) => microseconds(() => readPlace(w), 1))
  return {
    verifyWithoutAddress: microseconds((i) => verifier.verify(plain[i]! as never), n),
    verifyWithRegisteredFormAddress: microseconds((i) => verifier.verify(registered[i]! as never), n),
    verifyWithOldFormAddress: microseconds((i) => verifier.verify(old[i]! as never), n),
    readPlaceOldForm: microseconds((i) => readPlace(people[i]!.places.placeOfResidence.old), n),
    readPlaceNewForm: microseconds((i) => readPlace(people[i]!.places.placeOfResidence.new), n),
    readPlaceWorst: Math.max(...worstTimes)
  }
}

const dataset = await ensureDataset('lmdb', citizens)
const requests = verifyRequests()
const addressRequests = verifyRequests(true)

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
let addressFig: Figures
let helloPaced: PacedResult
let verifyPaced: PacedResult
const moreThreads: Array<{ threads: number, figures: Figures }> = []
const raw = requests.map((r) => rawPost(r.path!, r.body as string))
const paced = async (url: string): Promise<PacedResult> =>
  await runPaced({ host: '127.0.0.1', port: Number(new URL(url).port), connections, rate, durationSeconds: duration, requests: raw })
try {
  await measure(helloUrl, requests, warmup)
  await measure(serviceUrl, requests, warmup)
  await measure(serviceUrl, addressRequests, warmup)
  helloFig = await measure(helloUrl, requests, duration)
  verifyFig = await measure(serviceUrl, requests, duration)
  addressFig = await measure(serviceUrl, addressRequests, duration)
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
const cost = addressCost()
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
  addresses: { verify: addressFig, vsWithout: addressFig.rps / verifyFig.rps, inProcessMicroseconds: cost },
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
console.log(`  + address   ${fmt(addressFig)}  (${(addressFig.rps / verifyFig.rps * 100).toFixed(0)}% of the same requests without it; half old form, half as registered)`)
const us = (x: number): string => `${x.toFixed(2)} µs`
console.log(`  in process, per request: verify ${us(cost.verifyWithoutAddress)}; + address as registered ${us(cost.verifyWithRegisteredFormAddress)}; + address in the old units ${us(cost.verifyWithOldFormAddress)}`)
console.log(`  reading an address: old form ${us(cost.readPlaceOldForm)}, new form ${us(cost.readPlaceNewForm)}, worst hostile input ${us(cost.readPlaceWorst)} (target < 50 µs)`)
for (const t of moreThreads) console.log(`  verify, ${t.threads} server threads ${fmt(t.figures)}  (${(t.figures.rps / verifyFig.rps * 100).toFixed(0)}% of 1 thread)`)
console.log(`  verify / hello-world = ${(ratio * 100).toFixed(1)}% (target ≥ 50%), paced p99 ${verifyPaced.latency.p99} ms (target < 5 ms): ${slo.pass ? 'PASS' : 'FAIL'}`)
const dir = RESULTS_DIR
mkdirSync(dir, { recursive: true })
const file = join(dir, `${new Date().toISOString().slice(0, 10)}-${git}-verify-single-thread.json`)
writeFileSync(file, JSON.stringify(result, null, 2))
console.log(`  result: ${file}`)
process.exitCode = slo.pass ? 0 : 1
