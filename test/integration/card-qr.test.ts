/**
 * POST /v1/card/qr/verify against a real server and LMDB index (issue 25):
 * QR strings as card generations and scanners give them, verified against a
 * loaded population; malformed strings get 400 problems naming the field; a
 * signed party's policy (allowed attributes, exact addresses, overall-only)
 * shapes the answer; /v1/verify answers old-form addresses the same way.
 */
import { generateKeyPairSync } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { CitizenRecord } from '../../src/domain/citizen.js'
import { ATTRIBUTES } from '../../src/domain/record.js'
import { partyAdd } from '../../src/parties/party-cli.js'
import { signRequest, type SigningKey } from '../../src/signatures/request-signer.js'
import { generatePeople } from '../../src/population/generate.js'
import { postJson, startTestServer, type TestServer } from '../helpers/server.js'
import { tempDir } from '../helpers/temp.js'

/** Registered in the 2025 units; her card (issued 2021) carries the address before 1 July 2025. */
const LAN: CitizenRecord = {
  pin: '001199012345',
  fullName: 'Nguyễn Thị Lan',
  dateOfBirth: '1999-05-17',
  gender: 'female',
  placeOfOrigin: 'Xã Phù Đổng, Thành phố Hà Nội',
  placeOfResidence: 'Số 12, Ngõ 5, Phường Giảng Võ, Thành phố Hà Nội',
  cardIssueDate: '2021-07-01',
  cardExpiryDate: '2024-05-17',
  status: 'active'
}
const CARD_ADDRESS = 'Số 12, Ngõ 5, Phường Kim Mã, Quận Ba Đình, Thành phố Hà Nội'

let s: TestServer
beforeAll(async () => { s = await startTestServer({ citizens: 200, extra: [LAN] }) }, 60_000)
afterAll(async () => { await s.close() })

const qrVerify = async (qr: unknown): Promise<{ status: number, body: any, headers: Headers }> => await postJson(`${s.url}/v1/card/qr/verify`, { qr })

describe('QR strings as cards and scanners give them', () => {
  const ALL_MATCH = { fullName: 'match', dateOfBirth: 'match', gender: 'match', placeOfResidence: 'match_reorganised', cardIssueDate: 'match' }
  it.each([
    ['2021 CCCD with the old CMND', `001199012345|012345678|Nguyễn Thị Lan|17051999|Nữ|${CARD_ADDRESS}|01072021`, true],
    ['no CMND: empty field', `001199012345||Nguyễn Thị Lan|17051999|Nữ|${CARD_ADDRESS}|01072021`, false],
    ['no CMND: a reader that drops the empty field', `001199012345|Nguyễn Thị Lan|17051999|Nữ|${CARD_ADDRESS}|01072021`, false],
    ['trailing separators', `001199012345||Nguyễn Thị Lan|17051999|Nữ|${CARD_ADDRESS}|01072021||`, false],
    ['trailing fields of a newer card', `001199012345||Nguyễn Thị Lan|17051999|Nữ|${CARD_ADDRESS}|01072021|Nguyễn Văn Hùng|Trần Thị Mai|`, false],
    ['keyboard-wedge scanner: BOM, spaces, CRLF', `\uFEFF 001199012345 | 012345678 | Nguyễn Thị Lan | 17/05/1999 | NỮ | ${CARD_ADDRESS} | 01/07/2021\r\n`, true],
    ['decomposed Unicode, ASCII gender', `001199012345||${'Nguyễn Thị Lan'.normalize('NFD')}|17051999|Nu|${CARD_ADDRESS.normalize('NFD')}|01072021`, false],
    ['12-digit old number', `001199012345|001199012345|Nguyễn Thị Lan|1999-05-17|Nữ|${CARD_ADDRESS}|01072021`, true]
  ])('%s', async (_, qr, hasOldId) => {
    const r = await qrVerify(qr)
    expect(r.status).toBe(200)
    expect(r.body).toMatchObject({ match: true, citizen: 'active', attributes: ALL_MATCH })
    expect(r.body.notChecked).toEqual(hasOldId ? { oldIdNumber: 'not_held' } : {})
  })

  it('the new form of the address is an exact match; without the issue date it is not asked', async () => {
    const r = await qrVerify(`001199012345||Nguyễn Thị Lan|17051999|Nữ|${LAN.placeOfResidence!}|`)
    expect(r.body.attributes).toEqual({ fullName: 'match', dateOfBirth: 'match', gender: 'match', placeOfResidence: 'match' })
  })

  it('wrong fields are mismatches, an unknown PIN is unknown', async () => {
    const r = await qrVerify(`001199012345||Nguyễn Thị Lan|18051999|Nữ|Số 12, Ngõ 5, Phường Láng, Thành phố Hà Nội|01072021`)
    expect(r.body).toMatchObject({ match: false, attributes: { dateOfBirth: 'mismatch', placeOfResidence: 'mismatch', fullName: 'match' } })
    const unknown = await qrVerify(`001199999999||Nguyễn Thị Lan|17051999|Nữ|${CARD_ADDRESS}|01072021`)
    expect(unknown.body).toMatchObject({ match: false, citizen: 'unknown' })
  })

  it('generated citizens, their card QR with the old address', async () => {
    let checked = 0
    for (const { citizen: c, places } of generatePeople(200, 42)) {
      if (c.cardIssueDate === undefined || c.status !== 'active' || c.placeOfResidence !== places.placeOfResidence.new) continue
      const dmy = (iso: string): string => `${iso.slice(8, 10)}${iso.slice(5, 7)}${iso.slice(0, 4)}`
      const r = await qrVerify(`${c.pin}||${c.fullName}|${dmy(c.dateOfBirth)}|${c.gender === 'male' ? 'Nam' : 'Nữ'}|${places.placeOfResidence.old}|${dmy(c.cardIssueDate)}`)
      expect(r.body, JSON.stringify(places.placeOfResidence)).toMatchObject({ match: true, attributes: { placeOfResidence: 'match_reorganised' } })
      if (++checked === 20) break
    }
    expect(checked).toBe(20)
  })
})

describe('not a card QR: 400 naming the field', () => {
  it.each([
    ['not a string', 42, /qr must be a string/],
    ['empty', '', /1 to 2048 characters/],
    ['10 KB', 'x'.repeat(10_000), /1 to 2048 characters/],
    ['no separators', 'https://example.com/not-a-card', /1 field separated by '\|'/],
    ['bad PIN', `00119901234X||Nguyễn Thị Lan|17051999|Nữ|${CARD_ADDRESS}|01072021`, /field 1 \(personal identification number\)/],
    ['unknown province code', `999199012345||Nguyễn Thị Lan|17051999|Nữ|${CARD_ADDRESS}|01072021`, /field 1/],
    ['old ID of 7 digits', `001199012345|1234567|Nguyễn Thị Lan|17051999|Nữ|${CARD_ADDRESS}|01072021`, /field 2 \(old ID number\)/],
    ['birth date 31 February', `001199012345||Nguyễn Thị Lan|31021999|Nữ|${CARD_ADDRESS}|01072021`, /field 4 \(birth date\)/],
    ['gender', `001199012345||Nguyễn Thị Lan|17051999|X|${CARD_ADDRESS}|01072021`, /field 5 \(gender\)/],
    ['address with control characters', `001199012345||Nguyễn Thị Lan|17051999|Nữ|Phường\u0000Kim Mã|01072021`, /field 6 \(address\) must not contain control characters/],
    ['address over 500 characters', `001199012345||Nguyễn Thị Lan|17051999|Nữ|${'Phường Kim Mã, '.repeat(40)}|01072021`, /field 6 \(address\) must be 1 to 500/],
    ['issue date', `001199012345||Nguyễn Thị Lan|17051999|Nữ|${CARD_ADDRESS}|2021`, /field 7 \(issue date\)/],
    ['too few fields', '001199012345||Nguyễn Thị Lan|17051999', /4 fields/]
  ])('%s', async (_, qr, detail) => {
    const r = await qrVerify(qr)
    expect(r.status).toBe(400)
    expect(r.headers.get('content-type')).toBe('application/problem+json')
    expect(r.body.code).toBe('IDV_ERR_INVALID_QR')
    expect(r.body.detail).toMatch(detail)
  })

  it('a body other than {"qr"} is an invalid field', async () => {
    const r = await postJson(`${s.url}/v1/card/qr/verify`, { qr: 'x', pin: '001199012345' })
    expect(r.status).toBe(400)
    expect(r.body.code).toBe('IDV_ERR_INVALID_FIELD')
  })
})

describe('/v1/verify with addresses of both forms', () => {
  it('old form: match_reorganised and an overall match; another ward: mismatch', async () => {
    const ok = await postJson(`${s.url}/v1/verify`, { pin: LAN.pin, attributes: { placeOfResidence: CARD_ADDRESS, placeOfOrigin: 'Xã Cổ Bi, Huyện Gia Lâm, Hà Nội' } })
    expect(ok.body).toMatchObject({ match: true, attributes: { placeOfResidence: 'match_reorganised', placeOfOrigin: 'match_reorganised' } })
    const no = await postJson(`${s.url}/v1/verify`, { pin: LAN.pin, attributes: { placeOfResidence: 'Số 12, Ngõ 5, Phường Hàng Bạc, Quận Hoàn Kiếm, Thành phố Hà Nội' } })
    expect(no.body).toMatchObject({ match: false, attributes: { placeOfResidence: 'mismatch' } })
  })

  it('hostile addresses: a 400 or a mismatch', async () => {
    for (const hostile of ['Phường Kim Mã, '.repeat(700), 'Phường Kim Mã\u0007, Hà Nội', 'Рhường Кim Mã, Quận Ba Đình, Hà Nội']) {
      const r = await postJson(`${s.url}/v1/verify`, { pin: LAN.pin, attributes: { placeOfResidence: hostile } })
      if (r.status === 400) expect(r.body.code).toBe('IDV_ERR_INVALID_FIELD')
      else expect(r.body.attributes.placeOfResidence).toBe('mismatch')
    }
  })
})

describe('a signed party\'s policy', () => {
  let signed: TestServer
  const keys = new Map<string, SigningKey>()
  beforeAll(async () => {
    const dir = tempDir('idv-card-qr-parties')
    const partiesFile = join(dir, 'parties.yaml')
    const parties = [
      ['aware', {}],
      ['strict', { exactAddresses: true }],
      ['narrow', { attributes: ['fullName', 'dateOfBirth'] }],
      ['overall', { overallOnly: true }]
    ] as const
    for (const [id, extra] of parties) {
      const pair = generateKeyPairSync('ed25519')
      writeFileSync(join(dir, `${id}.pem`), pair.publicKey.export({ type: 'spki', format: 'pem' }))
      partyAdd({ file: partiesFile, id, name: id, attributes: ATTRIBUTES, rate: 100, publicKey: join(dir, `${id}.pem`), keyId: id, ...extra })
      keys.set(id, { keyId: id, algorithm: 'ed25519', key: pair.privateKey })
    }
    signed = await startTestServer({ citizens: 10, extra: [LAN], config: { auth: 'signatures', partiesFile, receipts: 'off' } })
  }, 60_000)
  afterAll(async () => { await signed.close() })

  const signedPost = async (party: string, path: string, body: unknown): Promise<{ status: number, body: any }> => {
    const bytes = Buffer.from(JSON.stringify(body))
    const headers = signRequest({ method: 'POST', path, authority: new URL(signed.url).host, scheme: 'http', headers: { 'content-type': 'application/json' }, body: bytes }, keys.get(party)!)
    const res = await fetch(`${signed.url}${path}`, { method: 'POST', headers, body: bytes })
    return { status: res.status, body: await res.json() }
  }
  const QR = `001199012345|012345678|Nguyễn Thị Lan|17051999|Nữ|${CARD_ADDRESS}|01072021`

  it('reorganisation-aware (default) against exact', async () => {
    expect((await signedPost('aware', '/v1/card/qr/verify', { qr: QR })).body).toMatchObject({ match: true, attributes: { placeOfResidence: 'match_reorganised' } })
    const strict = await signedPost('strict', '/v1/card/qr/verify', { qr: QR })
    expect(strict.body).toMatchObject({ match: false, attributes: { placeOfResidence: 'mismatch' } })
    const strictVerify = await signedPost('strict', '/v1/verify', { pin: LAN.pin, attributes: { placeOfResidence: 'số 12 ngõ 5, P. Giảng Võ, TP. Hà Nội' } })
    expect(strictVerify.body).toMatchObject({ match: true, attributes: { placeOfResidence: 'match' } })
  })

  it('attributes the party may not ask are not checked, and said so', async () => {
    const r = await signedPost('narrow', '/v1/card/qr/verify', { qr: QR })
    expect(r.status).toBe(200)
    expect(r.body.attributes).toEqual({ fullName: 'match', dateOfBirth: 'match' })
    expect(r.body.notChecked).toEqual({ oldIdNumber: 'not_held', gender: 'not_allowed', placeOfResidence: 'not_allowed', cardIssueDate: 'not_allowed' })
  })

  it('overall-only: the overall match alone', async () => {
    const r = await signedPost('overall', '/v1/card/qr/verify', { qr: QR })
    expect(Object.keys(r.body).sort()).toEqual(['match', 'requestId'])
    expect(r.body.match).toBe(true)
  })
})
