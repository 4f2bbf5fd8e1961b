/**
 * Records (keyed hashes only), the match rules, and request validation, over a
 * tiny in-memory store.
 */
import { createHash, createHmac } from 'node:crypto'
import { beforeAll, describe, expect, it } from 'vitest'
import type { CitizenRecord } from '../../src/domain/citizen.js'
import { pinToKey } from '../../src/domain/pin.js'
import { HASH_BYTES, HEADER_BYTES, RECORD_BYTES, RECORD_VERSION, RecordCodec, Slot, isRecord, recordStatus } from '../../src/domain/record.js'
import { Verifier } from '../../src/verify/verifier.js'
import { parseVerifyRequest, type VerifyRequest } from '../../src/verify/verify-request.js'
import { ServiceError } from '../../src/errors.js'
import { MemoryStore } from '../helpers/memory-store.js'

const HASH_KEY = new Uint8Array(32).map((_, i) => (i * 37 + 11) & 0xff)

const AN: CitizenRecord = {
  pin: '001099012345',
  fullName: 'Nguyễn Văn An',
  dateOfBirth: '1999-05-17',
  gender: 'male',
  placeOfOrigin: 'Thanh Hóa',
  placeOfResidence: 'Hoàn Kiếm, Hà Nội',
  cardIssueDate: '2021-07-01',
  cardExpiryDate: '2024-05-17',
  status: 'active'
}
const THUY: CitizenRecord = {
  pin: '079303654321',
  fullName: 'Nguyễn Thị Thuỷ',
  dateOfBirth: '2003-12-31',
  gender: 'female',
  placeOfOrigin: 'Khánh Hoà',
  placeOfResidence: 'Quận 1, Hồ Chí Minh',
  cardIssueDate: '2021-03-15',
  cardExpiryDate: '2028-12-31',
  status: 'active'
}
const DECEASED: CitizenRecord = {
  pin: '038065111111',
  fullName: 'Trần Văn Hoà',
  dateOfBirth: '1965-02-03',
  gender: 'male',
  placeOfOrigin: 'Thanh Hóa',
  cardIssueDate: '2021-08-20',
  status: 'deceased'
}
const REVOKED: CitizenRecord = {
  pin: '048188333333',
  fullName: 'Đặng Thị Khoẻ',
  dateOfBirth: '1988-10-10',
  gender: 'female',
  cardIssueDate: '2022-01-01',
  cardExpiryDate: '2028-10-10',
  status: 'revoked'
}
const CHILD: CitizenRecord = {
  pin: '001318222222',
  fullName: 'Lê Minh Đức',
  dateOfBirth: '2018-06-01',
  gender: 'female',
  placeOfOrigin: 'Hà Nội',
  status: 'active'
}
/** Same name, birth date and gender as AN, different PIN. */
const AN_TWIN: CitizenRecord = { ...AN, pin: '001099054321' }

const CITIZENS = [AN, THUY, DECEASED, REVOKED, CHILD, AN_TWIN]

let codec: RecordCodec
let store: MemoryStore
let verifier: Verifier
const records = new Map<string, Uint8Array>()

beforeAll(() => {
  codec = new RecordCodec(HASH_KEY)
  store = new MemoryStore()
  for (const c of CITIZENS) {
    const key = pinToKey(c.pin)
    expect(key).toBeGreaterThan(0)
    const rec = codec.encode(key, c)
    records.set(c.pin, rec)
    store.put(key, rec)
  }
  verifier = new Verifier(store, codec)
})

function req (pin: string, attributes: Record<string, unknown>): VerifyRequest {
  const r = parseVerifyRequest({ pin, attributes })
  if (r instanceof ServiceError) throw new Error(`test request refused: ${r.code} ${r.message}`)
  return r
}

function allAttributes (c: CitizenRecord): Record<string, string> {
  const out: Record<string, string> = { fullName: c.fullName, dateOfBirth: c.dateOfBirth, gender: c.gender }
  for (const k of ['placeOfOrigin', 'placeOfResidence', 'cardIssueDate', 'cardExpiryDate'] as const) {
    if (c[k] !== undefined) out[k] = c[k]
  }
  return out
}

describe('RecordCodec.encode layout', () => {
  it('has version, status, presence bitmap and 8 slots of 16 bytes', () => {
    expect(RECORD_BYTES).toBe(3 + 8 * 16)
    const rec = records.get(AN.pin)!
    expect(rec).toHaveLength(RECORD_BYTES)
    expect(isRecord(rec)).toBe(true)
    expect(rec[0]).toBe(RECORD_VERSION)
    expect(recordStatus(rec)).toBe(0)
    expect(rec[2]).toBe(0xff)
    expect(recordStatus(records.get(DECEASED.pin)!)).toBe(1)
    expect(recordStatus(records.get(REVOKED.pin)!)).toBe(2)
  })

  it('leaves absent attributes out of the presence bitmap and zeroes their slots', () => {
    const child = records.get(CHILD.pin)!
    expect(child[2]).toBe(0xff & ~(1 << Slot.placeOfResidence) & ~(1 << Slot.cardIssueDate) & ~(1 << Slot.cardExpiryDate))
    for (const slot of [Slot.placeOfResidence, Slot.cardIssueDate, Slot.cardExpiryDate]) {
      const base = HEADER_BYTES + slot * HASH_BYTES
      expect([...child.subarray(base, base + HASH_BYTES)].every((b) => b === 0)).toBe(true)
    }
  })

  it('slot i is SHA-256 from S_c over i ‖ len16 ‖ canonical UTF-8, S_c = HMAC-SHA-256(key, "idv/citizen/v2" ‖ pin40), truncated to 16 bytes', () => {
    const rec = records.get(THUY.pin)!
    const key = pinToKey(THUY.pin)
    const pin40 = Buffer.alloc(5)
    pin40.writeUIntBE(key, 0, 5)
    // Computed here from node:crypto's HMAC and a textbook SHA-256 (FIPS 180-4), not from the service's hasher.
    const sc = createHmac('sha256', HASH_KEY).update(Buffer.concat([Buffer.from('idv/citizen/v2'), pin40])).digest()
    const expectSlot = (slot: number, canonical: string): void => {
      const value = Buffer.from(canonical, 'utf8')
      const message = Buffer.concat([Buffer.from([slot, value.length >> 8, value.length & 0xff]), value])
      const want = sha256From(sc, message).subarray(0, 16)
      const base = HEADER_BYTES + slot * HASH_BYTES
      expect(Buffer.from(rec.subarray(base, base + HASH_BYTES)).toString('hex'), `slot ${slot}`).toBe(want.toString('hex'))
    }
    expectSlot(Slot.dateOfBirth, '2003-12-31')
    expectSlot(Slot.gender, 'female')
    expectSlot(Slot.cardIssueDate, '2021-03-15')
    expectSlot(Slot.fullNameAscii, 'nguyen thi thuy')
    // The textbook SHA-256 is SHA-256: from the standard IV it gives node:crypto's digests.
    for (const n of [0, 1, 55, 56, 63, 64, 65, 200]) {
      const m = Buffer.alloc(n, n)
      expect(sha256From(SHA256_IV, m).toString('hex')).toBe(createHash('sha256').update(m).digest('hex'))
    }
  })

  it('encodes into a caller buffer at an offset without touching neighbours', () => {
    const buf = new Uint8Array(RECORD_BYTES + 20).fill(0xee)
    codec.encode(pinToKey(AN.pin), AN, buf, 10)
    expect(Buffer.from(buf.subarray(10, 10 + RECORD_BYTES)).equals(Buffer.from(records.get(AN.pin)!))).toBe(true)
    expect([...buf.subarray(0, 10), ...buf.subarray(10 + RECORD_BYTES)].every((b) => b === 0xee)).toBe(true)
  })

  it('never contains the plaintext name, dates, gender or PIN bytes', () => {
    for (const c of CITIZENS) {
      const rec = Buffer.from(records.get(c.pin)!)
      const needles = [c.fullName, c.fullName.normalize('NFD'), c.fullName.toUpperCase(), c.dateOfBirth, c.dateOfBirth.replace(/-/g, ''), c.gender, c.pin]
      for (const k of ['placeOfOrigin', 'placeOfResidence', 'cardIssueDate', 'cardExpiryDate'] as const) if (c[k] !== undefined) needles.push(c[k])
      for (const word of c.fullName.split(' ')) needles.push(word)
      for (const n of needles) {
        expect(rec.indexOf(Buffer.from(n, 'utf8')), `${c.pin}: ${n}`).toBe(-1)
      }
    }
  })

  it('binds hashes to the PIN: the same name/date/gender hash differently for two citizens', () => {
    const a = records.get(AN.pin)!
    const b = records.get(AN_TWIN.pin)!
    for (const slot of [Slot.fullName, Slot.fullNameAscii, Slot.dateOfBirth, Slot.gender, Slot.placeOfOrigin, Slot.cardIssueDate]) {
      const base = HEADER_BYTES + slot * HASH_BYTES
      expect(Buffer.from(a.subarray(base, base + HASH_BYTES)).equals(Buffer.from(b.subarray(base, base + HASH_BYTES))), `slot ${slot}`).toBe(false)
    }
  })

  it('separates slots: equal values in two slots (issue date = expiry date) hash differently', () => {
    const c: CitizenRecord = { ...AN, cardIssueDate: '2024-01-01', cardExpiryDate: '2024-01-01' }
    const rec = codec.encode(pinToKey(c.pin), c)
    const issue = rec.subarray(HEADER_BYTES + Slot.cardIssueDate * HASH_BYTES, HEADER_BYTES + (Slot.cardIssueDate + 1) * HASH_BYTES)
    const expiry = rec.subarray(HEADER_BYTES + Slot.cardExpiryDate * HASH_BYTES, HEADER_BYTES + (Slot.cardExpiryDate + 1) * HASH_BYTES)
    expect(Buffer.from(issue).equals(Buffer.from(expiry))).toBe(false)
  })

  it('depends on the hash key (other key, other record and other fingerprint)', () => {
    const other = new RecordCodec(new Uint8Array(32).fill(5))
    const key = pinToKey(AN.pin)
    expect(Buffer.from(other.encode(key, AN).subarray(3)).equals(Buffer.from(records.get(AN.pin)!.subarray(3)))).toBe(false)
    expect(Buffer.from(other.keyFingerprint()).equals(Buffer.from(codec.keyFingerprint()))).toBe(false)
    expect(Buffer.from(new RecordCodec(HASH_KEY).keyFingerprint()).equals(Buffer.from(codec.keyFingerprint()))).toBe(true)
  })

  it('is deterministic for equal spellings (old/new tone, NFD, case)', () => {
    const key = pinToKey(THUY.pin)
    const variant: CitizenRecord = { ...THUY, fullName: 'NGUYỄN THỊ THỦY'.normalize('NFD'), placeOfOrigin: 'khánh hòa' }
    expect(Buffer.from(codec.encode(key, variant)).equals(Buffer.from(records.get(THUY.pin)!))).toBe(true)
  })
})

describe('Verifier match rules', () => {
  it('all attributes match → match true, citizen active', () => {
    for (const c of [AN, THUY, AN_TWIN]) {
      const out = verifier.verify(req(c.pin, allAttributes(c)))
      expect(out.citizen).toBe('active')
      expect(out.match).toBe(true)
      expect(Object.values(out.attributes).every((v) => v === 'match')).toBe(true)
      expect(Object.keys(out.attributes).sort()).toEqual(Object.keys(allAttributes(c)).sort())
    }
  })

  it('uses the hot-path read', () => {
    const before = store.fastReads
    verifier.verify(req(AN.pin, { gender: 'male' }))
    expect(store.fastReads).toBe(before + 1)
  })

  const wrong: Record<string, string> = {
    fullName: 'Nguyễn Văn Anh',
    dateOfBirth: '1999-05-18',
    gender: 'female',
    placeOfOrigin: 'Nghệ An',
    placeOfResidence: 'Ba Đình, Hà Nội',
    cardIssueDate: '2021-07-02',
    cardExpiryDate: '2039-05-17'
  }
  for (const [name, value] of Object.entries(wrong)) {
    it(`${name} alone mismatching → that attribute mismatch, the rest match, overall false`, () => {
      const attrs = { ...allAttributes(AN), [name]: value }
      const out = verifier.verify(req(AN.pin, attrs))
      expect(out.citizen).toBe('active')
      expect(out.match).toBe(false)
      for (const [k, v] of Object.entries(out.attributes)) expect(v, k).toBe(k === name ? 'mismatch' : 'match')
    })
  }

  it('another citizen\'s correct attributes do not match (AN\'s data against THUY\'s PIN)', () => {
    const out = verifier.verify(req(THUY.pin, { fullName: AN.fullName, dateOfBirth: AN.dateOfBirth }))
    expect(out.match).toBe(false)
    expect(out.attributes).toEqual({ fullName: 'mismatch', dateOfBirth: 'mismatch' })
  })

  it('name without diacritics → match_without_diacritics, overall false', () => {
    for (const ascii of ['NGUYEN VAN AN', 'nguyen van an', '  Nguyen  Van An ']) {
      const out = verifier.verify(req(AN.pin, { fullName: ascii, dateOfBirth: AN.dateOfBirth }))
      expect(out.attributes.fullName, ascii).toBe('match_without_diacritics')
      expect(out.attributes.dateOfBirth).toBe('match')
      expect(out.match).toBe(false)
      expect(out.citizen).toBe('active')
    }
    expect(verifier.verify(req(CHILD.pin, { fullName: 'LE MINH DUC' })).attributes.fullName).toBe('match_without_diacritics')
    expect(verifier.verify(req(THUY.pin, { fullName: 'NGUYEN THI THUY' })).attributes.fullName).toBe('match_without_diacritics')
  })

  it('an ASCII name that differs in letters is a plain mismatch', () => {
    expect(verifier.verify(req(AN.pin, { fullName: 'NGUYEN VAN ANH' })).attributes.fullName).toBe('mismatch')
  })

  it('tone-placement, NFD, case and spacing variants → match', () => {
    for (const v of ['Nguyễn Thị Thủy', 'NGUYỄN THỊ THỦY', 'nguyễn thị thuỷ'.normalize('NFD'), ' Nguyễn  Thị\tThuỷ ']) {
      const out = verifier.verify(req(THUY.pin, { fullName: v, placeOfOrigin: 'KHÁNH HÒA' }))
      expect(out.attributes, v).toEqual({ fullName: 'match', placeOfOrigin: 'match' })
      expect(out.match).toBe(true)
    }
    expect(verifier.verify(req(DECEASED.pin, { fullName: 'Trần Văn Hòa' })).attributes.fullName).toBe('match')
    expect(verifier.verify(req(REVOKED.pin, { fullName: 'ĐẶNG THỊ KHỎE' })).attributes.fullName).toBe('match')
  })

  it('a different tone is a mismatch, not a variant (Thùy for Thủy)', () => {
    const out = verifier.verify(req(THUY.pin, { fullName: 'Nguyễn Thị Thùy' }))
    // diacritic-free forms agree, so this is reported as match_without_diacritics, never as match
    expect(out.attributes.fullName).toBe('match_without_diacritics')
    expect(out.match).toBe(false)
  })

  it('deceased and revoked → citizen inactive, match false even when every attribute matches', () => {
    for (const c of [DECEASED, REVOKED]) {
      const out = verifier.verify(req(c.pin, allAttributes(c)))
      expect(out.citizen).toBe('inactive')
      expect(out.match).toBe(false)
      expect(Object.values(out.attributes).every((v) => v === 'match')).toBe(true)
    }
  })

  it('unknown PIN (valid structure, not in the store) → citizen unknown, every supplied attribute mismatch', () => {
    const out = verifier.verify(req('001099999999', allAttributes(AN)))
    expect(out.citizen).toBe('unknown')
    expect(out.match).toBe(false)
    expect(Object.keys(out.attributes).sort()).toEqual(Object.keys(allAttributes(AN)).sort())
    expect(Object.values(out.attributes).every((v) => v === 'mismatch')).toBe(true)
  })

  it('bytes that are not a record of this version are treated as unknown', () => {
    const s = new MemoryStore()
    const bad = records.get(AN.pin)!.slice()
    bad[0] = RECORD_VERSION + 1
    s.put(pinToKey(AN.pin), bad)
    s.put(pinToKey(THUY.pin), records.get(THUY.pin)!.subarray(0, RECORD_BYTES - 1))
    const v = new Verifier(s, codec)
    expect(v.verify(req(AN.pin, { gender: 'male' }))).toEqual({ match: false, citizen: 'unknown', attributes: { gender: 'mismatch' } })
    expect(v.verify(req(THUY.pin, { gender: 'female' }))).toEqual({ match: false, citizen: 'unknown', attributes: { gender: 'mismatch' } })
  })

  it('a child without card dates → cardIssueDate/cardExpiryDate mismatch, absent residence mismatch', () => {
    const out = verifier.verify(req(CHILD.pin, { fullName: CHILD.fullName, dateOfBirth: CHILD.dateOfBirth, cardIssueDate: '2024-01-01', cardExpiryDate: '2039-06-01', placeOfResidence: 'Hà Nội' }))
    expect(out.attributes).toEqual({ fullName: 'match', dateOfBirth: 'match', placeOfResidence: 'mismatch', cardIssueDate: 'mismatch', cardExpiryDate: 'mismatch' })
    expect(out.match).toBe(false)
    expect(out.citizen).toBe('active')
    // the zeroed slot is not a hash of anything: still a mismatch
    expect(verifier.verify(req(CHILD.pin, { cardIssueDate: '2018-06-01' })).attributes.cardIssueDate).toBe('mismatch')
    expect(verifier.verify(req(CHILD.pin, { fullName: CHILD.fullName, placeOfOrigin: 'Hà Nội' })).match).toBe(true)
  })

  it('a verifier with the wrong hash key matches nothing', () => {
    const v = new Verifier(store, new RecordCodec(new Uint8Array(32).fill(1)))
    const out = v.verify(req(AN.pin, allAttributes(AN)))
    expect(out.match).toBe(false)
    expect(Object.values(out.attributes).every((x) => x === 'mismatch')).toBe(true)
  })

  it('answers carry only per-attribute results, never stored data', () => {
    const out = verifier.verify(req(AN.pin, allAttributes(AN)))
    expect(Object.keys(out).sort()).toEqual(['attributes', 'citizen', 'match'])
    const text = JSON.stringify(out)
    expect(text).not.toContain('Nguy')
    expect(text).not.toContain('1999')
  })
})

describe('parseVerifyRequest', () => {
  const code = (input: unknown): string => {
    const r = parseVerifyRequest(input)
    expect(r, JSON.stringify(input)).toBeInstanceOf(ServiceError)
    return (r as ServiceError).code
  }

  it('accepts a valid request and keeps attributes in API order', () => {
    const r = parseVerifyRequest({ pin: AN.pin, attributes: { gender: 'male', fullName: 'X', dateOfBirth: '1999-05-17' } })
    expect(r).not.toBeInstanceOf(ServiceError)
    expect(r).toEqual({ key: 1_099_012_345, attributes: [['fullName', 'X'], ['dateOfBirth', '1999-05-17'], ['gender', 'male']] })
  })

  it('non-object body → IDV_ERR_INVALID_FIELD', () => {
    for (const v of [null, undefined, 'x', 42, true, [], [{ pin: AN.pin }]]) expect(code(v)).toBe('IDV_ERR_INVALID_FIELD')
  })

  it('missing or non-string pin → IDV_ERR_INVALID_PIN', () => {
    expect(code({ attributes: { gender: 'male' } })).toBe('IDV_ERR_INVALID_PIN')
    expect(code({ pin: 1099012345, attributes: { gender: 'male' } })).toBe('IDV_ERR_INVALID_PIN')
    expect(code({ pin: null, attributes: { gender: 'male' } })).toBe('IDV_ERR_INVALID_PIN')
  })

  it('bad pin → IDV_ERR_INVALID_PIN (length, non-digits, unknown province)', () => {
    for (const pin of ['00109901234', '0010990123456', '00109901234a', '003099012345', '999099012345', '００１０９９０１２３４５']) {
      expect(code({ pin, attributes: { gender: 'male' } }), pin).toBe('IDV_ERR_INVALID_PIN')
    }
  })

  it('attributes missing or not an object → IDV_ERR_INVALID_FIELD', () => {
    for (const attributes of [undefined, null, 'fullName', 3, [], [['gender', 'male']]]) {
      expect(code({ pin: AN.pin, attributes })).toBe('IDV_ERR_INVALID_FIELD')
    }
  })

  it('unknown attribute → IDV_ERR_UNKNOWN_ATTRIBUTE, even next to valid ones', () => {
    expect(code({ pin: AN.pin, attributes: { nationality: 'VNM' } })).toBe('IDV_ERR_UNKNOWN_ATTRIBUTE')
    expect(code({ pin: AN.pin, attributes: { gender: 'male', FullName: 'x' } })).toBe('IDV_ERR_UNKNOWN_ATTRIBUTE')
    expect(code({ pin: AN.pin, attributes: JSON.parse('{"__proto__": "x", "gender": "male"}') })).toBe('IDV_ERR_UNKNOWN_ATTRIBUTE')
  })

  it('truncates a long unknown attribute name in the detail', () => {
    const r = parseVerifyRequest({ pin: AN.pin, attributes: { ['x'.repeat(1000)]: 'v' } }) as ServiceError
    expect(r.code).toBe('IDV_ERR_UNKNOWN_ATTRIBUTE')
    expect(r.message.length).toBeLessThan(100)
  })

  it('wrong value type → IDV_ERR_INVALID_FIELD', () => {
    for (const [k, v] of [['fullName', 1], ['dateOfBirth', 19990517], ['gender', true], ['placeOfOrigin', null], ['cardIssueDate', {}], ['fullName', ['Nguyễn']]] as const) {
      const r = parseVerifyRequest({ pin: AN.pin, attributes: { [k]: v } }) as ServiceError
      expect(r.code, k).toBe('IDV_ERR_INVALID_FIELD')
      expect(r.message).toContain(`attributes.${k}`)
    }
  })

  it('bad dates → IDV_ERR_INVALID_FIELD', () => {
    for (const k of ['dateOfBirth', 'cardIssueDate', 'cardExpiryDate']) {
      for (const d of ['1999-02-30', '1999-5-17', '17/05/1999', '', '1999-05-17T00:00:00Z']) {
        expect(code({ pin: AN.pin, attributes: { [k]: d } }), `${k}=${d}`).toBe('IDV_ERR_INVALID_FIELD')
      }
    }
  })

  it('bad gender → IDV_ERR_INVALID_FIELD (only "male"/"female", exact case)', () => {
    for (const g of ['Male', 'MALE', 'm', 'F', 'Nam', 'Nữ', 'other', '']) expect(code({ pin: AN.pin, attributes: { gender: g } }), g).toBe('IDV_ERR_INVALID_FIELD')
  })

  it('empty attributes → IDV_ERR_NO_ATTRIBUTES', () => {
    expect(code({ pin: AN.pin, attributes: {} })).toBe('IDV_ERR_NO_ATTRIBUTES')
  })

  it('blank or over-long name / place → IDV_ERR_INVALID_FIELD; the limits themselves are accepted', () => {
    expect(code({ pin: AN.pin, attributes: { fullName: '   ' } })).toBe('IDV_ERR_INVALID_FIELD')
    expect(code({ pin: AN.pin, attributes: { fullName: 'a'.repeat(201) } })).toBe('IDV_ERR_INVALID_FIELD')
    expect(parseVerifyRequest({ pin: AN.pin, attributes: { fullName: 'a'.repeat(200) } })).not.toBeInstanceOf(ServiceError)
    expect(code({ pin: AN.pin, attributes: { placeOfResidence: 'a'.repeat(501) } })).toBe('IDV_ERR_INVALID_FIELD')
    expect(parseVerifyRequest({ pin: AN.pin, attributes: { placeOfResidence: 'a'.repeat(500) } })).not.toBeInstanceOf(ServiceError)
  })

  it('prefixes details with the batch position when given', () => {
    const r = parseVerifyRequest({ pin: 'x', attributes: {} }, 'items[7].') as ServiceError
    expect(r.message).toBe('items[7].pin is not 12 digits with a known province code')
    expect((parseVerifyRequest(5, 'items[7]') as ServiceError).message).toBe('items[7] must be an object')
    expect((parseVerifyRequest(5) as ServiceError).message).toBe('body must be an object')
  })

  it('error details never echo the PIN or attribute values', () => {
    const cases = [
      { pin: '003099012345', attributes: { fullName: 'Nguyễn Văn An' } },
      { pin: AN.pin, attributes: { dateOfBirth: '1999-02-30' } },
      { pin: AN.pin, attributes: { fullName: 'Nguyễn Văn An'.repeat(20) } },
      { pin: AN.pin, attributes: { gender: 'Khác' } }
    ]
    for (const c of cases) {
      const r = parseVerifyRequest(c) as ServiceError
      expect(r).toBeInstanceOf(ServiceError)
      expect(r.message).not.toContain(c.pin)
      expect(r.message).not.toContain('Nguyễn')
      expect(r.message).not.toContain('1999')
      expect(r.message).not.toContain('Khác')
    }
  })

  it('ignores inherited properties of attributes', () => {
    const attrs = Object.create({ nationality: 'VNM' }) as Record<string, string>
    attrs.gender = 'male'
    const r = parseVerifyRequest({ pin: AN.pin, attributes: attrs })
    expect(r).toEqual({ key: 1_099_012_345, attributes: [['gender', 'male']] })
  })
})

const SHA256_IV = Buffer.from('6a09e667bb67ae853c6ef372a54ff53a510e527f9b05688c1f83d9ab5be0cd19', 'hex')

/** SHA-256 (FIPS 180-4) of `message` from the 32-byte chaining value `start`, with the standard padding of `message` alone. */
function sha256From (start: Buffer, message: Buffer): Buffer {
  const k = [
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2
  ]
  const rotr = (x: number, n: number): number => (x >>> n) | (x << (32 - n))
  const padded = Buffer.alloc(Math.ceil((message.length + 9) / 64) * 64)
  message.copy(padded)
  padded[message.length] = 0x80
  padded.writeUInt32BE(message.length * 8, padded.length - 4)
  const h = Array.from({ length: 8 }, (_, i) => start.readUInt32BE(i * 4))
  for (let off = 0; off < padded.length; off += 64) {
    const w: number[] = []
    for (let t = 0; t < 64; t++) {
      if (t < 16) w.push(padded.readUInt32BE(off + t * 4))
      else {
        const s0 = rotr(w[t - 15]!, 7) ^ rotr(w[t - 15]!, 18) ^ (w[t - 15]! >>> 3)
        const s1 = rotr(w[t - 2]!, 17) ^ rotr(w[t - 2]!, 19) ^ (w[t - 2]! >>> 10)
        w.push((w[t - 16]! + s0 + w[t - 7]! + s1) >>> 0)
      }
    }
    let [a, b, c, d, e, f, g, hh] = h as [number, number, number, number, number, number, number, number]
    for (let t = 0; t < 64; t++) {
      const t1 = (hh + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + k[t]! + w[t]!) >>> 0
      const t2 = ((rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c))) >>> 0
      hh = g; g = f; f = e; e = (d + t1) >>> 0; d = c; c = b; b = a; a = (t1 + t2) >>> 0
    }
    const next = [a, b, c, d, e, f, g, hh]
    for (let i = 0; i < 8; i++) h[i] = (h[i]! + next[i]!) >>> 0
  }
  const out = Buffer.alloc(32)
  h.forEach((v, i) => out.writeUInt32BE(v, i * 4))
  return out
}
