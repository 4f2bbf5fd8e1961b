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

async function signedFetch (party: string, method: string, path: string, headers: Record<string, string> = {}, body?: Uint8Array): Promise<Response> {
  const signed = signRequest({ method, path, authority: new URL(server.url).host, scheme: 'http', headers, body: body ?? new Uint8Array(0) }, keys[party]!)
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
