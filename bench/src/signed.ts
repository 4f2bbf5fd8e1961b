/**
 * Signed requests and signed answers over HTTP (issue 4), one server thread,
 * measured in the same run:
 *  - unsigned POST /v1/verify (IDV_AUTH=none): the baseline;
 *  - HMAC-SHA-256-signed requests with signed answers (receipts), and without;
 *  - Ed25519-signed requests with signed answers, and without;
 *  - a raw crypto.verify Ed25519 loop on one thread (the server's one core);
 *  - the uWS hello-world (bench/src/lib/baseline-server.ts: reads the body, answers
 *    a constant) under the same load: what any request costs before the
 *    service does anything, to set beside what each target leaves per request.
 *  - the same with the audit log off (IDV_AUDIT=off; issue 22): every other
 *    server records each answer in its audit log before sending it (and one
 *    with IDV_AUDIT_SYNC=off: answers wait for the write, not the fdatasync);
 * Targets: HMAC + receipts ≥ 70% of unsigned; Ed25519 + receipts ≥ 80% of the
 * raw Ed25519 verify rate; receipts cost ≤ 10% of throughput at full load; the
 * audit log costs ≤ 10% (its bytes per entry on disk are printed too).
 *
 * Every request carries its own nonce, as in production: requests are signed
 * before each measurement (the traffic generator then only sends them), each is
 * sent once, and a replayed one would show up as a non-2xx.
 *
 * Besides req/s, each row shows the server's CPU time per answered request
 * (from /proc/<pid>/stat), which a busy shared machine disturbs far less than
 * throughput; the ratios are given both ways.
 *
 * The machine is shared and noisy, so the three servers (unsigned, with
 * receipts, without) run side by side, idle but for the case being measured,
 * and the cases are measured in interleaved slices: every case one slice of
 * --duration seconds per round, the order reversed every other round; each
 * figure is the median over --rounds rounds (the raw verify loop too).
 *
 * Usage: npm run bench:signed -- [--citizens N] [--duration S] [--rounds R] [--connections C] [--threads N] [--processes N] [--cases LIST] [--cpu-prof DIR]
 * (--cases measures only some of hello, unsigned, hmac, ed25519, hmac-plain, ed25519-plain (plain: receipts
 * off), e.g. to profile one; the ratios need them all.)
 * (--processes 2 --threads 1 measures cluster mode, whose nonces and rate buckets live in LMDB, against
 * --threads 2; the CPU per request then includes the members.)
 * (--cpu-prof writes each server's V8 CPU profile to DIR, to see where the time goes.)
 * (--thread-detail prints, per case, the server's busiest threads over all slices: CPU and voluntary /
 * involuntary context switches per request, from /proc/<pid>/task (issue 24's cluster-mode question).)
 * (--baseline ROOT also measures each chosen case, except hello, on servers started from another
 * build of the service (ROOT/dist, e.g. a worktree of main), as "before: <case>" rows in the same
 * interleaved rounds: a before/after comparison that a shared machine's load disturbs alike.)
 *
 * --pin: the pinned mode of issue 24's target 4 instead: each server pinned to
 * CPU 0 (taskset), Debian's `wrk` on CPU 1 with one fixed body (a generator
 * that fills the hello-world's core; bench/src/lib/wrk.ts), one server at a
 * time, interleaved rounds: the uWS hello-world, unsigned POST /v1/verify
 * (audit on and off) and the Fastify baseline (bench/src/lib/fastify-server.ts)
 * on the same store; each server's CPU use is printed beside its rate, so a
 * ratio is only read where the hello-world's core was full.
 */
import { createSecretKey, generateKeyPairSync, randomBytes, sign, verify } from 'node:crypto'
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import type { SignatureAlgorithm } from '../../dist/src/signatures/message-signature.js'
import { partyAdd } from '../../dist/src/parties/party-cli.js'
import { signRequest, type SigningKey } from '../../dist/src/signatures/request-signer.js'
import { ATTRIBUTES } from '../../dist/src/domain/record.js'
import { packageRoot } from '../../dist/src/paths.js'
import { ReceiptKeyRing } from '../../dist/src/receipts/keys.js'
import { freePort } from '../../dist/src/app/service.js'
import { startChild, type Started } from './lib/child.js'
import { ensureDataset, sampleCitizens } from './lib/dataset.js'
import { runPaced } from './lib/paced-client.js'
import { cpuSeconds, threadCounters, withChildren, type ThreadCounters } from './lib/proc-cpu.js'
import { benchScript } from './lib/bench-paths.js'
import { hasWrk, pinProcess, postScript, runWrk } from './lib/wrk.js'

const CASES = ['hello', 'unsigned', 'hmac', 'ed25519', 'hmac-plain', 'ed25519-plain', 'unsigned-noaudit', 'hmac-noaudit', 'hmac-nosync'] as const
const { values } = parseArgs({
  options: {
    citizens: { type: 'string', default: '1000000' },
    duration: { type: 'string', default: '4' },
    warmup: { type: 'string', default: '3' },
    rounds: { type: 'string', default: '5' },
    connections: { type: 'string', default: '100' },
    threads: { type: 'string', default: '1' },
    processes: { type: 'string', default: '1' },
    cases: { type: 'string', default: CASES.join(',') },
    'cpu-prof': { type: 'string' },
    pin: { type: 'boolean', default: false },
    baseline: { type: 'string' },
    'thread-detail': { type: 'boolean', default: false }
  }
})
const citizens = Number(values.citizens)
const duration = Number(values.duration)
const warmup = Number(values.warmup)
const rounds = Number(values.rounds)
const connections = Number(values.connections)
const isCase = (c: string): c is typeof CASES[number] => (CASES as readonly string[]).includes(c)
// A Set: a slug named twice would be measured twice per round and could stand in for a missing case.
const chosen = [...new Set(values.cases.split(',').map((c) => c.trim()))]
const unknown = chosen.filter((c) => !isCase(c))
if (unknown.length > 0) {
  console.error(`--cases: unknown ${unknown.map((c) => JSON.stringify(c)).join(', ')}; choose from ${CASES.join(', ')}`)
  process.exit(2)
}
const profileFlags = values['cpu-prof'] === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', values['cpu-prof']]
const root = packageRoot()
const dir = mkdtempSync(join(tmpdir(), 'idv-bench-signed-'))
const partiesFile = join(dir, 'parties.yaml')
const receiptKeyFile = join(dir, 'receipt-keys.json')

function party (id: string, algorithm: SignatureAlgorithm): SigningKey {
  const keyId = `${id}-1`
  const file = join(dir, `${id}.key`)
  if (algorithm === 'hmac-sha256') {
    const secret = randomBytes(32)
    writeFileSync(file, secret.toString('hex'), { mode: 0o600 })
    partyAdd({ file: partiesFile, id, name: id, attributes: ATTRIBUTES, rate: 1e7, burst: 1e7, keyId, hmacSecretFile: file })
    return { keyId, algorithm, key: createSecretKey(secret) }
  }
  const pair = generateKeyPairSync('ed25519')
  writeFileSync(file, pair.publicKey.export({ type: 'spki', format: 'pem' }))
  partyAdd({ file: partiesFile, id, name: id, attributes: ATTRIBUTES, rate: 1e7, burst: 1e7, keyId, publicKey: file })
  return { keyId, algorithm, key: pair.privateKey }
}

const hmac = party('bench-hmac', 'hmac-sha256')
const ed = party('bench-ed', 'ed25519')
ReceiptKeyRing.loadOrCreate(receiptKeyFile)

const bodies = sampleCitizens(Math.min(citizens, 5000)).map((c) =>
  Buffer.from(JSON.stringify({ pin: c.pin, attributes: { fullName: c.fullName, dateOfBirth: c.dateOfBirth, gender: c.gender } })))

/** Raw HTTP/1.1 requests, `count` of them, each signed with a fresh nonce (or unsigned, cycling over the bodies). */
function prebuilt (key: SigningKey | undefined, count: number, authority: string): Buffer[] {
  const out = new Array<Buffer>(count)
  for (let i = 0; i < count; i++) {
    const body = bodies[i % bodies.length]!
    const unsigned = { 'content-type': 'application/json' }
    const headers = key === undefined ? unsigned : signRequest({ method: 'POST', path: '/v1/verify', authority, scheme: 'http', headers: unsigned, body }, key)
    const head = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('')
    out[i] = Buffer.concat([Buffer.from(`POST /v1/verify HTTP/1.1\r\nhost: ${authority}\r\n${head}content-length: ${body.length}\r\n\r\n`), body])
  }
  return out
}

/** --thread-detail: per server (by URL), the requests answered and each thread's counters, summed over the measured slices. */
const threadTotals = new Map<string, { requests: number, threads: Map<string, ThreadCounters> }>()

interface Figures { rps: number, p50: number, p99: number, non2xx: number, errors: number, ranOut: boolean, cpuMicrosPerRequest: number }

/** CPU time (user + system) of a server so far, in µs: its members too in cluster mode. */
function processCpuMicros (pid: number): number {
  return cpuSeconds(withChildren([pid])) * 1e6
}

/**
 * Closed loop over prebuilt raw requests (bench/src/lib/paced-client.ts with rate 0):
 * the client only writes buffers and reads status lines, so it stays far
 * lighter than the server and the server is what saturates.
 */
async function load (url: string, pid: number, key: SigningKey | undefined, seconds: number, expectedRps: number): Promise<Figures> {
  const authority = new URL(url).host
  // Signed: one fresh request per send at up to 1.5× the expected rate; unsigned: any few thousand, cycled.
  const requests = prebuilt(key, key === undefined ? bodies.length : Math.ceil(seconds * expectedRps * 1.5), authority)
  const cpuBefore = processCpuMicros(pid)
  const threadsBefore = values['thread-detail'] ? threadCounters(withChildren([pid])) : undefined
  const r = await runPaced({ host: '127.0.0.1', port: Number(new URL(url).port), connections, rate: 0, durationSeconds: seconds, requests })
  const cpu = processCpuMicros(pid) - cpuBefore
  if (threadsBefore !== undefined) {
    const totals = threadTotals.get(url) ?? { requests: 0, threads: new Map<string, ThreadCounters>() }
    totals.requests += r.completed
    for (const [id, after] of threadCounters(withChildren([pid]))) {
      const b = threadsBefore.get(id) ?? { name: after.name, cpu: 0, voluntary: 0, involuntary: 0 }
      const t = totals.threads.get(id) ?? { name: after.name, cpu: 0, voluntary: 0, involuntary: 0 }
      totals.threads.set(id, { name: after.name, cpu: t.cpu + after.cpu - b.cpu, voluntary: t.voluntary + after.voluntary - b.voluntary, involuntary: t.involuntary + after.involuntary - b.involuntary })
    }
    threadTotals.set(url, totals)
  }
  return { rps: r.achievedRps, p50: r.latency.p50, p99: r.latency.p99, non2xx: r.non2xx, errors: r.errors, ranOut: key !== undefined && r.sent > requests.length, cpuMicrosPerRequest: cpu / Math.max(1, r.completed) }
}

async function serve (env: NodeJS.ProcessEnv, from = root): Promise<{ server: Started, url: string }> {
  const dataset = await ensureDataset('lmdb', citizens)
  const server = await startChild(
    [...profileFlags, join(from, 'dist', 'src', 'app', 'cli.js'), 'serve', '--data-dir', dataset.dataDir, '--hash-key-file', dataset.hashKeyFile, '--port', '0', '--parties-file', partiesFile, '--threads', String(values.threads), '--processes', String(values.processes)],
    /"url":"([^"]+)"/, { IDV_LOG_LEVEL: 'info', IDV_METRICS_PORT: '0', IDV_RECEIPT_KEY_FILE: receiptKeyFile, ...env }
  )
  return { server, url: server.match[1]! }
}

function median (xs: readonly number[]): number {
  const sorted = [...xs].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

/** The median of each figure over the slices of one case. */
function medianFigures (slices: readonly Figures[]): Figures {
  const m = (k: Exclude<keyof Figures, 'ranOut'>): number => median(slices.map((f) => f[k]))
  return { rps: m('rps'), p50: m('p50'), p99: m('p99'), non2xx: m('non2xx'), errors: m('errors'), ranOut: slices.some((f) => f.ranOut), cpuMicrosPerRequest: m('cpuMicrosPerRequest') }
}

/** Raw Ed25519 verifications per second on this thread, over a signature-base-sized message. */
function rawEd25519 (seconds: number): number {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519')
  const data = Buffer.from(`"@method": POST\n"@authority": 127.0.0.1:8080\n"@path": /v1/verify\n"content-digest": sha-256=:${randomBytes(32).toString('base64')}:\n"@signature-params": ("@method" "@authority" "@path" "content-digest");created=1700000000;keyid="bench-ed-1";nonce="abcdefghijklmnopqrstuv";alg="ed25519"`)
  const signature = sign(null, data, privateKey)
  const end = performance.now() + seconds * 1000
  let n = 0
  while (performance.now() < end) { for (let i = 0; i < 50; i++) verify(null, data, publicKey, signature); n += 50 }
  return n / seconds
}

/** Target 4: one server at a time pinned to CPU 0, wrk pinned to CPU 1 (see --pin above). */
async function pinned (): Promise<void> {
  if (!hasWrk()) throw new Error('--pin needs wrk and taskset: run .ci/install-debian-packages (apt-get install wrk)')
  const [serverCpu, loadCpu] = [0, 1]
  const host = '127.0.0.1'
  const dataset = await ensureDataset('lmdb', citizens)
  const stops: Array<() => Promise<void>> = []
  try {
    const child = async (args: string[], env: NodeJS.ProcessEnv): Promise<{ pid: number, url: string }> => {
      const c = await startChild(args, /listening (\d+)/, { HOST: host, PORT: String(await freePort(host)), THREADS: '1', ...env })
      stops.push(async () => { await c.stop() })
      return { pid: c.child.pid!, url: `http://${host}:${c.match[1]!}/v1/verify` }
    }
    const service = async (env: NodeJS.ProcessEnv): Promise<{ pid: number, url: string }> => {
      const s = await serve(env)
      stops.push(async () => { await s.server.stop() })
      return { pid: s.server.child.pid!, url: `${s.url}/v1/verify` }
    }
    const targets: Array<[string, { pid: number, url: string }]> = [
      ['uWS hello-world', await child([benchScript('lib', 'baseline-server.js')], {})],
      ['unsigned', await service({ IDV_AUTH: 'none' })],
      ['unsigned, audit off', await service({ IDV_AUTH: 'none', IDV_AUDIT: 'off' })],
      ['fastify', await child([benchScript('lib', 'fastify-server.js')], { DATA_DIR: dataset.dataDir, HASH_KEY_FILE: dataset.hashKeyFile })]
    ]
    for (const [, t] of targets) pinProcess(t.pid, serverCpu)
    const script = postScript(dir, 'verify', bodies[0]!)
    const measure = async (t: { pid: number, url: string }, seconds: number): Promise<{ rps: number, cpuPct: number, micros: number, bad: number }> => {
      const before = processCpuMicros(t.pid)
      const started = performance.now()
      const r = await runWrk(t.url, script, loadCpu, connections, seconds)
      const cpu = processCpuMicros(t.pid) - before
      return { rps: r.rps, cpuPct: cpu / ((performance.now() - started) * 1000) * 100, micros: cpu / Math.max(1, r.requests), bad: r.non2xx + r.socketErrors }
    }
    for (const [, t] of targets) await measure(t, warmup)
    const slices = new Map(targets.map(([name]) => [name, [] as Array<Awaited<ReturnType<typeof measure>>>]))
    for (let round = 0; round < rounds; round++) {
      for (const [name, t] of round % 2 === 0 ? targets : [...targets].reverse()) slices.get(name)!.push(await measure(t, duration))
    }
    console.log(`\nPinned: POST /v1/verify (one fixed body) over ${citizens.toLocaleString('en')} citizens, server on CPU ${serverCpu}, wrk (1 thread, ${connections} connections) on CPU ${loadCpu}, median of ${rounds} interleaved ${duration} s runs`)
    const m: Record<string, { rps: number, cpuPct: number, micros: number, bad: number }> = {}
    for (const [name, s] of slices) {
      const f = { rps: median(s.map((x) => x.rps)), cpuPct: median(s.map((x) => x.cpuPct)), micros: median(s.map((x) => x.micros)), bad: Math.max(...s.map((x) => x.bad)) }
      m[name] = f
      console.log(`  ${name.padEnd(22)} ${Math.round(f.rps).toString().padStart(7)} req/s  server CPU ${f.cpuPct.toFixed(0).padStart(3)}%  ${f.micros.toFixed(1).padStart(6)} µs/request  non-2xx/errors ${f.bad}`)
    }
    const pct = (x: number): string => `${(x * 100).toFixed(1)}%`
    const hello = m['uWS hello-world']!
    for (const name of ['unsigned', 'unsigned, audit off']) {
      const f = m[name]!
      console.log(`  ${name.padEnd(20)} vs hello-world ${pct(f.rps / hello.rps).padStart(6)} (target ≥ 60%), vs Fastify ${(f.rps / m.fastify!.rps).toFixed(2)}× (target ≥ 2.2×)`)
    }
    if (hello.cpuPct < 90) console.log(`  (the hello-world used ${hello.cpuPct.toFixed(0)}% of its core: the generator or the machine, not the server, set its rate, so the ratios flatter the service)`)
  } finally {
    for (const stop of stops) await stop()
  }
}

if (values.pin) {
  try {
    await pinned()
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
  process.exit(0)
}

const servers: Array<{ server: Started, url: string }> = []
try {
  const started = async (env: NodeJS.ProcessEnv): Promise<{ server: Started, url: string }> => {
    const s = await serve(env)
    servers.push(s)
    return s
  }
  const host = '127.0.0.1'
  const helloChild = await startChild([benchScript('lib', 'baseline-server.js')], /listening (\d+)/,
    { HOST: host, PORT: String(await freePort(host)), THREADS: String(Number(values.threads) * Number(values.processes)) })
  const hello = { server: helloChild, url: `http://${host}:${helloChild.match[1]!}` }
  servers.push(hello)
  const unsigned = await started({ IDV_AUTH: 'none' })
  const receipts = await started({})
  const plain = await started({ IDV_RECEIPTS: 'off' })
  const unsignedNoAudit = await started({ IDV_AUTH: 'none', IDV_AUDIT: 'off' })
  const noAudit = await started({ IDV_AUDIT: 'off' })
  const noSync = await started({ IDV_AUDIT_SYNC: 'off' })
  const every: Record<typeof CASES[number], [string, { server: Started, url: string }, SigningKey | undefined, number]> = {
    hello: ['uWS hello-world', hello, undefined, 0],
    unsigned: ['unsigned', unsigned, undefined, 0],
    hmac: ['hmac + receipts', receipts, hmac, 20_000],
    ed25519: ['ed25519 + receipts', receipts, ed, 12_000],
    'hmac-plain': ['hmac, no receipts', plain, hmac, 20_000],
    'ed25519-plain': ['ed25519, no receipts', plain, ed, 12_000],
    'unsigned-noaudit': ['unsigned, audit off', unsignedNoAudit, undefined, 0],
    'hmac-noaudit': ['hmac + receipts, no audit', noAudit, hmac, 20_000],
    'hmac-nosync': ['hmac + receipts, audit sync off', noSync, hmac, 20_000]
  }
  const cases = chosen.filter(isCase).map((c) => every[c])
  if (values.baseline !== undefined) {
    const envs: Record<typeof CASES[number], NodeJS.ProcessEnv> = {
      hello: {}, unsigned: { IDV_AUTH: 'none' }, hmac: {}, ed25519: {}, 'hmac-plain': { IDV_RECEIPTS: 'off' }, 'ed25519-plain': { IDV_RECEIPTS: 'off' },
      'unsigned-noaudit': { IDV_AUTH: 'none', IDV_AUDIT: 'off' }, 'hmac-noaudit': { IDV_AUDIT: 'off' }, 'hmac-nosync': { IDV_AUDIT_SYNC: 'off' }
    }
    const before = new Map<string, { server: Started, url: string }>()
    for (const c of chosen.filter(isCase)) {
      if (c === 'hello') continue
      const env = envs[c]
      const k = JSON.stringify(env)
      let on = before.get(k)
      if (on === undefined) { on = await serve(env, values.baseline); servers.push(on); before.set(k, on) }
      const [name, , key, expected] = every[c]
      cases.push([`before: ${name}`, on, key, expected])
    }
  }
  for (const [, on, key, expected] of cases) await load(on.url, on.server.child.pid!, key, warmup, expected)
  threadTotals.clear() // the warm-up does not count
  const slices = new Map<string, Figures[]>(cases.map(([name]) => [name, []]))
  const rawSlices: number[] = []
  for (let round = 0; round < rounds; round++) {
    for (const [name, on, key, expected] of round % 2 === 0 ? cases : [...cases].reverse()) {
      slices.get(name)!.push(await load(on.url, on.server.child.pid!, key, duration, expected))
    }
    rawSlices.push(rawEd25519(Math.min(2, duration)))
  }
  const raw = median(rawSlices)
  const all = Object.fromEntries([...slices].map(([name, s]) => [name, medianFigures(s)]))
  console.log(`\nPOST /v1/verify over ${citizens.toLocaleString('en')} citizens, ${connections} connections, ${values.processes === '1' ? '' : `${values.processes} processes × `}${values.threads} server thread(s), median of ${rounds} interleaved ${duration} s slices`)
  for (const [name, f] of Object.entries(all)) {
    console.log(`  ${name.padEnd(22)} ${Math.round(f.rps).toString().padStart(7)} req/s  ${f.cpuMicrosPerRequest.toFixed(1).padStart(6)} µs server CPU/request  p50 ${f.p50.toFixed(2)} ms  p99 ${f.p99.toFixed(2)} ms  non-2xx ${f.non2xx}  errors ${f.errors}${f.ranOut ? '  (pre-signed requests ran out: replays refused)' : ''}`)
  }
  if (values['thread-detail']) {
    for (const [name, on] of cases) {
      const t = threadTotals.get(on.url)
      if (t === undefined) continue
      const busiest = [...t.threads].sort((a, b) => b[1].cpu - a[1].cpu).slice(0, 8)
      const per = (x: number): string => (x / Math.max(1, t.requests)).toFixed(3)
      const all = [...t.threads.values()].reduce((a, x) => ({ v: a.v + x.voluntary, i: a.i + x.involuntary }), { v: 0, i: 0 })
      console.log(`  ${name}: ${t.threads.size} threads; per request: context switches ${per(all.v)} voluntary, ${per(all.i)} involuntary; busiest:`)
      for (const [id, x] of busiest) console.log(`    ${id.padEnd(14)} ${x.name.padEnd(16)} ${(x.cpu * 1e6 / Math.max(1, t.requests)).toFixed(1).padStart(6)} µs CPU  ${per(x.voluntary)} vol  ${per(x.involuntary)} invol per request`)
    }
  }
  const rawMicros = 1e6 / raw
  console.log(`  raw Ed25519 verify     ${Math.round(raw).toString().padStart(7)} /s (one thread) = ${rawMicros.toFixed(1)} µs each`)
  if (chosen.length < CASES.length) console.log('  (the ratios need every case; --cases left some out)')
  else {
    const pct = (x: number): string => `${(x * 100).toFixed(1)}%`
    const f = (name: string): Figures => all[name]!
    const rows: Array<[string, number, number, string]> = [
      // [what, by throughput, by server CPU per request, target]
      ['HMAC-signed + receipts vs unsigned', f('hmac + receipts').rps / f('unsigned').rps, f('unsigned').cpuMicrosPerRequest / f('hmac + receipts').cpuMicrosPerRequest, '≥ 70%'],
      ['Ed25519-signed + receipts vs raw verify', f('ed25519 + receipts').rps / raw, rawMicros / f('ed25519 + receipts').cpuMicrosPerRequest, '≥ 80%'],
      ['receipt cost (HMAC)', 1 - f('hmac + receipts').rps / f('hmac, no receipts').rps, 1 - f('hmac, no receipts').cpuMicrosPerRequest / f('hmac + receipts').cpuMicrosPerRequest, '≤ 10%'],
      ['receipt cost (Ed25519)', 1 - f('ed25519 + receipts').rps / f('ed25519, no receipts').rps, 1 - f('ed25519, no receipts').cpuMicrosPerRequest / f('ed25519 + receipts').cpuMicrosPerRequest, '≤ 10%'],
      ['audit log cost (HMAC + receipts)', 1 - f('hmac + receipts').rps / f('hmac + receipts, no audit').rps, 1 - f('hmac + receipts, no audit').cpuMicrosPerRequest / f('hmac + receipts').cpuMicrosPerRequest, '≤ 10%'],
      ['audit log cost, IDV_AUDIT_SYNC=off (HMAC)', 1 - f('hmac + receipts, audit sync off').rps / f('hmac + receipts, no audit').rps, 1 - f('hmac + receipts, no audit').cpuMicrosPerRequest / f('hmac + receipts, audit sync off').cpuMicrosPerRequest, '≤ 10%'],
      ['audit log cost (unsigned)', 1 - f('unsigned').rps / f('unsigned, audit off').rps, 1 - f('unsigned, audit off').cpuMicrosPerRequest / f('unsigned').cpuMicrosPerRequest, '≤ 10%']
    ]
    for (const [what, byRps, byCpu, target] of rows) console.log(`  ${what.padEnd(42)} ${pct(byRps).padStart(6)} by req/s, ${pct(byCpu).padStart(6)} by server CPU  (target ${target})`)
    // What each target leaves per request, in server CPU, beside what this run measured.
    const us = (name: string): number => f(name).cpuMicrosPerRequest
    const µs = (x: number): string => `${x.toFixed(1)} µs`
    console.log(`  Ed25519 ≥ 80% of raw leaves ${µs(rawMicros / 0.8 - rawMicros)} per request besides the verify; the hello-world alone used ${µs(us('uWS hello-world'))}, unsigned /v1/verify ${µs(us('unsigned'))}, Ed25519 + receipts ${µs(us('ed25519 + receipts') - rawMicros)}`)
    console.log(`  HMAC ≥ 70% of unsigned leaves ${µs(us('unsigned') / 0.7 - us('unsigned'))} per request for authentication and receipts; they used ${µs(us('hmac + receipts') - us('unsigned'))} (receipts ${µs(us('hmac + receipts') - us('hmac, no receipts'))})`)
    console.log(`  latency the audit log adds (answers wait for their batch's fdatasync): p50 ${(f('hmac + receipts').p50 - f('hmac + receipts, no audit').p50).toFixed(2)} ms, p99 ${(f('hmac + receipts').p99 - f('hmac + receipts, no audit').p99).toFixed(2)} ms (HMAC + receipts)`)
  }
  // Bytes per audit entry on disk, in the log of the server that answered the signed cases with receipts.
  if (receipts.server.auditDir !== undefined && (chosen.includes('hmac') || chosen.includes('ed25519'))) {
    await new Promise((resolve) => setTimeout(resolve, 1500)) // the next checkpoint covers every entry
    const size = Number((await (await fetch(`${receipts.url}/v1/audit/checkpoint`)).text()).split('\n')[1])
    const logDir = join(receipts.server.auditDir, readdirSync(receipts.server.auditDir).find((n) => !n.endsWith('.key'))!)
    const segments = readdirSync(join(logDir, 'segments')).reduce((n, f) => n + statSync(join(logDir, 'segments', f)).size, 0)
    const index = statSync(join(logDir, 'index', 'data.mdb')).blocks * 512
    console.log(`  audit log: ${size.toLocaleString('en')} entries, ${(segments / size).toFixed(0)} bytes/entry in segments + ${(index / size).toFixed(0)} bytes/entry in its index (hashes, citizen keys, usage)`)
  }
} finally {
  for (const { server } of servers) await server.stop()
  rmSync(dir, { recursive: true, force: true })
}
