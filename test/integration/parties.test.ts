/**
 * Relying parties end to end, over HTTP against the real service: signed
 * requests for each algorithm (valid, tampered body, tampered path, stale,
 * replayed, unknown key), key rotation, a disabled party, endpoint, attribute
 * and batch-size policy, overall-only answers, rate limits and quotas, signed
 * answers (receipts) checked against GET /v1/keys, and an independent RFC 9421
 * client (http-message-signatures) talking to the server.
 */
import { createHash, createSecretKey, generateKeyPairSync, randomBytes } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { tempDir } from '../helpers/temp.js'
import { createSigner, httpbis } from 'http-message-signatures'
import { pack, unpack } from 'msgpackr'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { SignatureAlgorithm } from '../../src/signatures/message-signature.js'
import { partyAdd, partyDisable, partyRotateKey } from '../../src/parties/party-cli.js'
import { signRequest, type SigningKey, type SignOptions } from '../../src/signatures/request-signer.js'
import { ReceiptKeyRing } from '../../src/receipts/keys.js'
import { pinToKey } from '../../src/domain/pin.js'
import { RecordCodec } from '../../src/domain/record.js'
import { Verifier } from '../../src/verify/verifier.js'
import { resultsDigest, verifyReceipt } from '../../src/receipts/receipt.js'
import { startTestServer, type TestServer } from '../helpers/server.js'

const ATTRS = ['fullName', 'dateOfBirth', 'gender', 'placeOfOrigin', 'placeOfResidence', 'cardIssueDate', 'cardExpiryDate']
const dir = tempDir('idv-parties')
const partiesFile = join(dir, 'parties.yaml')
let server: TestServer

interface Signer extends SigningKey { readonly secret?: Buffer }

/** A key pair (or secret) for `algorithm`, its public half (or secret) written where `idv party add` reads it. */
function newKey (algorithm: SignatureAlgorithm, keyId: string): { signer: Signer, source: { publicKey?: string, hmacSecretFile?: string } } {
  const file = join(dir, `${keyId}.key`)
  if (algorithm === 'hmac-sha256') {
    const secret = randomBytes(32)
    writeFileSync(file, secret.toString('hex'), { mode: 0o600 })
    return { signer: { keyId, algorithm, key: createSecretKey(secret), secret }, source: { hmacSecretFile: file } }
  }
  const pair = algorithm === 'ed25519' ? generateKeyPairSync('ed25519') : generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
  writeFileSync(file, pair.publicKey.export({ type: 'spki', format: 'pem' }))
  return { signer: { keyId, algorithm, key: pair.privateKey }, source: { publicKey: file } }
}

const keys: Record<string, Signer> = {}

function addParty (id: string, algorithm: SignatureAlgorithm, extra: Partial<Parameters<typeof partyAdd>[0]> = {}): void {
  const { signer, source } = newKey(algorithm, `${id}-k1`)
  keys[id] = signer
  partyAdd({ file: partiesFile, id, name: id, attributes: ATTRS, rate: 1000, ...source, keyId: signer.keyId, ...extra })
}

interface Sent { status: number, headers: Headers, body: any }

async function send (signer: SigningKey | undefined, body: unknown, path = '/v1/verify', o: { sign?: SignOptions, sendPath?: string, sendBody?: Buffer, headers?: Record<string, string>, msgpack?: boolean } = {}): Promise<Sent> {
  const bytes = o.msgpack === true ? pack(body) : Buffer.from(JSON.stringify(body))
  const type = o.msgpack === true ? 'application/vnd.msgpack' : 'application/json'
  const url = new URL(server.url)
  const unsigned = { 'content-type': type }
  const headers = signer === undefined ? unsigned : signRequest({ method: 'POST', path, authority: url.host, scheme: 'http', headers: unsigned, body: bytes }, signer, o.sign)
  const res = await fetch(`${server.url}${o.sendPath ?? path}`, { method: 'POST', headers: { ...headers, ...o.headers }, body: o.sendBody ?? bytes })
  const buf = Buffer.from(await res.arrayBuffer())
  const parsed = buf.length === 0 ? undefined : res.headers.get('content-type')?.includes('msgpack') === true ? unpack(buf) : JSON.parse(buf.toString())
  return { status: res.status, headers: res.headers, body: parsed }
}

function question (i = 0, attributes: string[] = ['fullName', 'dateOfBirth', 'gender']): { pin: string, attributes: Record<string, string> } {
  const c = server.citizens.filter((x) => x.status === 'active')[i]!
  const all: Record<string, string | undefined> = { fullName: c.fullName, dateOfBirth: c.dateOfBirth, gender: c.gender }
  return { pin: c.pin, attributes: Object.fromEntries(attributes.map((a) => [a, all[a]!])) }
}

async function jwks (): Promise<unknown> {
  const res = await fetch(`${server.url}/v1/keys`)
  expect(res.headers.get('content-type')).toBe('application/jwk-set+json')
  return await res.json()
}

/** Waits until the running service has picked up a registry change (it watches the file). */
async function eventually (check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 5000
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('the registry change did not take effect')
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

beforeAll(async () => {
  addParty('ed', 'ed25519')
  addParty('ec', 'ecdsa-p256-sha256')
  addParty('hm', 'hmac-sha256')
  addParty('overall', 'ed25519', { overallOnly: true })
  addParty('narrow', 'ed25519', { attributes: ['fullName'], endpoints: ['/v1/verify', '/v1/verify/batch'], maxBatchItems: 2 })
  addParty('single', 'ecdsa-p256-sha256', { endpoints: ['/v1/verify'] })
  addParty('slow', 'hmac-sha256', { rate: 1, burst: 2 })
  addParty('quota', 'hmac-sha256', { dailyQuota: 3 })
  addParty('rotating', 'ed25519')
  addParty('leaving', 'ed25519')
  const receiptKeyFile = join(dir, 'receipt-keys.json')
  ReceiptKeyRing.loadOrCreate(receiptKeyFile)
  server = await startTestServer({ config: { auth: 'signatures', partiesFile, receiptKeyFile } })
})

afterAll(async () => {
  await server?.close()
})

describe.each(['ed', 'ec', 'hm'])('a party signing with %s', (id) => {
  it('is answered, with a receipt that verifies against GET /v1/keys', async () => {
    const r = await send(keys[id], question())
    expect(r.status, JSON.stringify(r.body)).toBe(200)
    expect(r.body).toMatchObject({ match: true, citizen: 'active', attributes: { fullName: 'match', dateOfBirth: 'match', gender: 'match' } })
    const check = verifyReceipt(r.body.receipt, await jwks())
    expect(check).toMatchObject({ ok: true, leaf: { requestId: r.body.requestId, partyId: id, attributes: ['fullName', 'dateOfBirth', 'gender'] } })
    if (!check.ok) return
    expect(check.leaf.results).toEqual({ match: true, citizen: 'active', attributes: r.body.attributes })
    expect(JSON.stringify(check.leaf)).not.toContain(question().pin)
  })

  it('refuses a tampered body, a tampered path, a stale signature and a replay', async () => {
    const tampered = Buffer.from(JSON.stringify(question(1)))
    expect((await send(keys[id], question(), '/v1/verify', { sendBody: tampered })).body.code).toBe('IDV_ERR_DIGEST_MISMATCH')
    const otherPath = await send(keys[id], { items: [question()] }, '/v1/verify/batch', { sendPath: '/v1/verify' })
    expect([otherPath.status, otherPath.body.code]).toEqual([401, 'IDV_ERR_SIGNATURE_INVALID'])
    const stale = await send(keys[id], question(), '/v1/verify', { sign: { created: Math.floor(Date.now() / 1000) - 120 } })
    expect([stale.status, stale.body.code]).toEqual([401, 'IDV_ERR_SIGNATURE_EXPIRED'])
    const nonce = randomBytes(12).toString('base64url')
    const created = Math.floor(Date.now() / 1000)
    expect((await send(keys[id], question(), '/v1/verify', { sign: { nonce, created } })).status).toBe(200)
    const replay = await send(keys[id], question(), '/v1/verify', { sign: { nonce, created } })
    expect([replay.status, replay.body.code]).toEqual([401, 'IDV_ERR_REPLAY'])
  })
})

describe('authentication', () => {
  it('refuses a request without a signature, and one signed by an unknown key', async () => {
    const none = await send(undefined, question())
    expect([none.status, none.body.code, none.headers.get('content-type')]).toEqual([401, 'IDV_ERR_SIGNATURE_MISSING', 'application/problem+json'])
    const stranger = newKey('ed25519', 'stranger').signer
    const unknown = await send(stranger, question())
    expect([unknown.status, unknown.body.code]).toEqual([401, 'IDV_ERR_UNKNOWN_KEY'])
  })

  it('a rotated key verifies inside its overlap and is refused after it', async () => {
    const old = keys.rotating!
    const { signer: fresh, source } = newKey('ed25519', 'rotating-k2')
    partyRotateKey({ file: partiesFile, id: 'rotating', overlapSeconds: 2, ...source, keyId: fresh.keyId })
    await eventually(async () => (await send(fresh, question())).status === 200)
    expect((await send(old, question())).status).toBe(200)
    await new Promise((resolve) => setTimeout(resolve, 2100))
    const expired = await send(old, question())
    expect([expired.status, expired.body.code]).toEqual([401, 'IDV_ERR_KEY_EXPIRED'])
    expect((await send(fresh, question())).status).toBe(200)
  })

  it('a disabled party is refused with 403 once its signature verified', async () => {
    expect((await send(keys.leaving, question())).status).toBe(200)
    partyDisable(partiesFile, 'leaving')
    await eventually(async () => (await send(keys.leaving, question())).status === 403)
    expect((await send(keys.leaving, question())).body.code).toBe('IDV_ERR_PARTY_DISABLED')
  })

  it('an independent RFC 9421 client (http-message-signatures) is answered', async () => {
    const body = Buffer.from(JSON.stringify(question()))
    const url = `${server.url}/v1/verify`
    for (const id of ['ed', 'ec', 'hm']) {
      const k = keys[id]!
      const signedReq = await httpbis.signMessage({
        key: createSigner(k.secret ?? k.key, k.algorithm, k.keyId),
        name: 'client',
        fields: ['@method', '@path', '@authority', 'content-type', 'content-digest'],
        params: ['created', 'keyid', 'nonce', 'alg'],
        paramValues: { nonce: randomBytes(12).toString('base64url') }
      }, { method: 'POST', url, headers: { 'content-type': 'application/json', 'content-digest': `sha-256=:${createHash('sha256').update(body).digest('base64')}:` } })
      const headers: Record<string, string> = {}
      for (const [name, v] of Object.entries(signedReq.headers)) headers[name] = Array.isArray(v) ? v.join(', ') : String(v)
      const res = await fetch(url, { method: 'POST', headers, body })
      expect(res.status, `${id}: ${await res.clone().text()}`).toBe(200)
      expect(((await res.json()) as any).match).toBe(true)
    }
  })
})

describe('policy', () => {
  it('refuses a forbidden endpoint, a forbidden attribute and a batch over the party limit', async () => {
    const endpoint = await send(keys.single, { items: [question(0)] }, '/v1/verify/batch')
    expect([endpoint.status, endpoint.body.code]).toEqual([403, 'IDV_ERR_ENDPOINT_FORBIDDEN'])
    const batchAttr = await send(keys.narrow, { items: [question(0, ['fullName']), question(1, ['dateOfBirth'])] }, '/v1/verify/batch')
    expect([batchAttr.status, batchAttr.body.code]).toEqual([403, 'IDV_ERR_ATTRIBUTE_FORBIDDEN'])
    const attr = await send(keys.narrow, question(0, ['fullName', 'dateOfBirth']))
    expect([attr.status, attr.body.code]).toEqual([403, 'IDV_ERR_ATTRIBUTE_FORBIDDEN'])
    expect(attr.body.detail).toContain('dateOfBirth')
    const big = await send(keys.narrow, { items: [0, 1, 2].map((i) => question(i, ['fullName'])) }, '/v1/verify/batch')
    expect([big.status, big.body.code]).toEqual([403, 'IDV_ERR_BATCH_TOO_LARGE'])
    expect((await send(keys.narrow, { items: [0, 1].map((i) => question(i, ['fullName'])) }, '/v1/verify/batch')).status).toBe(200)
    expect((await send(keys.narrow, question(0, ['fullName']))).body.attributes).toEqual({ fullName: 'match' })
  })

  it('an overall-only party gets match and nothing per attribute, also in batches', async () => {
    const wrong = question(0); wrong.attributes.dateOfBirth = '1900-01-01'
    const r = await send(keys.overall, wrong)
    expect(r.status).toBe(200)
    expect(Object.keys(r.body).sort()).toEqual(['match', 'receipt', 'requestId'])
    expect(r.body.match).toBe(false)
    const b = await send(keys.overall, { items: [question(0), wrong] }, '/v1/verify/batch')
    expect(b.body.results).toEqual([{ match: true }, { match: false }])
  })

  it('enforces the rate with Retry-After, and recovers', async () => {
    expect((await send(keys.slow, question())).status).toBe(200)
    expect((await send(keys.slow, question())).status).toBe(200)
    const over = await send(keys.slow, question())
    expect([over.status, over.body.code, over.headers.get('retry-after')]).toEqual([429, 'IDV_ERR_RATE_LIMITED', '1'])
    await new Promise((resolve) => setTimeout(resolve, 1100))
    expect((await send(keys.slow, question())).status).toBe(200)
  })

  it('counts batch items against the daily quota', async () => {
    expect((await send(keys.quota, { items: [question(0), question(1)] }, '/v1/verify/batch')).status).toBe(200)
    const over = await send(keys.quota, { items: [question(0), question(1)] }, '/v1/verify/batch')
    expect([over.status, over.body.code]).toEqual([429, 'IDV_ERR_QUOTA_EXCEEDED'])
    expect(Number(over.headers.get('retry-after'))).toBeGreaterThan(0)
    expect((await send(keys.quota, question(2))).status).toBe(200)
  })
})

describe('signed answers', () => {
  it('answers completed in one turn share a signed root, and each verifies', async () => {
    const answers = await Promise.all(Array.from({ length: 24 }, async (_, i) => await send(keys.hm, question(i % 10))))
    const keySet = await jwks()
    const roots = new Map<string, number>()
    for (const a of answers) {
      expect(a.status).toBe(200)
      expect(verifyReceipt(a.body.receipt, keySet).ok).toBe(true)
      roots.set(a.body.receipt.signedRoot, (roots.get(a.body.receipt.signedRoot) ?? 0) + 1)
    }
    expect(Math.max(...roots.values())).toBeGreaterThan(1)
    // Any changed byte of leaf, path or root fails.
    const shared = answers.find((a) => a.body.receipt.path.length > 0)!.body.receipt
    const flip = (s: string, i: number): string => s.slice(0, i) + (s[i] === 'A' ? 'B' : 'A') + s.slice(i + 1)
    expect(verifyReceipt({ ...shared, leaf: shared.leaf.replace('"match":true', '"match":false') }, keySet).ok).toBe(false)
    expect(verifyReceipt({ ...shared, path: [flip(shared.path[0], 3), ...shared.path.slice(1)] }, keySet).ok).toBe(false)
    expect(verifyReceipt({ ...shared, signedRoot: flip(shared.signedRoot, shared.signedRoot.length - 5) }, keySet).ok).toBe(false)
  })

  it('pinHash is bound to the party: two parties asking about one citizen cannot link their receipts; the operator can', async () => {
    const leaves = []
    for (const id of ['ed', 'ec', 'hm', 'ed']) {
      const r = await send(keys[id], question(3))
      expect(r.status).toBe(200)
      const check = verifyReceipt(r.body.receipt, await jwks())
      expect(check.ok).toBe(true)
      if (check.ok) leaves.push(check.leaf)
    }
    const [ed, ec, hm, edAgain] = leaves.map((l) => l.pinHash as string)
    expect(new Set([ed, ec, hm]).size).toBe(3)
    expect(edAgain).toBe(ed) // one party, one citizen: the same hash (it knows the PIN it asked about anyway)
    // The operator holds the hash key and recomputes any party's pinHash for a PIN.
    const operator = new Verifier(server.store, new RecordCodec(server.hashKey))
    expect(operator.pinHash('ec', [pinToKey(question(3).pin)])).toBe(ec)
    expect(operator.pinHash('ed', [pinToKey(question(3).pin)])).toBe(ed)
  })

  it('a batch answer commits to its results by digest, in MessagePack too', async () => {
    const r = await send(keys.ed, { items: [question(0), question(1), { pin: 'nope' }] }, '/v1/verify/batch', { msgpack: true })
    expect(r.status).toBe(200)
    const check = verifyReceipt(r.body.receipt, await jwks())
    expect(check.ok).toBe(true)
    if (!check.ok) return
    expect(check.leaf.results).toEqual({ items: 3, sha256: resultsDigest(r.body.results) })
    expect(r.body.results[2].error.code).toBe('IDV_ERR_INVALID_PIN')
  })
})
