/**
 * The SLO suite end to end at tiny scale: every scenario runs for 2 s against
 * real `idv serve` processes (2 on one port, over 127.0.0.1 and 127.0.0.2) from
 * 2 real traffic processes, and the result must show that every request got an
 * answer of its expected class and that every process it started is gone.
 * Performance is not judged here (the SLO file is generous); bench/slo.json is.
 * Needs the build (npm test builds first): the runner forks bench/dist/ scripts.
 */
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import { join } from 'node:path'
import { tempDir } from '../helpers/temp.js'
import { describe, expect, it } from 'vitest'
import { packageRoot } from '../../src/paths.js'
import { mixOrder, EXPECTED } from '../../bench/src/lib/request-pool.js'
import { loadScenario, scenarioNames, type RequestKind } from '../../bench/src/lib/scenario.js'
import { evaluateSlo } from '../../bench/src/lib/slo.js'
import { runBenchCli } from '../../bench/src/run.js'
import { resolveShape } from '../../bench/src/suite/traffic-shape.js'
import { recordsPerRequest } from '../../bench/src/suite/phase-figures.js'
import { computeRatios, unjudgedRatios } from '../../bench/src/suite/ratios.js'
import { helloWorkFromEnv, resolveBaselines } from '../../bench/src/suite/run-options.js'

const root = packageRoot()
const work = tempDir('idv-bench-test')

const SCENARIOS = ['access-points-40k', 'chip', 'mixed', 'portal-verify', 'telco-batch']

describe('scenarios, shapes and SLO verdicts', () => {
  it('lists and loads every scenario file', async () => {
    expect(scenarioNames()).toEqual(SCENARIOS)
    for (const name of SCENARIOS) {
      const s = await loadScenario(name)
      expect(s.name).toBe(name)
      for (const kind of Object.keys(s.mix)) expect(EXPECTED[kind as RequestKind]).toBeDefined()
    }
    await expect(loadScenario('nope')).rejects.toThrow(/unknown scenario "nope"; one of: access-points-40k/)
  })

  it('spreads 40,000 connections so no process holds more than 10,000, each connection sending every 2 s', async () => {
    const shape = resolveShape(await loadScenario('access-points-40k'), {})
    expect(shape).toMatchObject({ connections: 40_000, rate: 20_000, intervalMs: 2000, servers: 4, trafficProcesses: 4, durationSeconds: 60 })
    expect(shape.addresses).toEqual(['127.0.0.1', '127.0.0.2', '127.0.0.3', '127.0.0.4'])
  })

  it('raises a rate too low to keep connections alive, and refuses shapes over the open-file limit', async () => {
    const s = await loadScenario('portal-verify')
    const slow = resolveShape(s, { connections: '800', rate: '10' })
    expect(slow.rate).toBe(134)
    expect(slow.intervalMs).toBeLessThanOrEqual(6000)
    expect(slow.notes[0]).toMatch(/rate raised/)
    expect(() => resolveShape(s, { connections: '40000', servers: '2' })).toThrow(/20,000 open files/)
    expect(() => resolveShape(s, { connections: '40000', 'traffic-processes': '1' })).toThrow(/20,000 open files/)
    // --load-processes, the option's first name, still works.
    expect(() => resolveShape(s, { connections: '40000', 'load-processes': '1' })).toThrow(/20,000 open files/)
    expect(resolveShape(s, { connections: '40000', servers: '4', 'load-processes': '3' }).trafficProcesses).toBe(3)
    expect(() => resolveShape(s, { 'load-processes': '0' })).toThrow(/--load-processes/)
    expect(() => resolveShape(s, { 'load-processes': '2', 'traffic-processes': '2' })).toThrow(/one option/)
    expect(() => resolveShape(s, { servers: '1', addresses: '2' })).toThrow(/cannot exceed --servers/)
    expect(() => resolveShape(s, { duration: '0' })).toThrow(/--duration/)
  })

  it('keeps the mix proportions in the shared request order', () => {
    const byKind = new Map<RequestKind, number[]>([['verify-match', [0, 1]], ['chip-valid', [2]], ['batch-1000', [3]]])
    const order = mixOrder({ 'verify-match': 89, 'chip-valid': 10, 'batch-1000': 1 }, byKind)
    expect(order).toHaveLength(1000)
    expect(order.filter((i) => i <= 1).length).toBe(890)
    expect(order.filter((i) => i === 2).length).toBe(100)
    expect(order.filter((i) => i === 3).length).toBe(10)
  })

  it('judges every target and names each miss', () => {
    const measured = { latencyMs: { p50: 1, p99: 6, p999: 9 }, errorRatio: 0.01, throughputRps: 900, connectionsHeld: 39_990 }
    expect(evaluateSlo({ maxErrorRatio: 0 }, { ...measured, errorRatio: 2998 / 1_200_000 }).violations).toEqual(['error ratio 0.00249833 > target 0'])
    expect(evaluateSlo(undefined, measured)).toEqual({ targets: null, pass: true, violations: [], notJudged: [] })
    expect(evaluateSlo({ p50Ms: 1, p99Ms: 6, p999Ms: 9, maxErrorRatio: 0.01, minThroughputRps: 900, minConnections: 39_990 }, measured).pass).toBe(true)
    const v = evaluateSlo({ p50Ms: 0.5, p99Ms: 5, p999Ms: 20, maxErrorRatio: 0, minThroughputRps: 1000, minConnections: 40_000 }, measured)
    expect(v.pass).toBe(false)
    expect(v.violations).toEqual([
      'p50 1 ms > target 0.5 ms',
      'p99 6 ms > target 5 ms',
      'error ratio 0.01 > target 0',
      'throughput 900 req/s < target 1000 req/s',
      'connections held through the window 39990 < target 40000'
    ])
  })

  it('judges throughput ratios against baselines, and lists a ratio target whose baseline was not run as not judged', () => {
    const base = { latencyMs: { p50: 1, p99: 2, p999: 3 }, errorRatio: 0, throughputRps: 1000, connectionsHeld: 100 }
    const targets = { minThroughputVsHello: 0.6, minThroughputVsFastify: 2 }
    expect(evaluateSlo(targets, { ...base, ratios: { throughputVsHello: 0.6, throughputVsFastify: 2.5 } })).toEqual({ targets, pass: true, violations: [], notJudged: [] })
    // Paced only (--capacity off): a ratio of ~1 says nothing, so it is neither passed nor failed.
    const pacedReason = 'measured at a paced rate only (--capacity off), where every server that keeps up answers the offered rate'
    const paced = evaluateSlo(targets, { ...base, unjudged: unjudgedRatios(true, 0), ratios: { throughputVsHello: 1, throughputVsFastify: 1 } })
    expect(paced.violations).toEqual([])
    expect(paced.notJudged).toEqual([`throughput vs hello-world (target ≥ 0.6): ${pacedReason}`, `throughput vs Fastify (target ≥ 2): ${pacedReason}`])
    // A hello-world made to burn CPU (HELLO_WORK_US) is no baseline for the ratio; Fastify's still counts.
    const heavy = evaluateSlo(targets, { ...base, unjudged: unjudgedRatios(false, 80), ratios: { throughputVsHello: 0.9, throughputVsFastify: 1.5 } })
    expect(heavy.violations).toEqual(['throughput vs Fastify 1.5 < target 2'])
    expect(heavy.notJudged).toEqual(['throughput vs hello-world (target ≥ 0.6): the hello-world burned 80 µs per request (HELLO_WORK_US)'])
    // No baseline at all: that is the reason given, whatever else applies.
    expect(evaluateSlo(targets, { ...base, unjudged: unjudgedRatios(true, 0) }).notJudged[0]).toBe('throughput vs hello-world (target ≥ 0.6): baseline not measured')
    expect(helloWorkFromEnv(undefined)).toBe(0)
    expect(helloWorkFromEnv('80')).toBe(80)
    expect(() => helloWorkFromEnv('lots')).toThrow(/HELLO_WORK_US/)
    expect(evaluateSlo(targets, { ...base, ratios: { throughputVsHello: 0.5991, throughputVsFastify: 1.9 } }).violations).toEqual([
      'throughput vs hello-world 0.599 < target 0.6',
      'throughput vs Fastify 1.9 < target 2'
    ])
    const unmeasured = evaluateSlo(targets, { ...base, ratios: { throughputVsHello: 0.7 } })
    expect(unmeasured.pass).toBe(true)
    expect(unmeasured.notJudged).toEqual(['throughput vs Fastify (target ≥ 2): baseline not measured'])
  })

  it('takes throughput ratios from the closed-loop phase when there is one, p99 ratios from the scenario\'s load', () => {
    const f = (throughputRps: number, p99: number, cpu: number | null) => ({ throughputRps, recordsPerSecond: throughputRps * 1000, latencyMs: { p50: 1, p90: 1, p99, p999: 1, max: 1, mean: 1 }, serverCpuUsPerAnswer: cpu })
    const paced = { 'hello-world': f(5000, 2, 40), fastify: f(5000, 8, 200), service: f(5000, 4, 100) }
    const closed = { 'hello-world': f(20_000, 9, 30), fastify: f(4000, 30, 250), service: f(12_000, 12, 50) }
    expect(computeRatios(paced, closed)).toEqual({ throughputBasis: 'closed-loop', throughput: 0.6, p99: 2, throughputVsFastify: 3, p99VsFastify: 0.5, cpuPerAnswerVsHello: 0.6, cpuPerAnswerVsFastify: 5, recordsVsRawLoop: null })
    // The raw loop alone is a baseline too: records per second, on the same basis.
    expect(computeRatios({ service: closed.service }, null, { recordsPerSecond: 24_000_000 })).toMatchObject({ throughputBasis: 'as-run', throughput: null, recordsVsRawLoop: 0.5 })
    expect(computeRatios(paced, null)).toMatchObject({ throughputBasis: 'as-run', throughput: 1, throughputVsFastify: 1, cpuPerAnswerVsFastify: 2 })
    expect(computeRatios({ service: paced.service }, null)).toBeNull()
    expect(computeRatios({ service: paced.service, fastify: paced.fastify }, null)).toMatchObject({ throughput: null, p99: null, throughputVsFastify: 1 })
  })

  it('picks baselines: the scenario\'s default, a comma list, or none; Fastify only where it can share the port', async () => {
    const portal = await loadScenario('portal-verify')
    const chip = await loadScenario('chip')
    const shape = (s: typeof portal, v: Record<string, string> = {}) => resolveShape(s, v)
    expect(resolveBaselines(undefined, portal, shape(portal))).toEqual({ baselines: ['hello', 'fastify'], notes: [] })
    expect(resolveBaselines(undefined, chip, shape(chip))).toEqual({ baselines: ['hello', 'fastify'], notes: [] })
    expect(resolveBaselines('none', portal, shape(portal)).baselines).toEqual([])
    expect(resolveBaselines('fastify,hello', portal, shape(portal)).baselines).toEqual(['fastify', 'hello'])
    expect(() => resolveBaselines('hello,express', portal, shape(portal))).toThrow(/"express" is not one of hello, fastify, raw, none/)
    expect(resolveBaselines('fastify', chip, shape(chip)).baselines).toEqual(['fastify'])
    // Two server processes on one address need SO_REUSEPORT, which Node 20's HTTP server lacks.
    expect(() => resolveBaselines('fastify', portal, shape(portal, { servers: '2', addresses: '1' }))).toThrow(/one address per server process/)
    const dropped = resolveBaselines(undefined, portal, shape(portal, { servers: '2', addresses: '1' }))
    expect(dropped.baselines).toEqual(['hello'])
    expect(dropped.notes[0]).toMatch(/fastify baseline left out/)
    const telco = await loadScenario('telco-batch')
    expect(resolveBaselines(undefined, telco, shape(telco)).baselines).toEqual(['hello', 'raw'])
    expect(() => resolveBaselines('raw', chip, shape(chip))).toThrow(/verify and batch items only/)
  })

  it('counts verified records per request by kind (a 1,000-item batch is 1,000 records)', () => {
    expect(recordsPerRequest({ 'batch-1000': { sent: 10 } })).toBe(1000)
    expect(recordsPerRequest({ 'verify-match': { sent: 89 }, 'chip-valid': { sent: 10 }, 'batch-1000': { sent: 1 } })).toBeCloseTo(10.99)
    expect(recordsPerRequest({})).toBe(1)
  })

  it('judges verified records per second and the share of the raw loop', () => {
    const base = { latencyMs: { p50: 1, p99: 2, p999: 3 }, errorRatio: 0, throughputRps: 150, connectionsHeld: 8 }
    const v = evaluateSlo({ minRecordsPerSecond: 200_000, minRecordsVsRawLoop: 0.5 }, { ...base, recordsPerSecond: 150_000, ratios: { recordsVsRawLoop: 0.45 } })
    expect(v.violations).toEqual(['verified records 150000 records/s < target 200000 records/s', 'verified records vs raw loop 0.45 < target 0.5'])
    expect(evaluateSlo({ minRecordsVsRawLoop: 0.5 }, base).notJudged).toEqual(['verified records vs raw loop (target ≥ 0.5): baseline not measured'])
  })

  it('answers usage errors with exit status 2', async () => {
    expect(await runBenchCli([])).toBe(2)
    expect(await runBenchCli(['no-such-scenario'])).toBe(2)
    expect(await runBenchCli(['portal-verify', '--connections', 'many'])).toBe(2)
    expect(await runBenchCli(['portal-verify', '--baseline', 'express'])).toBe(2)
    expect(await runBenchCli(['portal-verify', '--capacity', 'maybe'])).toBe(2)
  })
})

interface Result {
  scenario: string
  load: { connections: number, servers: number, loadProcesses: number, addresses: string[] }
  connections: { requested: number, opened: number, peakEstablished: number, minEstablishedMeasured: number | null, lost: number, openAtEnd: number }
  requests: { sent: number, answered: number, ok: number, wrongAnswer: number, non2xx: number, errors: number, timeouts: number }
  byKind: Record<string, { sent: number, ok: number }>
  latencyMs: { p50: number, p90: number, p99: number, p999: number, max: number }
  throughputRps: number
  coresUsed: { servers: number, load: number }
  serverProcesses: Array<{ pid: number, address: string }>
  connectionsByAddress: Record<string, number>
  serverInstances: Array<{ id: string, answers: number, share: number }>
  baseline: { requests: { sent: number, answered: number }, latencyMs: { p99: number } } | null
  fastify: { requests: { sent: number, answered: number, ok: number }, byKind: Record<string, { sent: number, ok: number }> } | null
  capacity: Record<string, { requests: { sent: number, ok: number }, throughputRps: number }> | null
  recordsPerSecond: number
  rawLoop: { threads: number, items: number, recordsPerSecond: number, matchShare: number } | null
  ratios: { throughputBasis: string, throughput: number | null, p99: number | null, throughputVsFastify: number | null, recordsVsRawLoop: number | null } | null
  slo: { pass: boolean, violations: string[] }
  processes: { started: number, pids: number[], running: number }
}

const generous = join(work, 'slo-generous.json')
writeFileSync(generous, JSON.stringify({ scenarios: Object.fromEntries(SCENARIOS.map((s) => [s, { p99Ms: 30_000, maxErrorRatio: 0, minConnections: 50 }])) }))
const impossible = join(work, 'slo-impossible.json')
writeFileSync(impossible, JSON.stringify({ scenarios: { 'portal-verify': { p50Ms: 0.000001 } } }))

function runScenario (name: string, rate: number, extra: string[], slo: string, timeout = 90_000): { status: number | null, result: Result, output: string } {
  const results = mkdtempSync(join(work, `${name}-`))
  const run = spawnSync(process.execPath, [
    join(root, 'bench', 'dist', 'run.js'), name,
    '--citizens', '2000', '--connections', '50', '--rate', String(rate), '--duration', '2', '--warmup', '1',
    '--servers', '2', '--load-processes', '2', '--addresses', '2', '--slo', slo, '--results', results, ...extra
  ], { encoding: 'utf8', timeout })
  const output = `${run.stdout}${run.stderr}`
  const files = readdirSync(results)
  expect(files, output).toHaveLength(1)
  return { status: run.status, result: JSON.parse(readFileSync(join(results, files[0]!), 'utf8')) as Result, output }
}

function alive (pid: number): boolean {
  try { process.kill(pid, 0); return true } catch { return false }
}

function expectSound (r: Result, name: string, output: string): void {
  expect(r.scenario).toBe(name)
  expect(r.load).toMatchObject({ connections: 50, servers: 2, loadProcesses: 2, addresses: ['127.0.0.1', '127.0.0.2'] })
  // Every connection open at once, seen by the kernel, and none lost or closed before the end (the clients' count).
  // Every kernel listing taken wholly inside the window saw them all (the SLO's minConnections below checks the same).
  expect(r.connections, `${JSON.stringify(r.connections)}\n${output}`).toMatchObject({ requested: 50, opened: 50, peakEstablished: 50, lost: 0, openAtEnd: 50 })
  expect(r.connections.minEstablishedMeasured).toBe(50)
  expect(r.serverProcesses.map((s) => s.address)).toEqual(['127.0.0.1', '127.0.0.2'])
  expect(r.connectionsByAddress).toEqual({ '127.0.0.1': 25, '127.0.0.2': 25 })
  // Every request answered, each with the answer class its kind expects.
  expect(r.requests.sent, output).toBeGreaterThan(0)
  expect(r.requests, `${JSON.stringify(r.requests)}\n${output}`).toMatchObject({ answered: r.requests.sent, ok: r.requests.sent, wrongAnswer: 0, non2xx: 0, errors: 0, timeouts: 0 })
  for (const [kind, c] of Object.entries(r.byKind)) expect(c.ok, kind).toBe(c.sent)
  expect(r.latencyMs.p50).toBeGreaterThan(0)
  expect(r.latencyMs.p50).toBeLessThanOrEqual(r.latencyMs.p99)
  expect(r.latencyMs.p99).toBeLessThanOrEqual(r.latencyMs.max)
  expect(r.throughputRps).toBeGreaterThan(0)
  expect(r.coresUsed.servers).toBeGreaterThan(0)
  expect(r.coresUsed.load).toBeGreaterThan(0)
  // Both server processes answered (each thread of a process is an instance of its own), and the shares add up.
  expect(r.serverInstances.length).toBeGreaterThanOrEqual(2)
  expect(r.serverInstances.reduce((s, i) => s + i.answers, 0)).toBe(r.requests.answered)
  // Every process the run started is gone.
  expect(r.processes.running).toBe(0)
  expect(r.processes.pids.filter(alive)).toEqual([])
}

describe('npm run bench at tiny scale (2 servers, 2 traffic processes, 2 addresses, 50 connections)', () => {
  const rates: Record<string, number> = { 'access-points-40k': 500, chip: 200, mixed: 300, 'telco-batch': 20 }
  for (const name of Object.keys(rates)) {
    // telco-batch beside the raw loop (in process, a few seconds), chip beside Fastify (its chip route and pool); the others alone.
    const baseline = name === 'telco-batch' ? 'raw' : name === 'chip' ? 'fastify' : 'none'
    it(`${name}${baseline === 'none' ? '' : ` beside the ${baseline === 'raw' ? 'raw loop' : 'Fastify baseline'}`}`, () => {
      const { status, result, output } = runScenario(name, rates[name]!, ['--baseline', baseline, '--capacity', 'off'], generous)
      expectSound(result, name, output)
      expect(result.baseline).toBeNull()
      expect(result.capacity).toBeNull()
      if (baseline === 'fastify') {
        // Fastify verified the same chips through the service's pool and answered each one right.
        expect(result.fastify!.requests.answered).toBeGreaterThan(0)
        expect(result.fastify!.requests).toMatchObject({ wrongAnswer: 0, non2xx: 0, errors: 0 })
      } else {
        expect(result.fastify).toBeNull()
      }
      if (baseline === 'raw') {
        // The raw loop verified the same 4,000 batch items (~70% matches) on every core.
        expect(result.rawLoop).toMatchObject({ threads: availableParallelism(), items: 4000 })
        expect(result.rawLoop!.recordsPerSecond).toBeGreaterThan(0)
        expect(result.rawLoop!.matchShare).toBeGreaterThan(0.6)
        expect(result.rawLoop!.matchShare).toBeLessThan(0.8)
        expect(Math.abs(result.recordsPerSecond - result.throughputRps * 1000)).toBeLessThanOrEqual(500) // 1,000 records per batch
        expect(result.ratios!.recordsVsRawLoop).toBeGreaterThan(0)
        expect(output).toMatch(/service \/ raw loop: [\d.]+% of verified records/)
      } else {
        // Beside Fastify only its ratios exist, taken as run (no closed-loop phase here).
        if (baseline === 'fastify') expect(result.ratios).toMatchObject({ throughputBasis: 'as-run', throughput: null, recordsVsRawLoop: null })
        else expect(result.ratios).toBeNull()
        expect(result.rawLoop).toBeNull()
      }
      expect(result.byKind).toEqual(expect.objectContaining(Object.fromEntries(Object.keys((result as unknown as { load: { mix: object } }).load.mix).map((k) => [k, expect.anything()]))))
      expect(result.slo, output).toEqual({ targets: expect.anything(), pass: true, violations: [], notJudged: [] })
      expect(status, output).toBe(0)
    }, 90_000)
  }

  it('portal-verify --sweep at two shares of a given capacity, writing the result, its SVG chart and the service\'s CPU profiles', () => {
    const results = mkdtempSync(join(work, 'sweep-'))
    const profiles = mkdtempSync(join(work, 'profiles-'))
    const run = spawnSync(process.execPath, [
      join(root, 'bench', 'dist', 'run.js'), 'portal-verify', '--sweep', '--sweep-capacity', '600', '--sweep-points', '50,100',
      '--citizens', '2000', '--connections', '50', '--duration', '2', '--warmup', '1',
      '--servers', '2', '--traffic-processes', '2', '--addresses', '2', '--results', results, '--cpu-prof', profiles
    ], { encoding: 'utf8', timeout: 90_000 })
    const output = `${run.stdout}${run.stderr}`
    expect(run.status, output).toBe(0)
    const files = readdirSync(results).sort()
    expect(files, output).toHaveLength(2)
    expect(files[0]).toMatch(/-portal-verify-sweep-\d{6}\.json$/)
    expect(files[1]).toBe(files[0]!.replace(/\.json$/, '.svg'))
    const r = JSON.parse(readFileSync(join(results, files[0]!), 'utf8')) as { sweep: { capacityRps: number, capacitySource: string, points: Array<{ percent: number, offeredRps: number, throughputRps: number, errorRatio: number, latencyMs: { p99: number } }> }, processes: { running: number, pids: number[] } }
    expect(r.sweep).toMatchObject({ capacityRps: 600, capacitySource: 'given' })
    expect(r.sweep.points.map((p) => [p.percent, p.offeredRps])).toEqual([[50, 300], [100, 600]])
    for (const p of r.sweep.points) {
      expect(p.errorRatio, output).toBe(0)
      expect(p.throughputRps).toBeGreaterThan(0)
      expect(p.latencyMs.p99).toBeGreaterThan(0)
    }
    const svg = readFileSync(join(results, files[1]!), 'utf8')
    expect(svg.match(/<polyline /g)).toHaveLength(3)
    // Two sweep points × two server processes, each at least its main thread's profile, every one a V8 profile.
    const written = readdirSync(profiles).filter((f) => f.endsWith('.cpuprofile'))
    expect(written.length, output).toBeGreaterThanOrEqual(4)
    for (const f of written) expect(JSON.parse(readFileSync(join(profiles, f), 'utf8'))).toHaveProperty('samples')
    expect(r.processes.running).toBe(0)
    expect(r.processes.pids.filter(alive)).toEqual([])
  }, 90_000)

  it('portal-verify beside the hello-world and Fastify baselines, paced and closed loop, exiting 1 on a missed target', () => {
    const { status, result, output } = runScenario('portal-verify', 500, [], impossible, 150_000)
    expectSound(result, 'portal-verify', output)
    expect(result.baseline!.requests.answered).toBe(result.baseline!.requests.sent)
    // Fastify over the same store gave every request the answer its kind expects, as the service must.
    expect(result.fastify!.requests.sent).toBeGreaterThan(0)
    expect(result.fastify!.requests.ok, output).toBe(result.fastify!.requests.sent)
    for (const [kind, c] of Object.entries(result.fastify!.byKind)) expect(c.ok, kind).toBe(c.sent)
    // Each server also ran closed loop, and the throughput ratios come from there.
    expect(Object.keys(result.capacity!).sort()).toEqual(['fastify', 'hello-world', 'service'])
    for (const [label, c] of Object.entries(result.capacity!)) {
      expect(c.requests.ok, label).toBe(c.requests.sent)
      expect(c.throughputRps, label).toBeGreaterThan(0)
    }
    expect(result.ratios!.throughputBasis).toBe('closed-loop')
    expect(result.ratios!.throughput).toBeGreaterThan(0)
    expect(result.ratios!.throughputVsFastify).toBeGreaterThan(0)
    expect(output).toMatch(/service \/ Fastify: throughput [\d.]+×/)
    expect(result.slo.pass).toBe(false)
    expect(result.slo.violations[0]).toMatch(/^p50 [\d.]+ ms > target 0.000001 ms$/)
    expect(output).toMatch(/SLO: FAIL/)
    expect(status).toBe(1)
  }, 150_000)
})
