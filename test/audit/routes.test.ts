/**
 * The audit log through the real service with signed relying parties: every
 * answer (single, each batch item) is in the log with its receipt's leaf
 * hash; a citizen's history for the citizen-portal and auditor roles only
 * (a relying party, a disabled party and an unsigned caller are refused,
 * and the refused look is itself recorded); a party's own usage only; the
 * checkpoint and the proofs served check with an independent verifier.
 */
import { createHash, generateKeyPairSync } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { partyAdd, partyDisable } from '../../src/parties/party-cli.js'
import { signRequest, type SigningKey } from '../../src/signatures/request-signer.js'
import { openCheckpoint, parseVerifierKey } from '../../src/audit/checkpoint.js'
import { verifyInclusion } from '../../src/merkle/rfc6962.js'
import { verifyConsistency } from '../../src/merkle/proofs.js'
import { ReceiptKeyRing } from '../../src/receipts/keys.js'
import { startTestServer, type TestServer } from '../helpers/server.js'
import { tempDir } from '../helpers/temp.js'
import { segmentEntries } from './segment-entries.js'

const dir = tempDir('idv-audit-routes')
const partiesFile = join(dir, 'parties.yaml')
const keys: Record<string, SigningKey> = {}
let server: TestServer

function addParty (id: string, roles?: string[]): void {
  const pair = generateKeyPairSync('ed25519')
  const file = join(dir, `${id}.pem`)
  writeFileSync(file, pair.publicKey.export({ type: 'spki', format: 'pem' }))
  keys[id] = { keyId: `${id}-k1`, algorithm: 'ed25519', key: pair.privateKey }
  partyAdd({ file: partiesFile, id, name: `${id} display`, attributes: ['fullName', 'dateOfBirth', 'gender'], rate: 1000, publicKey: file, keyId: `${id}-k1`, roles })
}

async function call (party: string | undefined, method: 'GET' | 'POST', path: string, body?: unknown): Promise<{ status: number, body: any, text: string, type: string | null }> {
  const bytes = body === undefined ? Buffer.alloc(0) : Buffer.from(JSON.stringify(body))
  const base: Record<string, string> = body === undefined ? {} : { 'content-type': 'application/json' }
  const headers = party === undefined ? base : signRequest({ method, path, authority: new URL(server.url).host, scheme: 'http', headers: base, body: bytes }, keys[party]!)
  const res = await fetch(`${server.url}${path}`, { method, headers, ...(body === undefined ? {} : { body: bytes }) })
  const text = await res.text()
  const type = res.headers.get('content-type')
  return { status: res.status, text, type, body: type?.includes('json') === true ? JSON.parse(text) : undefined }
}

/** The citizen index is written by the log's index thread a moment after the entry: retries an assertion until it holds (2 s at most). */
async function eventually (check: () => Promise<void>): Promise<void> {
  const deadline = Date.now() + 2000
  for (;;) {
    try {
      await check()
      return
    } catch (err) {
      if (Date.now() > deadline) throw err
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
  }
}

const citizen = (i: number) => server.citizens.filter((c) => c.status === 'active')[i]!
const ask = (i: number, name?: string) => ({ pin: citizen(i).pin, attributes: { fullName: name ?? citizen(i).fullName, dateOfBirth: citizen(i).dateOfBirth } })

beforeAll(async () => {
  addParty('bank')
  addParty('portal', ['citizen-portal'])
  addParty('auditor', ['auditor'])
  addParty('gone', ['citizen-portal'])
  partyDisable(partiesFile, 'gone')
  const receiptKeyFile = join(dir, 'receipt-keys.json')
  ReceiptKeyRing.loadOrCreate(receiptKeyFile)
  server = await startTestServer({ config: { auth: 'signatures', partiesFile, receiptKeyFile, auditCheckpointMs: 50 } })
})

afterAll(async () => { await server?.close() })

describe('recording answers', () => {
  it('records each answer and each batch item, with the receipt\'s leaf hash, before answering', async () => {
    const one = await call('bank', 'POST', '/v1/verify', ask(0))
    expect(one.status).toBe(200)
    const batch = await call('bank', 'POST', '/v1/verify/batch', { items: [ask(0, 'Wrong Name'), ask(1), { pin: '12', attributes: { fullName: 'x' } }] })
    expect(batch.status).toBe(200)
    const entries: any[] = segmentEntries(join(server.config.auditDir, 'test'))
    const single = entries.find((e) => e.requestId === one.body.requestId)
    const leafHash = (leaf: string): string => createHash('sha256').update(Buffer.from([0])).update(leaf).digest('base64url')
    expect(single).toMatchObject({ node: 'test', partyId: 'bank', endpoint: '/v1/verify', attributes: ['fullName', 'dateOfBirth'], results: { match: true, citizen: 'active' }, receiptLeafHash: leafHash(one.body.receipt.leaf) })
    expect(single.pinHash).toMatch(/^[A-Za-z0-9_-]{22}$/)
    expect(JSON.stringify(entries)).not.toContain(citizen(0).pin)
    expect(JSON.stringify(entries)).not.toContain(citizen(0).fullName)
    const items = entries.filter((e) => e.requestId === batch.body.requestId)
    expect(items.map((e) => e.item)).toEqual([0, 1, 2])
    expect(items[0]).toMatchObject({ pinHash: single.pinHash, results: { match: false, attributes: { fullName: 'mismatch' } }, receiptLeafHash: leafHash(batch.body.receipt.leaf) })
    expect(items[2]).toMatchObject({ pinHash: null, results: { error: 'IDV_ERR_INVALID_PIN' } })
  })
})

describe('a citizen\'s access history', () => {
  const path = (i: number, q = '') => `/v1/audit/citizens/${citizen(i).pin}/accesses${q}`

  it('shows a citizen portal who asked, newest first, with the party\'s name', async () => {
    const answers = (r: { body: any }): any[] => r.body.accesses.filter((a: any) => a.endpoint !== '/v1/audit/citizens')
    await eventually(async () => {
      const r = await call('portal', 'GET', path(0))
      expect(r.status).toBe(200)
      expect(answers(r).map((a) => a.endpoint)).toEqual(['/v1/verify/batch', '/v1/verify'])
      expect(answers(r)[1]).toMatchObject({ party: { id: 'bank', name: 'bank display' }, attributes: ['fullName', 'dateOfBirth'], results: { match: true } })
      expect(r.body.next).toBeNull()
    })
    // The looks themselves are part of the history.
    await eventually(async () => {
      const again = await call('auditor', 'GET', path(0))
      expect(again.body.accesses[0]).toMatchObject({ endpoint: '/v1/audit/citizens', results: { allowed: true } })
      expect(again.body.accesses.find((a: any) => a.party?.id === 'portal')).toMatchObject({ endpoint: '/v1/audit/citizens' })
    })
  })

  it('pages with a cursor', async () => {
    const answers = (list: any[]): any[] => list.filter((a) => a.endpoint !== '/v1/audit/citizens')
    const all = (await call('auditor', 'GET', path(0, '?limit=200'))).body.accesses as any[]
    const seen: any[] = []
    let pages = 0
    let q = '?limit=1'
    for (let i = 0; i < 200; i++) {
      const r = await call('auditor', 'GET', path(0, q))
      expect(r.status).toBe(200)
      pages++
      seen.push(...r.body.accesses)
      if (r.body.next === null) break
      q = `?limit=1&cursor=${r.body.next as string}`
    }
    // Page by page, the same answers as in one page (looks made while paging are newer than the cursor).
    expect(pages).toBeGreaterThan(2)
    expect(answers(seen)).toEqual(answers(all))
  })

  it('refuses a relying party (403), and records the refused look', async () => {
    const r = await call('bank', 'GET', path(0))
    expect(r.status).toBe(403)
    expect(r.type).toBe('application/problem+json')
    expect(r.body.code).toBe('IDV_ERR_ROLE_FORBIDDEN')
    await eventually(async () => {
      const seen = await call('auditor', 'GET', path(0))
      expect(seen.body.accesses.find((a: any) => a.party?.id === 'bank' && a.endpoint === '/v1/audit/citizens')).toMatchObject({ results: { allowed: false, error: 'IDV_ERR_ROLE_FORBIDDEN' } })
    })
  })

  it('refuses a disabled party, an unsigned caller and a bad PIN', async () => {
    expect((await call('gone', 'GET', path(0))).body.code).toBe('IDV_ERR_PARTY_DISABLED')
    const unsigned = await call(undefined, 'GET', path(0))
    expect(unsigned.status).toBe(401)
    expect(unsigned.body.code).toBe('IDV_ERR_SIGNATURE_MISSING')
    expect((await call('portal', 'GET', '/v1/audit/citizens/123/accesses')).body.code).toBe('IDV_ERR_INVALID_PIN')
    expect((await call('portal', 'GET', path(0, '?limit=0'))).status).toBe(400)
    expect((await call('portal', 'GET', path(0, '?cursor=nonsense'))).status).toBe(400)
  })
})

describe('a party\'s usage', () => {
  const day = new Date().toISOString().slice(0, 10)

  it('shows a party its own counts by day', async () => {
    await eventually(async () => {
      const r = await call('bank', 'GET', `/v1/audit/party/usage?from=${day}&to=${day}`)
      expect(r.status).toBe(200)
      // 1 single + 3 batch items + 1 refused history look
      expect(r.body).toMatchObject({ party: 'bank', requests: 5, noMatch: 1, days: [{ day, requests: 5, noMatch: 1 }] })
    })
  })

  it('refuses another party\'s usage unless the caller is an auditor', async () => {
    const r = await call('bank', 'GET', `/v1/audit/party/usage?from=${day}&to=${day}&party=portal`)
    expect(r.status).toBe(403)
    expect(r.body.code).toBe('IDV_ERR_ROLE_FORBIDDEN')
    const a = await call('auditor', 'GET', `/v1/audit/party/usage?from=${day}&to=${day}&party=bank`)
    expect(a.status).toBe(200)
    expect(a.body.requests).toBeGreaterThanOrEqual(5)
    expect((await call('bank', 'GET', '/v1/audit/party/usage?from=2026-13&to=x')).status).toBe(400)
  })
})

describe('checkpoints and proofs', () => {
  it('publishes signed checkpoints whose proofs verify', async () => {
    await new Promise((resolve) => setTimeout(resolve, 150))
    const key = parseVerifierKey((await call(undefined, 'GET', '/v1/audit/key')).text)
    const first = await call(undefined, 'GET', '/v1/audit/checkpoint')
    expect(first.type).toBe('text/plain; charset=utf-8')
    const a = openCheckpoint(first.text, key, 'idv.audit/test')
    expect(a.ok).toBe(true)
    const cpA = a.ok ? a.checkpoint : undefined
    await call('bank', 'POST', '/v1/verify', ask(2))
    await new Promise((resolve) => setTimeout(resolve, 150))
    const b = openCheckpoint((await call(undefined, 'GET', '/v1/audit/checkpoint')).text, key)
    const cpB = b.ok ? b.checkpoint : undefined
    expect(cpB!.size).toBeGreaterThan(cpA!.size)
    const inc = await call(undefined, 'GET', `/v1/audit/proof/inclusion?index=0&size=${cpB!.size}`)
    expect(verifyInclusion(Buffer.from(inc.body.leafHash, 'base64'), 0, cpB!.size, inc.body.path.map((h: string) => Buffer.from(h, 'base64')), cpB!.root)).toBe(true)
    const con = await call(undefined, 'GET', `/v1/audit/proof/consistency?first=${cpA!.size}&second=${cpB!.size}`)
    expect(verifyConsistency(cpA!.size, cpB!.size, con.body.path.map((h: string) => Buffer.from(h, 'base64')), cpA!.root, cpB!.root)).toBe(true)
    expect((await call(undefined, 'GET', `/v1/audit/proof/inclusion?index=${cpB!.size}&size=${cpB!.size}`)).body.code).toBe('IDV_ERR_AUDIT_NOT_KEPT')
    expect((await call(undefined, 'GET', '/v1/audit/proof/consistency?first=x&second=2')).status).toBe(400)
  })
})
