/**
 * Register NDJSON lines: what is accepted, every rejection reason, and that a
 * reason never repeats the name or the PIN.
 */
import { describe, expect, it } from 'vitest'
import { parseSourceLine, validateSourceRecord } from '../../src/domain/source-record.js'

const VALID = {
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

const line = (overrides: Record<string, unknown>, drop: string[] = []): string => {
  const o: Record<string, unknown> = { ...VALID, ...overrides }
  for (const k of drop) delete o[k]
  return JSON.stringify(o)
}

function reason (l: string): string {
  const r = parseSourceLine(l)
  if (r.ok) throw new Error(`expected rejection: ${l}`)
  return r.reason
}

describe('parseSourceLine accepts', () => {
  it('a complete valid line', () => {
    const r = parseSourceLine(JSON.stringify(VALID))
    expect(r).toEqual({ ok: true, key: 1_099_012_345, citizen: VALID })
  })

  it('a child without card dates or places (absent or null), and drops unknown fields', () => {
    const r = parseSourceLine(JSON.stringify({
      pin: '001318222222', fullName: 'Lê Minh Đức', dateOfBirth: '2018-06-01', gender: 'female', status: 'active',
      placeOfOrigin: null, cardIssueDate: null, extra: 'ignored'
    }))
    expect(r.ok).toBe(true)
    if (!r.ok) return
    expect(r.key).toBe(1_318_222_222)
    expect(r.citizen).toEqual({
      pin: '001318222222',
      fullName: 'Lê Minh Đức',
      dateOfBirth: '2018-06-01',
      gender: 'female',
      placeOfOrigin: undefined,
      placeOfResidence: undefined,
      cardIssueDate: undefined,
      cardExpiryDate: undefined,
      status: 'active'
    })
    expect(Object.hasOwn(r.citizen, 'extra')).toBe(false)
  })

  it('deceased and revoked statuses, and the other centuries', () => {
    expect(parseSourceLine(line({ status: 'deceased' })).ok).toBe(true)
    expect(parseSourceLine(line({ status: 'revoked' })).ok).toBe(true)
    expect(parseSourceLine(line({ pin: '079303654321', dateOfBirth: '2003-12-31', gender: 'female' })).ok).toBe(true)
    for (const [pin, dateOfBirth, gender] of [
      ['001000000001', '1900-01-01', 'male'], ['001599123456', '2199-12-31', 'female'],
      ['001750123456', '2250-06-15', 'female'], ['001800123456', '2300-01-01', 'male']
    ]) expect(parseSourceLine(line({ pin, dateOfBirth, gender })).ok, pin).toBe(true)
  })

  it('validateSourceRecord takes an already-parsed value', () => {
    expect(validateSourceRecord({ ...VALID }).ok).toBe(true)
  })
})

describe('parseSourceLine rejects, with a reason', () => {
  it('bad JSON', () => {
    for (const l of ['', '{', '{"pin":', 'not json', "{'pin':'001099012345'}", JSON.stringify(VALID).slice(0, -1)]) {
      expect(reason(l), l).toBe('not valid JSON')
    }
  })

  it('not an object', () => {
    for (const l of ['null', '42', '"001099012345"', 'true', '[]', JSON.stringify([VALID])]) expect(reason(l), l).toBe('not a JSON object')
  })

  it('missing or non-string pin', () => {
    expect(reason(line({}, ['pin']))).toBe('pin missing or not a string')
    expect(reason(line({ pin: 1099012345 }))).toBe('pin missing or not a string')
  })

  it('bad pin (length, non-digits)', () => {
    for (const pin of ['00109901234', '0010990123456', '00109901234x', '００１０９９０１２３４５', '']) {
      expect(reason(line({ pin })), pin).toBe('pin is not 12 digits with a known province code')
    }
  })

  it('unknown province', () => {
    for (const pin of ['003099012345', '999099012345', '000099012345']) {
      expect(reason(line({ pin })), pin).toBe('pin is not 12 digits with a known province code')
    }
  })

  it('century/gender digit mismatch (wrong gender, wrong century)', () => {
    expect(reason(line({ gender: 'female' }))).toMatch(/^pin disagrees with birth date\/gender: century\/gender digit/)
    expect(reason(line({ dateOfBirth: '2099-05-17' }))).toMatch(/^pin disagrees with birth date\/gender: century\/gender digit/)
  })

  it('year digits mismatch', () => {
    expect(reason(line({ dateOfBirth: '1998-05-17' }))).toMatch(/^pin disagrees with birth date\/gender: year digits/)
  })

  it('birth year a PIN cannot encode', () => {
    expect(reason(line({ pin: '001085012345', dateOfBirth: '1885-01-01' }))).toMatch(/outside the centuries/)
  })

  it('bad status', () => {
    for (const status of ['Active', 'dead', '', 0, null]) expect(reason(line({ status })), String(status)).toBe('status must be active, deceased or revoked')
    expect(reason(line({}, ['status']))).toBe('status must be active, deceased or revoked')
  })

  it('bad optional dates', () => {
    for (const k of ['cardIssueDate', 'cardExpiryDate']) {
      for (const v of ['2021-02-30', '2021-7-1', '01/07/2021', 20210701, true, '']) {
        expect(reason(line({ [k]: v })), `${k}=${String(v)}`).toBe(`${k} must be a date written YYYY-MM-DD`)
      }
    }
  })

  it('bad optional places', () => {
    expect(reason(line({ placeOfOrigin: 7 }))).toBe('placeOfOrigin must be a string')
    expect(reason(line({ placeOfResidence: '   ' }))).toBe('placeOfResidence must be 1 to 500 characters')
  })

  it('missing, blank, non-string or over-long name', () => {
    expect(reason(line({}, ['fullName']))).toBe('fullName must be a string')
    expect(reason(line({ fullName: 42 }))).toBe('fullName must be a string')
    expect(reason(line({ fullName: '  ' }))).toBe('fullName must be 1 to 200 characters')
    expect(reason(line({ fullName: 'Nguyễn '.repeat(40) }))).toBe('fullName must be 1 to 200 characters')
  })

  it('missing or bad birth date and gender', () => {
    expect(reason(line({}, ['dateOfBirth']))).toBe('dateOfBirth must be a string')
    expect(reason(line({ dateOfBirth: '1999-02-29' }))).toBe('dateOfBirth must be a date written YYYY-MM-DD')
    expect(reason(line({}, ['gender']))).toBe('gender must be a string')
    expect(reason(line({ gender: 'Nam' }))).toBe('gender must be "male" or "female"')
  })
})

describe('rejection reasons never contain the name or the PIN', () => {
  const bad: Array<Record<string, unknown>> = [
    { pin: '003099012345' },
    { pin: '00109901234' },
    { gender: 'female' },
    { dateOfBirth: '1998-05-17' },
    { dateOfBirth: '2099-05-17' },
    { status: 'dead' },
    { cardIssueDate: '2021-02-30' },
    { cardExpiryDate: 'soon' },
    { fullName: 'Nguyễn Văn An'.repeat(20) },
    { placeOfOrigin: 'Thanh Hóa'.repeat(60) },
    { gender: 'Nam' },
    { dateOfBirth: '1999-02-30' }
  ]
  for (const o of bad) {
    it(JSON.stringify(o).slice(0, 60), () => {
      const l = line(o)
      const r = reason(l)
      const rec = JSON.parse(l) as Record<string, string>
      for (const needle of [rec.pin, VALID.pin, 'Nguyễn', 'Văn An', 'Thanh Hóa', '012345', rec.dateOfBirth, rec.cardIssueDate, rec.cardExpiryDate]) {
        if (typeof needle === 'string' && needle !== '') expect(r).not.toContain(needle)
      }
    })
  }
})
