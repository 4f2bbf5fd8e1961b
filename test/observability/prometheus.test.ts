/**
 * The metrics against a real Prometheus: the real service (LMDB index, signed
 * relying parties, a chip trust store and crypto pool) with its metrics port,
 * a real `prometheus` server scraping it every second on loopback with the
 * rules from grafana/alerts, some traffic of every kind, then:
 * - `promtool check metrics` on a scrape reports nothing;
 * - every query of every dashboard in grafana/dashboards parses and returns
 *   data through Prometheus's HTTP API, as does every recording rule and the
 *   dashboards' template-variable query (the fleet dashboard and rules need a
 *   replicating node: test/replication/fleet-ops.test.ts checks them on one);
 * - `promtool check rules` passes and `promtool test rules` (alert unit tests)
 *   passes; the generated files are up to date with bench/slo.json;
 * - no label carries a PIN, a name or a request id, and every label's values
 *   come from a closed set;
 * - /livez and /readyz on the metrics port (503 when not ready, no-store).
 * Every process started here is stopped in afterAll.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { createSecretKey, randomBytes } from 'node:crypto'
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { createServer as createNetServer } from 'node:net'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { partyAdd } from '../../src/parties/party-cli.js'
import { signRequest, type SigningKey } from '../../src/signatures/request-signer.js'
import { loadConfig } from '../../src/config.js'
import { RecordCodec } from '../../src/domain/record.js'
import { errorCatalogue } from '../../src/errors.js'
import { createLogger } from '../../src/log.js'
import { STATUS_LABELS } from '../../src/metrics/layout.js'
import { CATALOGUE } from '../../src/app/capabilities.js'
import { ATTRIBUTE_RESULTS, VERIFY_OUTCOMES } from '../../src/verify/index.js'
import { CHIP_VERDICTS } from '../../src/chip/index.js'
import { packageRoot } from '../../src/paths.js'
import { generateCitizens } from '../../src/population/generate.js'
import { startService, type RunningService } from '../../src/app/service.js'
import { bindHashKey, openStore } from '../../src/store/open.js'
import { AN, createTestPki, makeChip, type TestChip, type TestPki } from 'chip-test-pki'
import { fillStore } from '../helpers/server.js'
import { parseScrape, type Series } from './scrape.js'
import { tempDir } from '../helpers/temp.js'

const root = packageRoot()
const GRAFANA = join(root, 'grafana')
const ATTRS = ['fullName', 'dateOfBirth', 'gender', 'placeOfOrigin', 'placeOfResidence', 'cardIssueDate', 'cardExpiryDate']
const PARTIES = ['bank-a', 'telco-b']

const work = tempDir('idv-observability')
let pki: TestPki
let service: RunningService
let prometheus: ChildProcess | undefined
let promUrl = ''
let metricsUrl = ''
const keys: Record<string, SigningKey> = {}
const citizens = [...generateCitizens(300, 7)]
/** Everything personal or per-request that was sent, which no label may contain. */
const sentPins = new Set<string>()
const sentNames = new Set<string>()
const requestIds = new Set<string>()

async function freePort (): Promise<number> {
  const srv = createNetServer()
  await new Promise<void>((resolve) => { srv.listen(0, '127.0.0.1', resolve) })
  const port = (srv.address() as { port: number }).port
  await new Promise((resolve) => srv.close(resolve))
  return port
}

async function waitFor (what: string, check: () => Promise<boolean>, ms: number): Promise<void> {
  const deadline = Date.now() + ms
  for (;;) {
    try { if (await check()) return } catch { /* not yet */ }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
}

async function post (path: string, body: unknown, party?: string, headers: Record<string, string> = {}): Promise<number> {
  const bytes = Buffer.from(typeof body === 'string' ? body : JSON.stringify(body))
  const url = new URL(service.url)
  const base = { 'content-type': 'application/json', ...headers }
  const signed = party === undefined ? base : signRequest({ method: 'POST', path, authority: url.host, scheme: 'http', headers: base, body: bytes }, keys[party]!)
  const res = await fetch(`${service.url}${path}`, { method: 'POST', headers: signed, body: bytes })
  const id = res.headers.get('x-request-id')
  if (id !== null) requestIds.add(id)
  await res.arrayBuffer()
  return res.status
}

function question (i: number, wrongBirth = false, unknown = false): unknown {
  const c = citizens[i % citizens.length]!
  const pin = unknown ? `001099${String(900000 + i).padStart(6, '0')}` : c.pin
  sentPins.add(pin)
  sentNames.add(c.fullName)
  return { pin, attributes: { fullName: c.fullName, dateOfBirth: wrongBirth ? '1900-01-01' : c.dateOfBirth, gender: c.gender } }
}

function chipBody (chip: TestChip): string {
  const dataGroups: Record<string, string> = {}
  for (const [n, b] of chip.dataGroups) dataGroups[String(n)] = Buffer.from(b).toString('base64')
  return JSON.stringify({ sod: Buffer.from(chip.sod).toString('base64'), dataGroups })
}

/** Traffic of every kind the dashboards show: matches, mismatches, unknown PINs, batches, chips, rejections. */
async function drive (): Promise<void> {
  const statuses: number[] = []
  for (let i = 0; i < 60; i++) {
    const party = PARTIES[i % 2]!
    statuses.push(await post('/v1/verify', question(i, i % 5 === 1, i % 10 === 3), party))
  }
  statuses.push(await post('/v1/verify/batch', { items: Array.from({ length: 20 }, (_, i) => question(100 + i, i % 4 === 0, i % 7 === 0)) }, 'telco-b'))
  statuses.push(await post('/v1/chip/verify', chipBody(makeChip({ citizen: AN, ds: pki.ds.ecdsa })), 'bank-a'))
  statuses.push(await post('/v1/chip/verify', chipBody(makeChip({ citizen: AN, ds: pki.ds.rsa, tamperSignature: true })), 'bank-a'))
  statuses.push(await post('/v1/chip/verify', chipBody(makeChip({ citizen: AN, ds: pki.rogueDs })), 'bank-a'))
  expect(statuses.every((s) => s === 200), `answers: ${statuses.join(',')}`).toBe(true)
  // Rejections: unsigned (401), malformed (400), wrong type (415), unknown route (404), wrong method (405).
  expect(await post('/v1/verify', question(1))).toBe(401)
  expect(await post('/v1/verify', '{"pin":', 'bank-a')).toBe(400)
  expect(await post('/v1/verify', question(2), 'bank-a', { 'content-type': 'text/plain' })).toBe(415)
  expect((await fetch(`${service.url}/nowhere`)).status).toBe(404)
  expect((await fetch(`${service.url}/v1/verify`)).status).toBe(405)
}

beforeAll(async () => {
  // Never a silent skip: without the binaries this suite fails, saying how to get them.
  for (const tool of ['prometheus', 'promtool']) {
    try {
      execFileSync(tool, ['--version'], { stdio: 'ignore' })
    } catch {
      throw new Error(`${tool} is not installed: npm test installs it (the pretest step runs .ci/install-debian-packages, which needs root or sudo)`)
    }
  }
  pki = createTestPki()
  const dataDir = join(work, 'data')
  const hashKey = randomBytes(32)
  const store = await openStore('lmdb', dataDir)
  await bindHashKey(store, new RecordCodec(hashKey))
  await fillStore(store, new RecordCodec(hashKey), [...citizens, {
    pin: AN.pin, fullName: AN.fullName, dateOfBirth: AN.dateOfBirth, gender: AN.gender, status: 'active',
    ...(AN.expiry !== null ? { cardExpiryDate: AN.expiry, cardIssueDate: '2024-01-01' } : {})
  }])
  await store.close()
  const partiesFile = join(work, 'parties.yaml')
  for (const id of PARTIES) {
    const secret = randomBytes(32)
    const secretFile = join(work, `${id}.secret`)
    writeFileSync(secretFile, secret.toString('hex'), { mode: 0o600 })
    partyAdd({ file: partiesFile, id, name: id, attributes: ATTRS, rate: 10_000, hmacSecretFile: secretFile, keyId: `${id}-k1` })
    keys[id] = { keyId: `${id}-k1`, algorithm: 'hmac-sha256', key: createSecretKey(secret) }
  }
  const config = loadConfig({}, {
    port: 0, dataDir, logLevel: 'silent', partiesFile, receiptKeyFile: join(work, 'receipt-keys.json'), receipts: 'off',
    cscaDir: pki.trustDir, cryptoThreads: 1, metricsPort: 0
  })
  service = await startService(config, createLogger('silent'), hashKey)
  metricsUrl = `http://127.0.0.1:${(service.details.metricsPort as number)}`

  const promPort = await freePort()
  promUrl = `http://127.0.0.1:${promPort}`
  const promConfig = join(work, 'prometheus.yml')
  writeFileSync(promConfig, [
    'global:', '  scrape_interval: 1s', '  evaluation_interval: 1s',
    'rule_files:', `  - ${join(GRAFANA, 'alerts', 'idv-rules.yml')}`,
    'scrape_configs:', '  - job_name: idv', '    static_configs:', `      - targets: ['127.0.0.1:${(service.details.metricsPort as number)}']`, ''
  ].join('\n'))
  prometheus = spawn('prometheus', [
    `--config.file=${promConfig}`, `--storage.tsdb.path=${join(work, 'tsdb')}`, `--web.listen-address=127.0.0.1:${promPort}`, '--log.level=error'
  ], { stdio: ['ignore', 'ignore', 'pipe'] })
  let promErr = ''
  prometheus.stderr!.on('data', (d: Buffer) => { promErr += d.toString() })
  await waitFor(`prometheus on ${promUrl} (${promErr})`, async () => (await fetch(`${promUrl}/-/ready`)).ok, 20_000)
  await drive()
}, 60_000)

afterAll(async () => {
  if (prometheus !== undefined && prometheus.exitCode === null) {
    const exited = new Promise((resolve) => prometheus!.once('exit', resolve))
    prometheus.kill('SIGTERM')
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5000))])
    if (prometheus.exitCode === null) prometheus.kill('SIGKILL')
  }
  await service?.stop()
}, 30_000)

async function instant (expr: string): Promise<{ status: string, error?: string, data?: { result: unknown[] } }> {
  const res = await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(expr)}`)
  return await res.json() as { status: string, error?: string, data?: { result: unknown[] } }
}

/** A dashboard query as Grafana would send it, its variables filled with "All" and a short range. */
function substitute (expr: string): string {
  return expr.replaceAll('$__rate_interval', '1m').replaceAll('$__range', '5m').replaceAll('$party', '.*')
}

/** What needs replicating nodes: test/replication/fleet-ops.test.ts checks the fleet dashboard and rules against one. */
const FLEET_DASHBOARD = 'idv-fleet.json'
const FLEET_RECORD = /^idv:fleet_/

function dashboardQueries (): Array<{ where: string, expr: string }> {
  const out: Array<{ where: string, expr: string }> = []
  for (const file of readdirSync(join(GRAFANA, 'dashboards')).filter((f) => f.endsWith('.json') && f !== FLEET_DASHBOARD)) {
    const d = JSON.parse(readFileSync(join(GRAFANA, 'dashboards', file), 'utf8')) as { panels: Array<{ title: string, targets?: Array<{ expr: string }> }> }
    for (const p of d.panels) for (const t of p.targets ?? []) out.push({ where: `${file}: ${p.title}`, expr: t.expr })
  }
  return out
}

function recordingRules (): string[] {
  const text = readFileSync(join(GRAFANA, 'alerts', 'idv-rules.yml'), 'utf8')
  return [...new Set([...text.matchAll(/record: (\S+)/g)].map((m) => m[1]!))].filter((r) => !FLEET_RECORD.test(r))
}

describe('metrics checked against a real Prometheus', () => {
  it('every dashboard query and every recording rule parses and returns data', async () => {
    const queries = dashboardQueries()
    expect(queries.length).toBeGreaterThan(40)
    for (const record of recordingRules()) queries.push({ where: 'recording rule', expr: record })
    let failing: string[] = []
    // Rates need two scrapes after the traffic, recording rules one evaluation after that.
    await waitFor('every query to return data', async () => {
      failing = []
      for (const q of queries) {
        const r = await instant(substitute(q.expr))
        if (r.status !== 'success') throw new Error(`${q.where}: ${q.expr}: ${r.error ?? r.status}`) // a parse error never heals
        if ((r.data?.result.length ?? 0) === 0) failing.push(`${q.where}: ${q.expr}`)
      }
      return failing.length === 0
    }, 25_000).catch((err: Error) => { throw new Error(`${err.message}; no data: \n${failing.join('\n')}`) })
    // The party template variable lists the parties that sent traffic.
    const values = await (await fetch(`${promUrl}/api/v1/label/party/values?match[]=idv_http_requests_total`)).json() as { data: string[] }
    expect(values.data).toEqual(expect.arrayContaining([...PARTIES, 'none']))
  }, 40_000)

  it('promtool check metrics reports nothing on a scrape', async () => {
    const text = await (await fetch(`${metricsUrl}/metrics`)).text()
    const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' })
    expect(r.stdout + r.stderr).toBe('')
    expect(r.status).toBe(0)
  })

  it('the rules pass promtool check rules and their unit tests; the generated files match bench/slo.json', () => {
    const check = spawnSync('promtool', ['check', 'rules', join(GRAFANA, 'alerts', 'idv-rules.yml')], { encoding: 'utf8' })
    expect(check.status, check.stdout + check.stderr).toBe(0)
    const unit = spawnSync('promtool', ['test', 'rules', join(GRAFANA, 'alerts', 'idv-rules.test.yml')], { encoding: 'utf8', cwd: join(GRAFANA, 'alerts') })
    expect(unit.status, unit.stdout + unit.stderr).toBe(0)
    const fresh = spawnSync(process.execPath, [join(GRAFANA, 'generate.mjs'), '--check'], { encoding: 'utf8' })
    expect(fresh.status, fresh.stderr).toBe(0)
  })

  it('labels carry no PIN, name or request id, and every label value comes from a closed set', async () => {
    const series: Series[] = parseScrape(await (await fetch(`${metricsUrl}/metrics`)).text())
    expect(requestIds.size).toBeGreaterThan(60)
    const values = (family: typeof VERIFY_OUTCOMES, label: string): readonly string[] => family.labels.find((l) => l.name === label)!.values
    const allowed: Record<string, ReadonlySet<string>> = {
      route: new Set(CATALOGUE.routes),
      status: new Set([...STATUS_LABELS, ...errorCatalogue().map((e) => String(e.status))]),
      party: new Set([...PARTIES, 'none', 'other']),
      code: new Set([...errorCatalogue().map((e) => e.code), 'other']),
      outcome: new Set([...values(VERIFY_OUTCOMES, 'outcome'), 'success', 'client_error', 'server_error']),
      attribute: new Set(values(ATTRIBUTE_RESULTS, 'attribute')),
      result: new Set([...values(ATTRIBUTE_RESULTS, 'result'), ...values(CHIP_VERDICTS, 'result')]),
      reason: new Set(values(CHIP_VERDICTS, 'reason'))
    }
    const idvLabels = new Map<string, Set<string>>()
    for (const s of series) {
      for (const [label, value] of Object.entries(s.labels)) {
        expect(/\d{12}/.test(value), `${s.name}{${label}="${value}"} looks like a PIN`).toBe(false)
        expect(requestIds.has(value), `${s.name}{${label}} is a request id`).toBe(false)
        for (const name of sentNames) expect(value.includes(name), `${s.name}{${label}} holds a name`).toBe(false)
        if (!s.name.startsWith('idv_')) continue
        if (!idvLabels.has(label)) idvLabels.set(label, new Set())
        idvLabels.get(label)!.add(value)
      }
    }
    for (const pin of sentPins) expect(JSON.stringify(series)).not.toContain(pin)
    // Every label of the service's own families is known, and its values are within their closed set.
    const open = new Set(['le', 'quantile', 'version', 'commit', 'node_version', 'store', 'thread'])
    for (const [label, values] of idvLabels) {
      if (open.has(label)) continue
      expect(allowed[label], `unexpected label ${label}`).toBeDefined()
      for (const v of values) expect(allowed[label]!.has(v), `${label}="${v}"`).toBe(true)
    }
    // Series counts stay bounded: requests per (party, route, status), latency per (party, route).
    const count = (name: string): number => series.filter((s) => s.name === name).length
    expect(count('idv_http_requests_total')).toBeLessThanOrEqual(allowed.party!.size * CATALOGUE.routes.length * STATUS_LABELS.length)
    expect(count('idv_http_request_duration_seconds_count')).toBeLessThanOrEqual(allowed.party!.size * CATALOGUE.routes.length)
    expect(count('idv_verify_outcomes_total')).toBeLessThanOrEqual(allowed.party!.size * VERIFY_OUTCOMES.labels[0]!.values.length)
  })

  it('serves /livez and /readyz on the metrics port, 503 while not ready, never cached', async () => {
    const live = await fetch(`${metricsUrl}/livez`)
    expect(live.status).toBe(200)
    expect(live.headers.get('cache-control')).toBe('no-store')
    const ready = await fetch(`${metricsUrl}/readyz`)
    expect(ready.status).toBe(200)
    expect(ready.headers.get('cache-control')).toBe('no-store')
    service.server.lifecycle.ready = false
    try {
      const notReady = await fetch(`${metricsUrl}/readyz`)
      expect(notReady.status).toBe(503)
      expect(notReady.headers.get('cache-control')).toBe('no-store')
      expect(notReady.headers.get('content-type')).toBe('application/problem+json')
      expect(((await notReady.json()) as { code: string }).code).toBe('IDV_ERR_NOT_READY')
      expect(parseScrape(await (await fetch(`${metricsUrl}/metrics`)).text()).find((s) => s.name === 'idv_ready')?.value).toBe(0)
    } finally {
      service.server.lifecycle.ready = true
    }
    expect((await fetch(`${metricsUrl}/elsewhere`)).status).toBe(404)
    expect((await fetch(`${metricsUrl}/metrics`, { method: 'POST' })).status).toBe(405)
    const scrape = await fetch(`${metricsUrl}/metrics`)
    expect(scrape.headers.get('content-type')).toContain('text/plain; version=0.0.4')
  })
})
