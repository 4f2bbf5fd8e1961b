/**
 * TD1 MRZ parsing and ICAO check digits, on strings (no PKI needed).
 * Reference values come from ICAO 9303 Part 5's TD1 specimen (ERIKSSON).
 */
import { describe, expect, it } from 'vitest'
import { checkDigit, parseDg1, parseTd1, REASONS } from '../../src/chip/passive-auth/index.js'
import { AN, DUONG, icaoCheckDigit, makeDg1, makeMrz } from 'chip-test-pki'

describe('checkDigit', () => {
  it('matches the ICAO 9303 specimen values', () => {
    expect(checkDigit('D23145890')).toBe(7)
    expect(checkDigit('740812')).toBe(2)
    expect(checkDigit('120415')).toBe(9)
    expect(checkDigit('L898902C<')).toBe(3)
    // TD1 specimen composite: line 1 positions 6–30 + line 2 1–7, 9–15, 19–29.
    expect(checkDigit('D231458907' + '<'.repeat(15) + '7408122' + '1204159' + '<'.repeat(11))).toBe(6)
  })

  it('agrees with the independent helper implementation on random strings', () => {
    const alphabet = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ<'
    let seed = 7
    for (let i = 0; i < 2000; i++) {
      let s = ''
      const len = 1 + (i % 40)
      for (let j = 0; j < len; j++) { seed = (seed * 1103515245 + 12345) % 2 ** 31; s += alphabet[seed % alphabet.length] }
      expect(checkDigit(s)).toBe(Number(icaoCheckDigit(s)))
    }
  })
})

describe('parseTd1', () => {
  it('parses a Vietnamese TD1 MRZ', () => {
    const mrz = makeMrz(AN)
    expect(mrz).toHaveLength(90)
    expect(mrz.slice(0, 30)).toBe('IDVNM0990123459001099012345<<<')
    expect(mrz.slice(60)).toBe('NGUYEN<<VAN<AN<<<<<<<<<<<<<<<<')
    const r = parseTd1(mrz)
    expect(r).toEqual({
      ok: true,
      mrz: { documentNumber: '099012345', pin: '001099012345', mrzName: 'NGUYEN VAN AN', dateOfBirth: '1999-03-15', gender: 'male', expiryDate: '2039-03-15', nationality: 'VNM' }
    })
  })

  it.each([
    ['0', '1999', 'male'], ['1', '1999', 'female'], ['2', '2099', 'male'], ['3', '2099', 'female'], ['4', '2199', 'male']
  ])('G digit %s → birth year %s, %s', (g, year, gender) => {
    const pin = `001${g}99012345`
    const r = parseTd1(makeMrz({ ...AN, pin, dateOfBirth: `${year}-03-15`, gender: gender as 'male' | 'female' }))
    expect(r.ok && r.mrz.dateOfBirth).toBe(`${year}-03-15`)
  })

  // Positions of the four check digits in the 90-character string.
  it.each([
    ['document number', 14], ['birth date', 36], ['expiry date', 44], ['composite', 59]
  ])('wrong %s check digit → MRZ_CHECK_DIGIT', (what, at) => {
    const mrz = makeMrz(DUONG)
    const broken = mrz.slice(0, at) + String((Number(mrz[at]) + 1) % 10) + mrz.slice(at + 1)
    const r = parseTd1(broken)
    expect(r).toMatchObject({ ok: false, reason: REASONS.MRZ_CHECK_DIGIT })
    expect(!r.ok && r.detail).toContain(what)
  })

  it('a changed data character is caught by its check digit', () => {
    const mrz = makeMrz(AN)
    const broken = mrz.slice(0, 31) + '8' + mrz.slice(32) // birth 990315 → 980315
    expect(parseTd1(broken)).toMatchObject({ ok: false, reason: REASONS.MRZ_CHECK_DIGIT })
  })

  it('sex that contradicts the PIN gender digit → MRZ_PIN_MISMATCH', () => {
    expect(parseTd1(makeMrz({ ...AN, gender: 'female' }))).toMatchObject({ ok: false, reason: REASONS.MRZ_PIN_MISMATCH })
  })

  it('birth year that contradicts the PIN year digits → MRZ_PIN_MISMATCH', () => {
    expect(parseTd1(makeMrz({ ...AN, dateOfBirth: '1998-03-15' }))).toMatchObject({ ok: false, reason: REASONS.MRZ_PIN_MISMATCH })
  })

  it('no expiry (all fillers, filler check digit)', () => {
    const r = parseTd1(makeMrz({ ...AN, expiry: null }))
    expect(r.ok).toBe(true)
    expect(r.ok && r.mrz.expiryDate).toBeUndefined()
  })

  it.each([
    ['too short', (m: string) => m.slice(0, 88)],
    ['lower case', (m: string) => m.toLowerCase()],
    ['TD3 length (88)', (m: string) => m.slice(0, 88)],
    ['extra line break', (m: string) => m.slice(0, 30) + '\n' + m.slice(30, 89)],
    ['not an ID card', (m: string) => 'P<' + m.slice(2)],
    ['wrong issuer', (m: string) => 'IDUTO' + m.slice(5)],
    ['PIN not digits', (m: string) => m.slice(0, 15) + 'ABCDEFGHIJKL' + m.slice(27)],
    ['sex X', (m: string) => m.slice(0, 37) + 'X' + m.slice(38)],
    ['month 13', (m: string) => m.slice(0, 32) + '13' + m.slice(34)],
    ['30 February', (m: string) => m.slice(0, 32) + '0230' + m.slice(36)]
  ])('%s → MRZ_MALFORMED', (_what, mutate) => {
    expect(parseTd1(mutate(makeMrz(AN)))).toMatchObject({ ok: false, reason: REASONS.MRZ_MALFORMED })
  })
})

describe('parseDg1', () => {
  it('reads the MRZ out of tag 0x61 / 0x5F1F', () => {
    expect(parseDg1(makeDg1(makeMrz(AN))).ok).toBe(true)
  })

  it.each([
    ['empty', new Uint8Array()],
    ['wrong tag', new Uint8Array([0x75, 0x00])],
    ['no 5F1F', new Uint8Array([0x61, 0x03, 0x5f, 0x20, 0x00])],
    ['truncated', makeDg1(makeMrz(AN)).subarray(0, 40)]
  ])('%s → MALFORMED_DG', (_what, bytes) => {
    expect(parseDg1(bytes)).toMatchObject({ ok: false, reason: REASONS.MALFORMED_DG })
  })
})
