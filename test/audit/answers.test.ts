/**
 * The answers of the routes that came after the audit log are in it too,
 * through the real signed service: a card QR verification (one entry before
 * its answer, with its receipt's leaf hash), every row of a stream (one entry
 * per row, item = row number, written before the row is sent) and every row
 * of a job (one entry per row, with its segment receipt's leaf hash, written
 * before the row is appended to the results). A citizen's history shows each.
 */
import { createHash, generateKeyPairSync } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { CitizenRecord } from '../../src/domain/citizen.js'
import { partyAdd } from '../../src/parties/party-cli.js'
import { ReceiptKeyRing } from '../../src/receipts/keys.js'
import { signRequest, type SigningKey } from '../../src/signatures/request-signer.js'
import { startTestServer, type TestServer } from '../helpers/server.js'
import { tempDir } from '../helpers/temp.js'
import { segmentEntries } from './segment-entries.js'

const ATTRS = ['fullName', 'dateOfBirth', 'gender', 'placeOfOrigin', 'placeOfResidence', 'cardIssueDate', 'cardExpiryDate']
const dir = tempDir('idv-audit-answers')
const partiesFile = join(dir, 'parties.yaml')
const keys: Record<string, SigningKey> = {}
let server: TestServer

function addParty (id: string, roles?: string[]): void {
  const pair = generateKeyPairSync('ed25519')
  const pub = join(dir, `${id}.pem`)
  writeFileSync(pub, pair.publicKey.export({ type: 'spki', format: 'pem' }))
  keys[id] = { keyId: `${id}-k1`, algorithm: 'ed25519', key: pair.privateKey }
  partyAdd({ file: partiesFile, id, name: `${id} display`, attributes: ATTRS, rate: 1_000_000, burst: 1_000_000, publicKey: pub, keyId: `${id}-k1`, roles })
}

/** `headOnly`: the signature covers the request's head, not its body (a stream's: see src/jobs/stream-route.ts). */
async function signedFetch (party: string, method: string, path: string, headers: Record<string, string> = {}, body?: Uint8Array, headOnly = false): Promise<Response> {
  const signed = signRequest({ method, path, authority: new URL(server.url).host, scheme: 'http', headers, body: headOnly || body === undefined ? new Uint8Array(0) : body }, keys[party]!)
  return await fetch(`${server.url}${path}`, { method, headers: signed, ...(body !== undefined ? { body } : {}) })
}

const logDir = (): string => join(server.config.auditDir, 'test')
const leafHash = (leaf: string): string => createHash('sha256').update(Buffer.from([0])).update(leaf).digest('base64url')
const dmy = (iso: string): string => `${iso.slice(8, 10)}${iso.slice(5, 7)}${iso.slice(0, 4)}`

/** The citizen index is written by the log's index thread a moment after the entry: retries an assertion until it holds (5 s at most). */
async function eventually (check: () => Promise<void>): Promise<void> {
  const deadline = Date.now() + 5000
  for (;;) {
    try {
      await check()
      return
    } catch (err) {
      if (Date.now() > deadline) throw err
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  }
}

/** A citizen's history as a citizen portal sees it: the answers, not the looks. */
async function history (c: CitizenRecord): Promise<any[]> {
  const r = await signedFetch('portal', 'GET', `/v1/audit/citizens/${c.pin}/accesses?limit=100`)
  expect(r.status).toBe(200)
  return ((await r.json()) as { accesses: any[] }).accesses.filter((a) => a.endpoint !== '/v1/audit/citizens')
}

beforeAll(async () => {
  addParty('telco')
  addParty('portal', ['citizen-portal'])
  const receiptKeyFile = join(dir, 'receipt-keys.json')
  ReceiptKeyRing.loadOrCreate(receiptKeyFile)
  server = await startTestServer({ citizens: 500, config: { auth: 'signatures', partiesFile, receiptKeyFile, auditCheckpointMs: 50, receiptRows: 100 } })
})

afterAll(async () => { await server?.close() })

const withCard = (): CitizenRecord[] => server.citizens.filter((c) => c.status === 'active' && c.cardIssueDate !== undefined && c.placeOfResidence !== undefined)

describe('POST /v1/card/qr/verify', () => {
  it('records the answer, with its receipt\'s leaf hash and without the QR\'s personal data, and the citizen\'s history shows it', async () => {
    const c = withCard()[0]!
    const qr = `${c.pin}|012345678|${c.fullName}|${dmy(c.dateOfBirth)}|${c.gender === 'male' ? 'Nam' : 'Nữ'}|${c.placeOfResidence!}|${dmy(c.cardIssueDate!)}`
    const res = await signedFetch('telco', 'POST', '/v1/card/qr/verify', { 'content-type': 'application/json' }, Buffer.from(JSON.stringify({ qr })))
    expect(res.status).toBe(200)
    const body = await res.json() as any
    expect(body).toMatchObject({ match: true, notChecked: { oldIdNumber: 'not_held' } })
    const entries = segmentEntries(logDir()).filter((e) => e.requestId === body.requestId)
    expect(entries).toHaveLength(1)
    expect(entries[0]).toMatchObject({
      node: 'test',
      partyId: 'telco',
      endpoint: '/v1/card/qr/verify',
      attributes: ['fullName', 'dateOfBirth', 'gender', 'placeOfResidence', 'cardIssueDate'],
      results: { match: true, citizen: 'active', attributes: { fullName: 'match', dateOfBirth: 'match' }, notChecked: { oldIdNumber: 'not_held' } },
      receiptLeafHash: leafHash(body.receipt.leaf)
    })
    expect(entries[0]!.pinHash).toMatch(/^[A-Za-z0-9_-]{22}$/)
    expect(entries[0]!.item).toBeUndefined()
    const text = JSON.stringify(entries)
    for (const secret of [c.pin, c.fullName, c.placeOfResidence!, '012345678']) expect(text).not.toContain(secret)
    await eventually(async () => {
      expect((await history(c))[0]).toMatchObject({ endpoint: '/v1/card/qr/verify', party: { id: 'telco', name: 'telco display' }, results: { match: true } })
    })
  })

  it('records nothing for a QR string that is refused', async () => {
    const before = segmentEntries(logDir()).length
    const res = await signedFetch('telco', 'POST', '/v1/card/qr/verify', { 'content-type': 'application/json' }, Buffer.from(JSON.stringify({ qr: 'not a card' })))
    expect(res.status).toBe(400)
    expect(segmentEntries(logDir()).length).toBe(before)
  })
})

/** N rows about the active citizens in turn (every 7th with a wrong birth date), plus one row without a valid PIN. */
function rows (n: number): { text: string, about: CitizenRecord[] } {
  const cs = server.citizens.filter((c) => c.status === 'active')
  const about: CitizenRecord[] = []
  let text = ''
  for (let i = 0; i < n - 1; i++) {
    const c = cs[i % cs.length]!
    about.push(c)
    text += `${JSON.stringify({ ref: i, pin: c.pin, attributes: { fullName: c.fullName, dateOfBirth: i % 7 === 0 ? '1900-01-01' : c.dateOfBirth } })}\n`
  }
  text += `${JSON.stringify({ ref: n - 1, pin: 'not-a-pin', attributes: { gender: 'male' } })}\n`
  return { text, about }
}

describe('POST /v1/verify/stream', () => {
  it('records every row (item = its row number) before sending it; the citizen\'s history shows a stream row', async () => {
    const N = 1234
    const { text, about } = rows(N)
    const res = await signedFetch('telco', 'POST', '/v1/verify/stream?from=10', { 'content-type': 'application/x-ndjson' }, Buffer.from(text), true)
    expect(res.status).toBe(200)
    const requestId = res.headers.get('x-request-id')!
    const records = (await res.text()).trim().split('\n').map((l) => JSON.parse(l) as any)
    const answers = records.filter((r) => 'ref' in r)
    expect(answers).toHaveLength(N)
    expect(records.at(-1)).toEqual({ end: { rows: N, matches: expect.any(Number), errors: 1 } })
    // Every receipt record comes after every row it signs for.
    records.forEach((r, at) => {
      if (!('receipt' in r)) return
      const { firstRow, rows: count } = JSON.parse(r.receipt.leaf).results
      expect(records.slice(0, at).filter((x) => 'ref' in x).length).toBeGreaterThanOrEqual(firstRow - 10 + count)
    })
    const entries = segmentEntries(logDir()).filter((e) => e.requestId === requestId)
    expect(entries).toHaveLength(N)
    expect(entries.map((e) => e.item)).toEqual(Array.from({ length: N }, (_, i) => 10 + i))
    expect(new Set(entries.map((e) => e.endpoint))).toEqual(new Set(['/v1/verify/stream']))
    entries.forEach((e, i) => {
      if (i === N - 1) { expect(e).toMatchObject({ pinHash: null, attributes: [], results: { error: 'IDV_ERR_INVALID_PIN' } }); return }
      expect(e).toMatchObject({ partyId: 'telco', attributes: ['fullName', 'dateOfBirth'], results: { match: answers[i].match, citizen: 'active' } })
      expect(e.receiptLeafHash).toBeUndefined()
    })
    expect(JSON.stringify(entries)).not.toContain(about[1]!.pin)
    // The citizen of row 1 is asked about in every row that cycles back to them: each is in their history.
    const times = about.filter((c) => c.pin === about[1]!.pin).length
    await eventually(async () => {
      const seen = (await history(about[1]!)).filter((a) => a.endpoint === '/v1/verify/stream')
      expect(seen).toHaveLength(times)
      for (const a of seen) expect(a).toMatchObject({ party: { id: 'telco' }, attributes: ['fullName', 'dateOfBirth'], results: { citizen: 'active' } })
    })
  }, 30_000)
})

describe('/v1/jobs', () => {
  it('records every row, with its segment receipt\'s leaf hash, before it is in the results; the citizen\'s history shows a job row', async () => {
    const N = 345
    const { text, about } = rows(N)
    const created = await signedFetch('telco', 'POST', '/v1/jobs', { 'content-type': 'application/json', 'idempotency-key': 'audit-1' }, Buffer.from('{"format":"ndjson"}'))
    expect(created.status).toBe(201)
    const id = ((await created.json()) as { id: string }).id
    const put = await signedFetch('telco', 'PUT', `/v1/jobs/${id}/input`, { 'content-type': 'application/x-ndjson', 'upload-offset': '0', 'upload-complete': '?1' }, Buffer.from(text))
    expect(put.status).toBe(200)
    await eventually(async () => {
      expect(((await (await signedFetch('telco', 'GET', `/v1/jobs/${id}`)).json()) as any).state).toBe('done')
    })
    const results = (await (await signedFetch('telco', 'GET', `/v1/jobs/${id}/results`)).text()).trim().split('\n').map((l) => JSON.parse(l) as any)
    const receipts = (await (await signedFetch('telco', 'GET', `/v1/jobs/${id}/receipts`)).text()).trim().split('\n').map((l) => (JSON.parse(l) as any).receipt)
    expect(results).toHaveLength(N)
    expect(receipts.map((r) => JSON.parse(r.leaf).results.rows)).toEqual([100, 100, 100, 45])
    const entries = segmentEntries(logDir()).filter((e) => e.requestId === `job/${id}`)
    expect(entries).toHaveLength(N)
    expect(entries.map((e) => e.item)).toEqual(Array.from({ length: N }, (_, i) => i))
    entries.forEach((e, i) => {
      expect(e).toMatchObject({ endpoint: '/v1/jobs', partyId: 'telco', receiptLeafHash: leafHash(receipts[Math.floor(i / 100)].leaf) })
      if (i < N - 1) expect(e.results.match).toBe(results[i].match)
    })
    await eventually(async () => {
      const seen = (await history(about[2]!)).filter((a) => a.endpoint === '/v1/jobs')
      expect(seen).toHaveLength(about.filter((c) => c.pin === about[2]!.pin).length)
      expect(seen[0]).toMatchObject({ party: { id: 'telco' }, attributes: ['fullName', 'dateOfBirth'], results: { citizen: 'active' } })
    })
  }, 30_000)
})
