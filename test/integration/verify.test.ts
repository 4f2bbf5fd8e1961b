/**
 * POST /v1/verify and /v1/verify/batch against the real server and a real LMDB index.
 */
import { Packr, Unpackr } from 'msgpackr'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { CitizenRecord } from '../../src/domain/citizen.js'
import { postJson, startTestServer, type TestServer } from '../helpers/server.js'

const deceased: CitizenRecord = { pin: '001199000001', fullName: 'Trần Thị Mất', dateOfBirth: '1999-03-04', gender: 'female', status: 'deceased' }
const revoked: CitizenRecord = { pin: '079085000002', fullName: 'Lê Văn Hủy', dateOfBirth: '1985-07-08', gender: 'male', status: 'revoked' }
const child: CitizenRecord = { pin: '048320000003', fullName: 'Phạm Thị Thuỷ', dateOfBirth: '2020-01-15', gender: 'female', placeOfOrigin: 'Phường Hải Châu I, Quận Hải Châu, Thành phố Đà Nẵng', status: 'active' }
const adult: CitizenRecord = {
  pin: '001099012345', fullName: 'Nguyễn Văn An', dateOfBirth: '1999-01-02', gender: 'male',
  // The register writes places in the units of 1 July 2025 (Xã Tân Lập, Huyện Đan Phượng became Xã Ô Diên);
  // the old form asked of it is match_reorganised (test/unit/addresses.test.ts).
  placeOfOrigin: 'Xã Ô Diên, Thành phố Hà Nội', placeOfResidence: 'Phường Dịch Vọng, Quận Cầu Giấy, Thành phố Hà Nội',
  cardIssueDate: '2021-05-01', cardExpiryDate: '2024-01-02', status: 'active'
}

let s: TestServer
beforeAll(async () => { s = await startTestServer({ citizens: 2000, extra: [deceased, revoked, child, adult] }) })
afterAll(async () => { await s.close() })

const verify = async (body: unknown, headers?: Record<string, string>) => await postJson(`${s.url}/v1/verify`, body, headers)
const allOf = (c: CitizenRecord) => ({
  fullName: c.fullName, dateOfBirth: c.dateOfBirth, gender: c.gender, placeOfOrigin: c.placeOfOrigin,
  placeOfResidence: c.placeOfResidence, cardIssueDate: c.cardIssueDate, cardExpiryDate: c.cardExpiryDate
})

describe('POST /v1/verify', () => {
  it('matches every attribute of an active citizen', async () => {
    const r = await verify({ pin: adult.pin, attributes: allOf(adult) })
    expect(r.status).toBe(200)
    expect(r.headers.get('content-type')).toBe('application/json')
    expect(r.headers.get('cache-control')).toBe('no-store')
    expect(r.body).toEqual({
      requestId: r.headers.get('x-request-id'),
      match: true,
      citizen: 'active',
      attributes: { fullName: 'match', dateOfBirth: 'match', gender: 'match', placeOfOrigin: 'match', placeOfResidence: 'match', cardIssueDate: 'match', cardExpiryDate: 'match' }
    })
  })

  it('matches generated citizens on name, birth date and gender', async () => {
    for (const c of s.citizens.slice(0, 50).filter((c) => c.status === 'active')) {
      const r = await verify({ pin: c.pin, attributes: { fullName: c.fullName, dateOfBirth: c.dateOfBirth, gender: c.gender } })
      expect(r.body.match, c.pin).toBe(true)
    }
  })

  it('folds case, spaces, decomposed letters and tone placement', async () => {
    const r = await verify({ pin: child.pin, attributes: { fullName: '  PHẠM   thị  thủy '.normalize('NFD') } })
    expect(r.body.attributes.fullName).toBe('match')
    expect(r.body.match).toBe(true)
  })

  it('answers match_without_diacritics for an ASCII name, and match is then false', async () => {
    const r = await verify({ pin: adult.pin, attributes: { fullName: 'NGUYEN VAN AN', dateOfBirth: adult.dateOfBirth } })
    expect(r.body.attributes).toEqual({ fullName: 'match_without_diacritics', dateOfBirth: 'match' })
    expect(r.body.match).toBe(false)
  })

  it.each([
    ['fullName', 'Nguyễn Văn Anh'],
    ['dateOfBirth', '1999-01-03'],
    ['gender', 'female'],
    ['placeOfOrigin', 'Xã Tân Lập, Huyện Đan Phượng, Tỉnh Hà Tây'],
    ['placeOfResidence', 'Phường Dịch Vọng Hậu, Quận Cầu Giấy, Thành phố Hà Nội'],
    ['cardIssueDate', '2021-05-02'],
    ['cardExpiryDate', '2039-01-02']
  ])('reports a %s mismatch alone', async (name, wrong) => {
    const attributes = { ...allOf(adult), [name]: wrong }
    const r = await verify({ pin: adult.pin, attributes })
    expect(r.status).toBe(200)
    expect(r.body.match).toBe(false)
    expect(r.body.citizen).toBe('active')
    for (const [k, v] of Object.entries(r.body.attributes)) expect(v, k).toBe(k === name ? 'mismatch' : 'match')
  })

  it('answers unknown for a well-formed PIN that is not registered', async () => {
    const r = await verify({ pin: '001099999999', attributes: { fullName: 'Nguyễn Văn An', gender: 'male' } })
    expect(r.body).toMatchObject({ match: false, citizen: 'unknown', attributes: { fullName: 'mismatch', gender: 'mismatch' } })
  })

  it.each([deceased, revoked])('answers inactive for a %s citizen even when attributes match', async (c) => {
    const r = await verify({ pin: c.pin, attributes: { fullName: c.fullName, dateOfBirth: c.dateOfBirth } })
    expect(r.body).toMatchObject({ match: false, citizen: 'inactive', attributes: { fullName: 'match', dateOfBirth: 'match' } })
  })

  it('answers mismatch for card dates of a citizen without a card', async () => {
    const r = await verify({ pin: child.pin, attributes: { cardIssueDate: '2021-05-01' } })
    expect(r.body.attributes.cardIssueDate).toBe('mismatch')
  })

  it('speaks MessagePack both ways, with the same fields', async () => {
    const body = new Packr({ useRecords: false }).pack({ pin: adult.pin, attributes: { fullName: adult.fullName } })
    for (const type of ['application/vnd.msgpack', 'application/msgpack', 'application/x-msgpack']) {
      const res = await fetch(`${s.url}/v1/verify`, { method: 'POST', headers: { 'content-type': type }, body })
      expect(res.status).toBe(200)
      expect(res.headers.get('content-type')).toBe('application/vnd.msgpack')
      const answer = new Unpackr({ useRecords: false }).unpack(Buffer.from(await res.arrayBuffer()))
      expect(answer).toEqual({ requestId: res.headers.get('x-request-id'), match: true, citizen: 'active', attributes: { fullName: 'match' } })
    }
  })

  it('answers in the format Accept asks for', async () => {
    const res = await fetch(`${s.url}/v1/verify`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/html;q=0.9, application/vnd.msgpack;q=0.8' },
      body: JSON.stringify({ pin: adult.pin, attributes: { gender: 'male' } })
    })
    expect(res.headers.get('content-type')).toBe('application/vnd.msgpack')
    expect(new Unpackr({ useRecords: false }).unpack(Buffer.from(await res.arrayBuffer())).match).toBe(true)
  })

  it('answers 1,000 concurrent requests correctly', async () => {
    const sample = s.citizens.slice(0, 1000)
    const answers = await Promise.all(sample.map(async (c, i) => {
      const wrongDate = i % 3 === 0
      const r = await verify({ pin: c.pin, attributes: { fullName: c.fullName, dateOfBirth: wrongDate ? '1900-01-01' : c.dateOfBirth } })
      return { r, c, wrongDate }
    }))
    for (const { r, c, wrongDate } of answers) {
      expect(r.status).toBe(200)
      expect(r.body.match).toBe(!wrongDate && c.status === 'active')
      expect(r.body.attributes.dateOfBirth).toBe(wrongDate ? 'mismatch' : 'match')
    }
    expect(new Set(answers.map((a) => a.r.body.requestId)).size).toBe(1000)
  })
})

describe('POST /v1/verify/batch', () => {
  it('answers in order, with a per-item error that does not fail the batch', async () => {
    const items = [
      { pin: adult.pin, attributes: { fullName: adult.fullName } },
      { pin: '12345', attributes: { fullName: 'x' } },
      { pin: deceased.pin, attributes: { dateOfBirth: deceased.dateOfBirth } },
      { pin: adult.pin, attributes: { shoeSize: '42' } },
      { pin: '001099999999', attributes: { gender: 'male' } },
      'not an object'
    ]
    const r = await postJson(`${s.url}/v1/verify/batch`, { items })
    expect(r.status).toBe(200)
    const res = r.body.results
    expect(res).toHaveLength(6)
    expect(res[0]).toEqual({ match: true, citizen: 'active', attributes: { fullName: 'match' } })
    expect(res[1].error).toMatchObject({ status: 400, code: 'IDV_ERR_INVALID_PIN' })
    expect(res[2]).toEqual({ match: false, citizen: 'inactive', attributes: { dateOfBirth: 'match' } })
    expect(res[3].error).toMatchObject({ status: 400, code: 'IDV_ERR_UNKNOWN_ATTRIBUTE' })
    expect(res[4]).toMatchObject({ citizen: 'unknown' })
    expect(res[5].error).toMatchObject({ code: 'IDV_ERR_INVALID_FIELD' })
  })

  it('answers a full 10,000-item batch in order', async () => {
    const items = Array.from({ length: 10_000 }, (_, i) => {
      const c = s.citizens[i % s.citizens.length]!
      return { pin: c.pin, attributes: { dateOfBirth: i % 2 === 0 ? c.dateOfBirth : '1901-01-01' } }
    })
    const r = await postJson(`${s.url}/v1/verify/batch`, { items })
    expect(r.status).toBe(200)
    expect(r.body.results).toHaveLength(10_000)
    r.body.results.forEach((x: any, i: number) => { expect(x.attributes.dateOfBirth).toBe(i % 2 === 0 ? 'match' : 'mismatch') })
  })

  it('refuses more items than the limit', async () => {
    const items = Array.from({ length: 10_001 }, () => ({ pin: adult.pin, attributes: { gender: 'male' } }))
    const r = await postJson(`${s.url}/v1/verify/batch`, { items })
    expect(r.status).toBe(400)
    expect(r.body.code).toBe('IDV_ERR_TOO_MANY_ITEMS')
  })

  it('works in MessagePack', async () => {
    const body = new Packr({ useRecords: false }).pack({ items: [{ pin: adult.pin, attributes: { gender: 'male' } }] })
    const res = await fetch(`${s.url}/v1/verify/batch`, { method: 'POST', headers: { 'content-type': 'application/vnd.msgpack' }, body })
    const answer = new Unpackr({ useRecords: false }).unpack(Buffer.from(await res.arrayBuffer()))
    expect(answer.results).toEqual([{ match: true, citizen: 'active', attributes: { gender: 'match' } }])
  })
})
