/**
 * POST /v1/chip/verify end to end: a real server, a real Piscina crypto pool,
 * a test PKI (CSCA + Document Signers) and chips for citizens in the register.
 */
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { tempDir } from '../helpers/temp.js'
import fc from 'fast-check'
import { Packr, Unpackr } from 'msgpackr'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { CitizenRecord } from '../../src/domain/citizen.js'
import { AN, DUONG, createTestPki, makeChip, type KeyAlg, type TestChip, type TestCitizen, type TestPki } from 'chip-test-pki'
import { startTestServer, type TestServer } from '../helpers/server.js'

const toRecord = (c: TestCitizen, status: CitizenRecord['status'] = 'active'): CitizenRecord => ({
  pin: c.pin, fullName: c.fullName, dateOfBirth: c.dateOfBirth, gender: c.gender, status,
  ...(c.expiry !== null ? { cardExpiryDate: c.expiry, cardIssueDate: '2024-01-01' } : {})
})
// Registered under AN's PIN with another name; DUONG's PIN is absent (unknown) in the second server.
const KHOA: TestCitizen = { ...AN, pin: '001099054321', fullName: 'Nguyễn Văn Khoa' }
const DECEASED: TestCitizen = { ...AN, pin: '001099011111', fullName: 'Nguyễn Văn Bảy' }

let pki: TestPki
let s: TestServer
beforeAll(async () => {
  pki = createTestPki()
  s = await startTestServer({
    citizens: 100,
    extra: [toRecord(AN), toRecord(DUONG), { ...toRecord(KHOA), fullName: 'Nguyễn Văn Khoá Khác' }, toRecord(DECEASED, 'deceased')],
    config: { cscaDir: pki.trustDir, cryptoThreads: 2 }
  })
}, 60_000)
afterAll(async () => { await s.close() })

function jsonBody (chip: TestChip): string {
  const dataGroups: Record<string, string> = {}
  for (const [n, b] of chip.dataGroups) dataGroups[String(n)] = Buffer.from(b).toString('base64')
  return JSON.stringify({ sod: Buffer.from(chip.sod).toString('base64'), dataGroups })
}

async function verifyChip (body: string | Uint8Array, type = 'application/json', url = s.url): Promise<{ status: number, body: any }> {
  const res = await fetch(`${url}/v1/chip/verify`, { method: 'POST', headers: { 'content-type': type }, body })
  const raw = Buffer.from(await res.arrayBuffer())
  const ct = res.headers.get('content-type') ?? ''
  return { status: res.status, body: ct.includes('msgpack') ? new Unpackr({ useRecords: false }).unpack(raw) : JSON.parse(raw.toString()) }
}

describe('POST /v1/chip/verify', () => {
  it.each(['rsa', 'rsa-pss', 'ecdsa'] as KeyAlg[])('accepts a genuine %s chip and matches the register with DG13 diacritics', async (alg) => {
    const r = await verifyChip(jsonBody(makeChip({ citizen: AN, ds: pki.ds[alg] })))
    expect(r.status).toBe(200)
    expect(r.body.valid).toBe(true)
    expect(r.body.checks.every((c: { ok: boolean }) => c.ok)).toBe(true)
    expect(r.body.registry).toEqual({ match: true, citizen: 'active', attributes: { fullName: 'match', dateOfBirth: 'match', gender: 'match', cardExpiryDate: 'match' } })
    expect(r.body.match).toBe(true)
    expect(JSON.stringify(r.body)).not.toContain(AN.pin)
  })

  it('without DG13 the name can at best match without diacritics', async () => {
    const r = await verifyChip(jsonBody(makeChip({ citizen: DUONG, ds: pki.ds.ecdsa, dataGroups: [1, 2] })))
    expect(r.body.valid).toBe(true)
    expect(r.body.registry.attributes.fullName).toBe('match_without_diacritics')
    expect(r.body.match).toBe(false)
  })

  it('reports a tampered data group and answers no registry match', async () => {
    for (const dg of [1, 2, 13]) {
      const r = await verifyChip(jsonBody(makeChip({ citizen: AN, ds: pki.ds.ecdsa, tamperDg: dg })))
      expect(r.status).toBe(200)
      expect(r.body).toMatchObject({ valid: false, reason: 'DG_HASH_MISMATCH', registry: null, match: false })
    }
  })

  it('reports an untrusted Document Signer and a bad signature', async () => {
    expect((await verifyChip(jsonBody(makeChip({ citizen: AN, ds: pki.rogueDs })))).body.reason).toBe('DS_NOT_TRUSTED')
    expect((await verifyChip(jsonBody(makeChip({ citizen: AN, ds: pki.ds.rsa, tamperSignature: true })))).body.reason).toBe('SOD_SIGNATURE_INVALID')
  })

  it('matches a genuine chip against unknown, inactive and differently named citizens', async () => {
    const unknown = { ...AN, pin: '001099099999' }
    expect((await verifyChip(jsonBody(makeChip({ citizen: unknown, ds: pki.ds.ecdsa })))).body.registry.citizen).toBe('unknown')
    const dead = (await verifyChip(jsonBody(makeChip({ citizen: DECEASED, ds: pki.ds.ecdsa })))).body
    expect(dead).toMatchObject({ valid: true, match: false, registry: { citizen: 'inactive' } })
    const other = (await verifyChip(jsonBody(makeChip({ citizen: KHOA, ds: pki.ds.ecdsa })))).body
    expect(other).toMatchObject({ valid: true, match: false, registry: { citizen: 'active', attributes: { fullName: 'mismatch' } } })
  })

  it('takes raw bytes in MessagePack and answers in MessagePack', async () => {
    const chip = makeChip({ citizen: AN, ds: pki.ds.ecdsa })
    const body = new Packr({ useRecords: false }).pack({ sod: Buffer.from(chip.sod), dataGroups: Object.fromEntries([...chip.dataGroups].map(([n, b]) => [String(n), Buffer.from(b)])) })
    const r = await verifyChip(body, 'application/vnd.msgpack')
    expect(r.body).toMatchObject({ valid: true, match: true })
  })

  it('refuses malformed requests with problems, not 500s', async () => {
    const cases = ['{}', '{"sod":"!!!","dataGroups":{"1":"AAAA"}}', '{"sod":"AAAA","dataGroups":{"99":"AAAA"}}', '{"sod":"AAAA","dataGroups":{"2":"AAAA"}}', '[]']
    for (const body of cases) {
      const r = await verifyChip(body)
      expect(r.status, body).toBe(400)
      expect(r.body.code).toBe('IDV_ERR_INVALID_FIELD')
    }
  })

  it('answers 300 randomly mutated chips with invalid verdicts, never a 500', async () => {
    const chip = makeChip({ citizen: AN, ds: pki.ds.ecdsa })
    const dg1 = Buffer.from(chip.dataGroups.get(1)!).toString('base64')
    // A third of the SODs cut short, the others with 1 to 4 bytes overwritten (positions modulo the length).
    const mutation = fc.oneof(
      { weight: 1, arbitrary: fc.record({ cut: fc.nat() }) },
      { weight: 2, arbitrary: fc.record({ set: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }) }) }
    )
    let runs = 0
    let cuts = 0
    let refused = 0
    await fc.assert(fc.asyncProperty(mutation, async (m) => {
      runs++
      const sod = Buffer.from(chip.sod)
      let a
      if ('cut' in m) {
        cuts++
        const cut = sod.subarray(0, m.cut % sod.length)
        a = await verifyChip(JSON.stringify({ sod: cut.toString('base64') || 'AAAA', dataGroups: { 1: dg1 } }))
      } else {
        for (const [at, value] of m.set) sod[at % sod.length] = value
        a = await verifyChip(JSON.stringify({ sod: sod.toString('base64'), dataGroups: { 1: dg1 } }))
      }
      expect(a.status).toBe(200)
      if (a.body.valid === false) {
        expect(typeof a.body.reason).toBe('string')
        refused++
      }
    }), { numRuns: 300 })
    // fast-check also runs shrinking steps on a failure; on success `runs` is numRuns.
    expect(runs).toBe(300)
    // Both kinds generated, and (nearly) every mutated chip refused: an overwrite may leave a byte as it was.
    expect(cuts, `${cuts} of ${runs} SODs cut short`).toBeGreaterThanOrEqual(50)
    expect(runs - cuts, `${runs - cuts} of ${runs} SODs overwritten`).toBeGreaterThanOrEqual(100)
    expect(refused, `${refused} of ${runs} mutated chips refused`).toBeGreaterThanOrEqual(296)
    expect(runs - refused).toBeLessThan(5)
  })

  it('picks up a new CSCA dropped into the trust directory without a restart', async () => {
    const dir = tempDir('idv-trust')
    mkdirSync(dir, { recursive: true })
    const second = await startTestServer({ citizens: 10, extra: [toRecord(AN)], config: { cscaDir: dir, cryptoThreads: 1 } })
    try {
      const body = jsonBody(makeChip({ citizen: AN, ds: pki.ds.ecdsa }))
      // An empty trust directory fails closed, as a configuration problem.
      const before = await verifyChip(body, 'application/json', second.url)
      expect(before.status).toBe(503)
      expect(before.body.code).toBe('IDV_ERR_CHIP_NOT_CONFIGURED')
      copyFileSync(join(pki.trustDir, 'csca.pem'), join(dir, 'csca.pem'))
      let valid = false
      for (let i = 0; i < 50 && !valid; i++) {
        await new Promise((resolve) => setTimeout(resolve, 100))
        valid = (await verifyChip(body, 'application/json', second.url)).body.valid === true
      }
      expect(valid).toBe(true)
    } finally {
      await second.close()
    }
  })
})

describe('without a trust store', () => {
  it('answers 503 with a code that tells the operator what to set', async () => {
    const plain = await startTestServer({ citizens: 10 })
    try {
      const r = await verifyChip('{}', 'application/json', plain.url)
      expect(r.status).toBe(503)
      expect(r.body.code).toBe('IDV_ERR_CHIP_NOT_CONFIGURED')
    } finally {
      await plain.close()
    }
  })
})

describe('a chip from the openssl corpus (test/fixtures/chip-corpus)', () => {
  it('20-byte DS serial: valid and matched; the revoked DS on the openssl CRL: DS_REVOKED', async () => {
    const corpus = join(import.meta.dirname, '..', 'fixtures', 'chip-corpus')
    const file = (path: string): string => readFileSync(join(corpus, path)).toString('base64')
    const body = (sod: string, citizen: string): string => JSON.stringify({ sod: file(`sod/${sod}.der`), dataGroups: { 1: file(`dg/${citizen}-dg1.der`), 13: file(`dg/${citizen}-dg13.der`) } })
    const thang: TestCitizen = { pin: '079203009876', fullName: 'Phạm Đức Thắng', dateOfBirth: '2003-02-08', gender: 'male', expiry: '2028-02-08' }
    const server = await startTestServer({
      citizens: 10,
      extra: [toRecord(thang)],
      config: { cscaDir: join(corpus, 'trust', 'main'), crlFile: join(corpus, 'crl', 'csca-old.crl'), cryptoThreads: 1 }
    })
    try {
      const genuine = await verifyChip(body('serial-20-lz', 'thang'), 'application/json', server.url)
      expect(genuine.status).toBe(200)
      expect(genuine.body).toMatchObject({ valid: true, match: true, signatureAlgorithm: 'ecdsa-with-SHA256' })
      const revoked = await verifyChip(body('revoked', 'an'), 'application/json', server.url)
      expect(revoked.body).toMatchObject({ valid: false, match: false, reason: 'DS_REVOKED' })
    } finally {
      await server.close()
    }
  })
})
