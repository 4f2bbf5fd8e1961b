/**
 * Cluster mode as an operator runs it: `idv demo --processes 2` (built code,
 * real processes on one port). Each request goes on a fresh connection, so the
 * kernel spreads them over both members (each member's metrics port shows it
 * answered some); a replay and a party's quota are caught across processes;
 * a member killed with SIGKILL is restarted; SIGTERM drains and stops all.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { createPrivateKey, createSecretKey, randomBytes } from 'node:crypto'
import { readFileSync, writeFileSync } from 'node:fs'
import { request } from 'node:http'
import { join } from 'node:path'
import { tempDir } from '../helpers/temp.js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { partyAdd } from '../../src/parties/party-cli.js'
import { signRequest, type SigningKey } from '../../src/signatures/request-signer.js'
import { packageRoot } from '../../src/paths.js'

const CLI = join(packageRoot(), 'dist', 'src', 'app', 'cli.js')
const dir = tempDir('idv-cluster')
const dataDir = join(dir, 'data')

interface ClusterLine { url: string, pids: number[], metricsPorts: number[] }
let child: ChildProcess
let out = ''
let cluster: ClusterLine
let demo: SigningKey
let body: Buffer

async function until<T> (what: string, check: () => T | undefined | Promise<T | undefined>, ms = 60_000): Promise<T> {
  const deadline = Date.now() + ms
  for (;;) {
    const found = await check()
    if (found !== undefined) return found
    if (Date.now() > deadline) throw new Error(`${what} did not happen:\n${out}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

const logLines = (msg: string): Array<Record<string, any>> =>
  out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, any>).filter((l) => l.msg === msg)

/** One request on its own connection (no keep-alive), so the kernel picks a member afresh each time. */
async function post (path: string, bytes: Buffer, headers: Record<string, string>): Promise<{ status: number, body: any }> {
  return await new Promise((resolve, reject) => {
    const req = request(`${cluster.url}${path}`, { method: 'POST', agent: false, headers: { ...headers, 'content-length': String(bytes.length) } }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString()) }) })
    })
    req.on('error', reject)
    req.end(bytes)
  })
}

function sign (key: SigningKey, bytes: Buffer, nonce?: string): Record<string, string> {
  const unsigned = { 'content-type': 'application/json' }
  return signRequest({ method: 'POST', path: '/v1/verify', authority: new URL(cluster.url).host, scheme: 'http', headers: unsigned, body: bytes }, key, nonce === undefined ? {} : { nonce })
}

/** Requests each member has answered so far (its own metrics port). */
async function answeredByMember (): Promise<number[]> {
  return await Promise.all(cluster.metricsPorts.map(async (port) => {
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()
    return text.split('\n').filter((l) => l.startsWith('idv_thread_requests_total')).reduce((sum, l) => sum + Number(l.split(' ').at(-1)), 0)
  }))
}

beforeAll(async () => {
  child = spawn(process.execPath, [CLI, 'demo', '--processes', '2', '--threads', '1'], {
    cwd: dir,
    env: { ...process.env, IDV_DATA_DIR: dataDir, IDV_PORT: '0', IDV_DEMO_CITIZENS: '3000' },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  child.stdout!.on('data', (d) => { out += d })
  child.stderr!.on('data', (d) => { out += d })
  cluster = await until('cluster serving', () => logLines('cluster serving')[0] as ClusterLine | undefined)
  // The banner (console.log) and the log line (pino) are separate writes: either can arrive first.
  const [, keyId, keyFile, question] = await until('demo banner', () => out.match(/--key-id (\S+) --key (\S+) \/v1\/verify '(.+)'/) ?? undefined)
  demo = { keyId: keyId!, algorithm: 'ed25519', key: createPrivateKey(readFileSync(join(dir, keyFile!))) }
  body = Buffer.from(question!)
}, 120_000)

afterAll(() => {
  if (child.exitCode === null) child.kill('SIGKILL')
})

describe('idv serve --processes 2', () => {
  it('runs two member processes on one port, each with its own metrics port, both answering', async () => {
    expect(cluster.pids).toHaveLength(2)
    expect(new Set(cluster.metricsPorts).size).toBe(2)
    expect(logLines('serving').map((l) => l.member).sort()).toEqual([0, 1])
    const before = await answeredByMember()
    for (let i = 0; i < 24; i++) {
      const r = await post('/v1/verify', body, sign(demo, body))
      expect(r.status, JSON.stringify(r.body)).toBe(200)
      expect(r.body).toMatchObject({ match: true })
    }
    const after = await answeredByMember()
    expect(after[0]! + after[1]! - before[0]! - before[1]!).toBe(24)
    expect(after[0]!).toBeGreaterThan(before[0]!)
    expect(after[1]!).toBeGreaterThan(before[1]!)
  })

  it('refuses a replay whichever member it reaches', async () => {
    const headers = sign(demo, body, randomBytes(16).toString('base64url'))
    const before = await answeredByMember()
    const answers = []
    for (let i = 0; i < 24; i++) answers.push(await post('/v1/verify', body, headers))
    expect(answers.filter((a) => a.status === 200)).toHaveLength(1)
    expect(answers.filter((a) => a.status === 401 && a.body.code === 'IDV_ERR_REPLAY')).toHaveLength(23)
    const after = await answeredByMember()
    expect(after[0]!).toBeGreaterThan(before[0]!) // both members saw the nonce
    expect(after[1]!).toBeGreaterThan(before[1]!)
  })

  it('gives a party its daily quota once between the members, not once each', async () => {
    const secret = randomBytes(32)
    const secretFile = join(dir, 'quota.secret')
    writeFileSync(secretFile, secret.toString('hex'), { mode: 0o600 })
    partyAdd({ file: `${dataDir}.parties.yaml`, id: 'quota', name: 'quota', attributes: ['fullName', 'dateOfBirth', 'gender'], rate: 1000, dailyQuota: 6, hmacSecretFile: secretFile, keyId: 'quota-1' })
    const key: SigningKey = { keyId: 'quota-1', algorithm: 'hmac-sha256', key: createSecretKey(secret) }
    // Both members watch the registry file; wait until each has read it (a 401 means one has not yet).
    const answers: Array<{ status: number, body: any }> = []
    await until('the new party to be known', async () => {
      const r = await post('/v1/verify', body, sign(key, body))
      if (r.status === 401) return undefined
      answers.push(r)
      return true
    }, 10_000)
    for (let i = 0; i < 23; i++) answers.push(await post('/v1/verify', body, sign(key, body)))
    // Registry reloads are per member: one may refuse with 401 until it catches up; those take no quota.
    const counted = answers.filter((a) => a.status !== 401)
    expect(counted.filter((a) => a.status === 200)).toHaveLength(6)
    expect(counted.filter((a) => a.status === 429).every((a) => a.body.code === 'IDV_ERR_QUOTA_EXCEEDED')).toBe(true)
    expect(counted.length).toBeGreaterThan(12)
  })

  it('restarts a member killed with SIGKILL, and keeps answering', async () => {
    const victim = cluster.pids[0]!
    process.kill(victim, 'SIGKILL')
    const restarted = await until('the restart', () => logLines('member restarted and serving')[0])
    expect(restarted).toMatchObject({ member: 0 })
    expect(restarted.pid).not.toBe(victim)
    cluster.pids[0] = restarted.pid as number
    for (let i = 0; i < 8; i++) expect((await post('/v1/verify', body, sign(demo, body))).status).toBe(200)
  })

  it('drains and stops every process on SIGTERM, exit status 0', async () => {
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve))
    child.kill('SIGTERM')
    expect(await exited).toBe(0)
    expect(logLines('stopped').map((l) => l.member).sort()).toEqual([0, 1])
    for (const pid of cluster.pids) expect(() => process.kill(pid, 0)).toThrow() // gone
  })
})

describe('idv serve --processes 2 that cannot start', () => {
  it('says why once and exits 2, starting no member', async () => {
    const run = spawn(process.execPath, [CLI, 'serve', '--processes', '2', '--data-dir', join(dir, 'missing')], { env: { ...process.env, IDV_PORT: '0' }, stdio: ['ignore', 'pipe', 'pipe'] })
    let text = ''
    run.stdout.on('data', (d) => { text += d })
    run.stderr.on('data', (d) => { text += d })
    expect(await new Promise((resolve) => run.on('exit', resolve))).toBe(2)
    expect(text.match(/hash key file .* cannot be read/g)).toHaveLength(1)
    expect(text).not.toContain('"member"')
  })
})
