/**
 * Fleet-wide security state with real parts: three nats-server processes, two
 * nodes as `idv serve --replicate URLS` processes with signatures on, parties
 * added with `idv party add --nats`, requests signed (RFC 9421, Ed25519) and
 * sent over HTTP with the fleet's one authority, as a load balancer in front
 * of the nodes would pass it.
 */
import { spawn } from 'node:child_process'
import { generateKeyPairSync, type KeyObject } from 'node:crypto'
import { request } from 'node:http'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { connect } from '@nats-io/transport-node'
import { Kvm } from '@nats-io/kv'
import { createHashKey } from '../../src/files/hash-key-file.js'
import { LocalCluster } from '../../src/fleet/local-cluster.js'
import { publishChanges } from '../../src/fleet/publish.js'
import { syntheticChanges } from '../../src/fleet/synthetic-changes.js'
import { packageRoot } from '../../src/paths.js'
import { signRequest } from '../../src/signatures/request-signer.js'
import { runCli, waitFor } from '../helpers/fleet-node.js'
import { tempDir } from '../helpers/temp.js'

const CLI = join(packageRoot(), 'dist', 'src', 'app', 'cli.js')
/** The authority every node is reached by (the signature covers it). */
const AUTHORITY = 'idv.fleet.test'
const QUOTA = 300

interface Node {
  readonly name: string
  readonly port: number
  readonly metricsUrl: string
  log: () => string
  alive: () => boolean
  stop: () => Promise<void>
}

interface Signer { readonly keyId: string, readonly key: KeyObject }

let dir: string
let cluster: LocalCluster
let keyFile: string
let pin: string
const nodes: Node[] = []
const signers = new Map<string, Signer>()

beforeAll(async () => {
  dir = tempDir('idv-fleet-sec')
  cluster = await LocalCluster.start({ dir: join(dir, 'nats') })
  keyFile = join(dir, 'hash-key')
  const hashKey = createHashKey(keyFile)
  const lines = syntheticChanges(20, { seed: 21 })
  const changes = join(dir, 'changes.ndjson')
  writeFileSync(changes, lines.join('\n') + '\n')
  await publishChanges({ file: changes, servers: cluster.urls, hashKey, outboxDir: join(dir, 'outbox'), replicas: 3, onReject: (line, reason) => { throw new Error(`line ${line}: ${reason}`) } })
  const upsert = lines.map((l) => JSON.parse(l) as { op: string, citizen?: { pin: string } }).find((c) => c.op === 'upsert')
  pin = upsert!.citizen!.pin
  // The first party exists before the nodes start: they install the fleet's registry before serving.
  const added = await addParty('alpha', ['--daily-quota', String(QUOTA)])
  expect(added.stdout).toContain('added party alpha')
  expect(added.stdout).toContain('to the fleet registry (config version 1)')
  nodes.push(await startNode('node-a'), await startNode('node-b'))
}, 90_000)

afterAll(async () => {
  for (const n of nodes) await n.stop()
  await cluster?.stop()
})

async function addParty (id: string, extra: string[] = []): Promise<{ code: number | null, stdout: string, stderr: string }> {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519')
  const pem = join(dir, `${id}.pub.pem`)
  writeFileSync(pem, publicKey.export({ type: 'spki', format: 'pem' }))
  signers.set(id, { keyId: `${id}-key`, key: privateKey })
  return await runCli(['party', 'add', '--nats', cluster.urls, '--id', id, '--public-key', pem, '--key-id', `${id}-key`,
    '--attributes', 'gender,dateOfBirth', '--rate', '5000', '--burst', '10000', ...extra])
}

async function startNode (name: string): Promise<Node> {
  const args = [CLI, 'serve', '--replicate', cluster.urls, '--node-id', name, '--data-dir', join(dir, name), '--hash-key-file', keyFile,
    '--parties-file', join(dir, `${name}.parties.yaml`), '--port', '0', '--auth', 'signatures', '--threads', '1', '--max-lag-seconds', '120']
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, IDV_RECEIPTS: 'off', IDV_AUDIT: 'off' } })
  let out = ''
  child.stdout.on('data', (d) => { out = (out + String(d)).slice(-200_000) })
  child.stderr.on('data', (d) => { out = (out + String(d)).slice(-200_000) })
  const exited = new Promise<void>((resolve) => child.once('exit', () => { resolve() }))
  await waitFor(`${name} serving`, () => out.includes('"msg":"serving"') || child.exitCode !== null, 30_000)
  const line = out.split('\n').find((l) => l.includes('"msg":"serving"'))
  if (line === undefined) throw new Error(`node ${name} did not start:\n${out}`)
  const serving = JSON.parse(line) as { url: string, metricsPort: number }
  const node: Node = {
    name,
    port: Number(new URL(serving.url).port),
    metricsUrl: `http://127.0.0.1:${serving.metricsPort}`,
    log: () => out,
    alive: () => child.exitCode === null && child.signalCode === null,
    async stop () {
      if (child.exitCode === null) child.kill('SIGTERM')
      await exited
    }
  }
  await waitFor(`${name} ready`, async () => (await fetch(`${node.metricsUrl}/readyz`)).status === 200, 30_000, () => out)
  return node
}

async function metric (n: Node, name: string): Promise<number> {
  const text = await (await fetch(`${n.metricsUrl}/metrics`)).text()
  const m = text.match(new RegExp(`^${name.replace(/[{}]/g, '\\$&')} (\\d+)`, 'm'))
  return m === null ? -1 : Number(m[1])
}

interface Sent { readonly headers: Record<string, string>, readonly body: Buffer }

/** A signed POST /v1/verify, to send to any node. */
function signed (party: string): Sent {
  const signer = signers.get(party)!
  const body = Buffer.from(JSON.stringify({ pin, attributes: { gender: 'male' } }))
  const headers = signRequest({ method: 'POST', path: '/v1/verify', authority: AUTHORITY, headers: { 'content-type': 'application/json' }, body },
    { keyId: signer.keyId, algorithm: 'ed25519', key: signer.key })
  return { headers, body }
}

/** Sends it with Host set to the fleet's authority (fetch would send the node's own). */
async function send (n: Node, s: Sent): Promise<{ status: number, body: Record<string, unknown> }> {
  const r = await sendRaw(n, s)
  return { status: r.status, body: JSON.parse(r.text) as Record<string, unknown> }
}

async function sendRaw (n: Node, s: Sent, path = '/v1/verify', body = s.body): Promise<{ status: number, text: string }> {
  return await new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: n.port, method: 'POST', path, headers: { ...s.headers, host: AUTHORITY, 'content-length': String(body.length) } }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }) })
    })
    req.on('error', reject)
    req.end(body)
  })
}

/** A signed request to `path` whose signature covers the head and `signedBody` (a stream's covers the head only). */
function signedTo (party: string, path: string, headers: Record<string, string>, signedBody: Buffer): Sent {
  const signer = signers.get(party)!
  return { headers: signRequest({ method: 'POST', path, authority: AUTHORITY, headers, body: signedBody }, { keyId: signer.keyId, algorithm: 'ed25519', key: signer.key }), body: signedBody }
}

const withoutRequestId = (b: Record<string, unknown>): Record<string, unknown> => { const { requestId: _, ...rest } = b; return rest }

describe('fleet-wide security state on a 3-server JetStream cluster', () => {
  it('a party added with idv party add --nats reaches both nodes; both report the same config version', async () => {
    const [a, b] = nodes as [Node, Node]
    for (const n of [a, b]) expect(await metric(n, 'idv_fleet_config_version')).toBe(1)
    const added = await addParty('beta')
    expect(added.stdout).toContain('to the fleet registry (config version 2)')
    for (const n of [a, b]) await waitFor(`${n.name} at config version 2`, async () => await metric(n, 'idv_fleet_config_version') === 2)
    // The version counts once the node installed the registry in its parties file; its threads load that file on the
    // file's change (a watch and a 50 ms debounce), so the party is served a moment later, never refused after.
    for (const n of [a, b]) await waitFor(`${n.name} to serve beta`, async () => (await send(n, signed('beta'))).status === 200, 2_000)
    for (const n of [a, b]) expect((await send(n, signed('beta'))).status).toBe(200)
    const status = await runCli(['fleet', 'status', '--nats', cluster.urls])
    await waitFor('both nodes in fleet status at config version 2', async () => {
      const s = await runCli(['fleet', 'status', '--nats', cluster.urls])
      return /^node-a\s+\d+\s+0\s+[\d.]+\s+2\s+ready$/m.test(s.stdout) && /^node-b\s+\d+\s+0\s+[\d.]+\s+2\s+ready$/m.test(s.stdout)
    }, 10_000, () => status.stdout)
    // A shared secret never travels through NATS.
    const hmac = await runCli(['party', 'add', '--nats', cluster.urls, '--id', 'gamma', '--hmac', '--attributes', 'gender', '--rate', '10'])
    expect(hmac.code).not.toBe(0)
    expect(hmac.stderr).toContain('--nats takes public keys only')
    const list = await runCli(['party', 'list', '--nats', cluster.urls])
    expect(list.stdout).toContain('config version 2')
    expect(list.stdout).toMatch(/^beta\s/m)
  }, 60_000)

  it('a stream or a job replayed to the second node is refused with the same 401 as a replay on one node', async () => {
    const [a, b] = nodes as [Node, Node]
    const items = Buffer.from(`${JSON.stringify({ ref: 'r1', pin, attributes: { gender: 'male' } })}\n${JSON.stringify({ ref: 'r2', pin, attributes: { gender: 'female' } })}\n`)
    const stream = signedTo('beta', '/v1/verify/stream', { 'content-type': 'application/x-ndjson' }, Buffer.alloc(0))
    const answered = await sendRaw(a, stream, '/v1/verify/stream', items)
    expect(answered.status).toBe(200)
    expect(answered.text.trim().split('\n').map((l) => Object.keys(JSON.parse(l) as object)[0])).toEqual(['ref', 'ref', 'end'])
    const streamOnB = await sendRaw(b, stream, '/v1/verify/stream', items)
    const streamOnA = await sendRaw(a, stream, '/v1/verify/stream', items)
    expect(streamOnA.status).toBe(401)
    expect(JSON.parse(streamOnA.text)).toMatchObject({ code: 'IDV_ERR_REPLAY' })
    expect(streamOnB.status).toBe(401)
    expect(withoutRequestId(JSON.parse(streamOnB.text) as Record<string, unknown>)).toEqual(withoutRequestId(JSON.parse(streamOnA.text) as Record<string, unknown>))
    // A job's creation: created once, replayed to B refused as on A.
    const job = signedTo('beta', '/v1/jobs', { 'idempotency-key': 'fleet-replay-1' }, Buffer.alloc(0))
    expect((await sendRaw(b, job, '/v1/jobs')).status).toBe(201)
    const jobOnA = await sendRaw(a, job, '/v1/jobs')
    const jobOnB = await sendRaw(b, job, '/v1/jobs')
    expect(jobOnB.status).toBe(401)
    expect(JSON.parse(jobOnB.text)).toMatchObject({ code: 'IDV_ERR_REPLAY' })
    expect(jobOnA.status).toBe(401)
    expect(withoutRequestId(JSON.parse(jobOnA.text) as Record<string, unknown>)).toEqual(withoutRequestId(JSON.parse(jobOnB.text) as Record<string, unknown>))
  }, 60_000)

  it('a request replayed to the second node is refused with the same 401 as a replay on one node', async () => {
    const [a, b] = nodes as [Node, Node]
    const once = signed('beta')
    const first = await send(a, once)
    expect(first.status).toBe(200)
    const onB = await send(b, once)
    const onA = await send(a, once)
    expect(onA.status).toBe(401)
    expect(onA.body.code).toBe('IDV_ERR_REPLAY')
    expect(onB.status).toBe(401)
    expect(withoutRequestId(onB.body)).toEqual(withoutRequestId(onA.body))
    // And the other way round: first to B, replayed to A.
    const twice = signed('beta')
    expect((await send(b, twice)).status).toBe(200)
    expect(withoutRequestId((await send(a, twice)).body)).toEqual(withoutRequestId(onA.body))
  }, 30_000)

  it(`a daily quota of ${QUOTA} holds across both nodes: never over it, under by less than 5%`, async () => {
    const [a, b] = nodes as [Node, Node]
    let admitted = 0
    const refusals = new Map<string, number>()
    for (let i = 0; i < 400; i++) {
      const r = await send(i % 2 === 0 ? a : b, signed('alpha'))
      if (r.status === 200) admitted++
      else refusals.set(`${r.status} ${String(r.body.code)}`, (refusals.get(`${r.status} ${String(r.body.code)}`) ?? 0) + 1)
    }
    expect([...refusals.keys()]).toEqual(['429 IDV_ERR_QUOTA_EXCEEDED'])
    // Leased blocks partition the quota: never over it; the unspent rest of a lease is the only shortfall.
    expect(admitted).toBeLessThanOrEqual(QUOTA)
    expect(admitted).toBeGreaterThanOrEqual(QUOTA * 0.95)
  }, 60_000)

  it('an invalid registry revision is refused: both nodes keep the last good one and count it', async () => {
    const nc = await connect({ servers: cluster.url(0) })
    try {
      const kv = await new Kvm(nc).open('idv_parties')
      const current = await kv.get('parties')
      await kv.update('parties', JSON.stringify({ parties: [{ id: 'broken' }] }), current!.revision)
    } finally {
      await nc.close()
    }
    for (const n of nodes) await waitFor(`${n.name} to refuse the revision`, async () => await metric(n, 'idv_fleet_config_refused_total') === 1)
    for (const n of nodes) {
      expect(await metric(n, 'idv_fleet_config_version')).toBe(2)
      expect((await send(n, signed('beta'))).status).toBe(200)
      expect(n.log()).toContain('fleet party registry refused')
    }
  }, 30_000)

  it('with NATS stopped, a signed request gets 503 IDV_ERR_FLEET_UNAVAILABLE and the node keeps running; with NATS back it admits again', async () => {
    await cluster.stop()
    for (const n of nodes) {
      const r = await send(n, signed('beta'))
      expect(r.status).toBe(503)
      expect(r.body.code).toBe('IDV_ERR_FLEET_UNAVAILABLE')
      expect(n.alive()).toBe(true)
      expect(await metric(n, 'idv_fleet_security_checks_total{outcome="unavailable"}')).toBeGreaterThanOrEqual(1)
    }
    // NATS back on the same ports and files: both nodes admit again, without a restart.
    for (let i = 0; i < 3; i++) cluster.startServer(i)
    await cluster.waitReady()
    for (const n of nodes) await waitFor(`${n.name} to admit again`, async () => (await send(n, signed('beta'))).status === 200, 20_000, () => n.log())
  }, 60_000)
})
