/**
 * Every core serving: `idv serve --threads 3` runs three uWS apps on one port
 * (real process, real worker threads, real LMDB). Connections spread over the
 * threads; a nonce replayed on other connections, and a party's burst, are
 * enforced across all of them (one shared nonce memory and rate table); chips
 * from any thread reach the one crypto pool; SIGTERM under load drains every
 * thread (each accepted request answered 200 or 503, exit 0) and the store
 * reopens clean.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { generateKeyPairSync, randomBytes } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { Agent, request } from 'node:http'
import { join } from 'node:path'
import { tempDir } from '../helpers/temp.js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { partyAdd } from '../../src/parties/party-cli.js'
import { signRequest, type SigningKey } from '../../src/signatures/request-signer.js'
import { ATTRIBUTES } from '../../src/domain/record.js'
import { packageRoot } from '../../src/paths.js'
import { generateCitizens, toJsonLine } from '../../src/population/generate.js'
import { createHashKey } from '../../src/files/hash-key-file.js'
import { ReceiptKeyRing } from '../../src/receipts/keys.js'
import { openStore } from '../../src/store/open.js'
import { pinToKey } from '../../src/domain/pin.js'
import { AN, createTestPki, makeChip } from 'chip-test-pki'

const CLI = join(packageRoot(), 'dist', 'src', 'app', 'cli.js')
const dir = tempDir('idv-threads')
const dataDir = join(dir, 'data')
const partiesFile = join(dir, 'parties.yaml')
const keys: Record<string, SigningKey> = {}
let child: ChildProcess
let port = 0
let output = ''

function addParty (id: string, rate: number, burst: number): void {
  const pair = generateKeyPairSync('ed25519')
  const file = join(dir, `${id}.pub.pem`)
  writeFileSync(file, pair.publicKey.export({ type: 'spki', format: 'pem' }))
  partyAdd({ file: partiesFile, id, name: id, attributes: ATTRIBUTES, rate, burst, publicKey: file, keyId: `${id}-1` })
  keys[id] = { keyId: `${id}-1`, algorithm: 'ed25519', key: pair.privateKey }
}

const body = Buffer.from(JSON.stringify({ pin: AN.pin, attributes: { fullName: AN.fullName, dateOfBirth: AN.dateOfBirth } }))

/** One request on a connection of its own, so the kernel may hand it to any thread. */
async function post (path: string, payload: Buffer, headers: Record<string, string>): Promise<{ status: number, body: any }> {
  return await new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: 'POST', headers: { ...headers, 'content-length': payload.length }, agent: new Agent({ keepAlive: false }) }, (res) => {
      let text = ''
      res.on('data', (d) => { text += d })
      res.on('end', () => { resolve({ status: res.statusCode!, body: text === '' ? undefined : JSON.parse(text) }) })
    })
    req.on('error', reject)
    req.end(payload)
  })
}

function sign (key: SigningKey, payload: Uint8Array = body, path = '/v1/verify', nonce?: string): Record<string, string> {
  return signRequest({ method: 'POST', path, authority: `127.0.0.1:${port}`, scheme: 'http', headers: { 'content-type': 'application/json' }, body: payload }, key, nonce === undefined ? {} : { nonce })
}

async function scrape (): Promise<string> {
  const metricsPort = /"metricsPort":(\d+)/.exec(output)?.[1]
  return await (await fetch(`http://127.0.0.1:${metricsPort!}/metrics`)).text()
}

beforeAll(async () => {
  const population = join(dir, 'population.ndjson')
  const an = { pin: AN.pin, fullName: AN.fullName, dateOfBirth: AN.dateOfBirth, gender: AN.gender, status: 'active' as const, cardIssueDate: '2024-01-01', ...(AN.expiry !== null ? { cardExpiryDate: AN.expiry } : {}) }
  writeFileSync(population, [...generateCitizens(20, 9), an].map(toJsonLine).join('\n') + '\n')
  createHashKey(join(dir, 'hash.key'))
  const load = spawn(process.execPath, [CLI, 'load', population, '--data-dir', dataDir, '--hash-key-file', join(dir, 'hash.key')], { stdio: 'ignore' })
  expect(await new Promise((resolve) => load.on('exit', resolve))).toBe(0)
  addParty('busy', 1000, 1000)
  addParty('burst', 0.001, 5)
  ReceiptKeyRing.loadOrCreate(join(dir, 'receipts.json'))
  const pki = createTestPki()
  const csca = pki.trustDir
  const made = makeChip({ citizen: AN, ds: pki.ds.ecdsa })
  const dataGroups: Record<string, string> = {}
  for (const [n, b] of made.dataGroups) dataGroups[String(n)] = Buffer.from(b).toString('base64')
  chipBody = Buffer.from(JSON.stringify({ sod: Buffer.from(made.sod).toString('base64'), dataGroups }))
  child = spawn(process.execPath, [CLI, 'serve', '--data-dir', dataDir, '--hash-key-file', join(dir, 'hash.key'), '--port', '0', '--threads', '3', '--parties-file', partiesFile, '--csca-dir', csca], {
    env: { ...process.env, IDV_RECEIPT_KEY_FILE: join(dir, 'receipts.json'), IDV_METRICS_PORT: '0', IDV_LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  child.stdout!.on('data', (d) => { output += d })
  child.stderr!.on('data', (d) => { output += d })
  const deadline = Date.now() + 30_000
  while (!/"url":"http:\/\/127\.0\.0\.1:(\d+)"/.test(output)) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`did not start:\n${output}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  port = Number(/"url":"http:\/\/127\.0\.0\.1:(\d+)"/.exec(output)![1])
}, 60_000)

let chipBody: Buffer

afterAll(async () => {
  if (child !== undefined && child.exitCode === null) child.kill('SIGKILL')
})

describe('idv serve --threads 3', () => {
  it('serves from every thread', async () => {
    const answers = await Promise.all(Array.from({ length: 60 }, async () => await post('/v1/verify', body, sign(keys.busy!))))
    for (const a of answers) expect(a.body.match, JSON.stringify(a.body)).toBe(true)
    const shares = [...(await scrape()).matchAll(/^idv_thread_requests_total\{thread="(\d+)"\} (\d+)/gm)].map((m) => Number(m[2]))
    expect(shares.length).toBe(3)
    expect(shares.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(60)
    for (const s of shares) expect(s, `each thread answered some of ${JSON.stringify(shares)}`).toBeGreaterThan(0)
  })

  it('refuses a nonce replayed on other connections, whichever thread they reach', async () => {
    const nonce = randomBytes(16).toString('base64url')
    const headers = sign(keys.busy!, body, '/v1/verify', nonce)
    expect((await post('/v1/verify', body, headers)).status).toBe(200)
    const replays = await Promise.all(Array.from({ length: 30 }, async () => await post('/v1/verify', body, headers)))
    for (const r of replays) expect([r.status, r.body.code]).toEqual([401, 'IDV_ERR_REPLAY'])
  })

  it('grants a party its burst once, not once per thread', async () => {
    const answers = await Promise.all(Array.from({ length: 30 }, async () => await post('/v1/verify', body, sign(keys.burst!))))
    expect(answers.filter((a) => a.status === 200).length).toBe(5)
    expect(answers.filter((a) => a.status === 429).length).toBe(25)
  })

  it('verifies chips from every thread on the one crypto pool', async () => {
    const payload: Buffer = chipBody
    const answers = await Promise.all(Array.from({ length: 24 }, async () => await post('/v1/chip/verify', payload, sign(keys.busy!, payload, '/v1/chip/verify'))))
    for (const a of answers) expect([a.status, a.body.valid, a.body.match], JSON.stringify(a.body)).toEqual([200, true, true])
  })

  it('drains every thread on SIGTERM and exits 0', async () => {
    const inFlight = Promise.all(Array.from({ length: 30 }, async () => await post('/v1/verify', body, sign(keys.busy!)).catch(() => undefined)))
    await new Promise((resolve) => setTimeout(resolve, 5))
    const exited = new Promise<string>((resolve) => child.on('exit', (code, signal) => { resolve(`${code ?? signal}`) }))
    child.kill('SIGTERM')
    for (const a of await inFlight) if (a !== undefined) expect([200, 503]).toContain(a.status)
    expect(await exited, output.slice(-3000)).toBe('0')
    expect(output).toContain('"msg":"stopped"')
    // The store closed cleanly: it reopens with every record and answers.
    const store = await openStore('lmdb', dataDir)
    try {
      expect(store.count()).toBe(21)
      expect(store.getFast(pinToKey(AN.pin))).toBeDefined()
    } finally {
      await store.close()
    }
  })
})
