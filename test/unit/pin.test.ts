/**
 * PINs (`PPP G YY NNNNNN`): parsing to integer keys, the century/gender digit,
 * consistency with birth date and gender, and masking for logs.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { PROVINCES, centuryGenderDigit, keyToPin, maskPin, pinConsistencyProblem, pinToKey } from '../../src/domain/pin.js'

/** The 63 codes, typed independently from MISSION.md (not copied from the source). */
const MISSION_CODES = (
  '001 002 004 006 008 010 011 012 014 015 017 019 020 022 024 025 026 027 030 031 033 034 035 036 037 038 ' +
  '040 042 044 045 046 048 049 051 052 054 056 058 060 062 064 066 067 068 070 072 074 075 077 079 080 082 ' +
  '083 084 086 087 089 091 092 093 094 095 096'
).split(' ')

/** The nine digits after the province code, 000000000 to 999999999. */
const NINE_DIGITS = fc.integer({ min: 0, max: 999_999_999 }).map((n) => String(n).padStart(9, '0'))

describe('PROVINCES', () => {
  it('holds exactly the 63 codes of the 2021 structure', () => {
    expect(MISSION_CODES).toHaveLength(63)
    expect([...PROVINCES.keys()].sort()).toEqual([...MISSION_CODES].sort())
    expect(PROVINCES.get('001')).toBe('Hà Nội')
    expect(PROVINCES.get('079')).toBe('Hồ Chí Minh')
  })
})

describe('pinToKey', () => {
  it('parses the MISSION example into its integer value', () => {
    expect(pinToKey('001099012345')).toBe(1_099_012_345)
  })

  it('gives the exact integer value for keys above 2^32', () => {
    // 096 399 999 999 > 2^32 (4 294 967 296): must not wrap or lose precision
    expect(pinToKey('096399999999')).toBe(96_399_999_999)
    expect(pinToKey('096399999999')).toBeGreaterThan(2 ** 32)
    expect(pinToKey('079204123456')).toBe(79_204_123_456)
    expect(pinToKey('001000000000')).toBe(1_000_000_000)
    expect(pinToKey('096999999999')).toBe(96_999_999_999)
    expect(Number.isSafeInteger(pinToKey('096999999999'))).toBe(true)
  })

  it('accepts every known province code and rejects every other of the 1000', () => {
    const known = new Set(MISSION_CODES)
    for (let p = 0; p < 1000; p++) {
      const code = String(p).padStart(3, '0')
      const key = pinToKey(`${code}099012345`)
      if (known.has(code)) expect(key, code).toBe(p * 1e9 + 99_012_345)
      else expect(key, code).toBe(-1)
    }
  })

  it('rejects unknown provinces 003, 999, 000, 097', () => {
    for (const code of ['003', '999', '000', '097', '005', '100']) expect(pinToKey(`${code}099012345`), code).toBe(-1)
  })

  it('rejects wrong lengths (0, 11, 13, 24 digits)', () => {
    expect(pinToKey('')).toBe(-1)
    expect(pinToKey('00109901234')).toBe(-1) // 11
    expect(pinToKey('0010990123456')).toBe(-1) // 13
    expect(pinToKey('001099012345001099012345')).toBe(-1)
  })

  it('rejects non-ASCII-digit characters anywhere, including the neighbours of 0 and 9', () => {
    const base = '001099012345'
    const bad = ['/', ':', ' ', '+', '-', '.', 'a', 'e', 'x', '\0', '\n']
    for (let i = 0; i < 12; i++) {
      for (const c of bad) {
        const pin = base.slice(0, i) + c + base.slice(i + 1)
        expect(pin).toHaveLength(12)
        expect(pinToKey(pin), JSON.stringify(pin)).toBe(-1)
      }
    }
  })

  it('rejects Unicode digits (fullwidth, Arabic-Indic, Extended Arabic-Indic, Devanagari)', () => {
    // all 12 UTF-16 code units long, all \p{Nd}
    expect(pinToKey('００１０９９０１２３４５')).toBe(-1)
    expect(pinToKey('٠٠١٠٩٩٠١٢٣٤٥')).toBe(-1)
    expect(pinToKey('۰۰۱۰۹۹۰۱۲۳۴۵')).toBe(-1)
    expect(pinToKey('००१०९९०१२३४५')).toBe(-1)
    // a single fullwidth zero among ASCII digits
    expect(pinToKey('00109901234０')).toBe(-1)
    expect(pinToKey('０01099012345')).toBe(-1)
  })

  it('rejects number-like strings that Number() would accept', () => {
    for (const s of [' 01099012345', '01099012345 ', '1.099012e+09', '0x1099012345', '+01099012345', '-01099012345']) {
      expect(pinToKey(s), s).toBe(-1)
    }
  })
})

describe('keyToPin', () => {
  it('pads to 12 digits', () => {
    expect(keyToPin(1_099_012_345)).toBe('001099012345')
    expect(keyToPin(96_399_999_999)).toBe('096399999999')
  })

  it('round-trips pinToKey for random PINs in every province', () => {
    for (const code of MISSION_CODES) {
      fc.assert(fc.property(NINE_DIGITS, (rest) => {
        const pin = code + rest
        const key = pinToKey(pin)
        expect(key).toBeGreaterThanOrEqual(0)
        expect(keyToPin(key)).toBe(pin)
        expect(pinToKey(keyToPin(key))).toBe(key)
      }), { numRuns: 20 })
    }
  })
})

describe('centuryGenderDigit', () => {
  const table: Array<[number, number, number]> = [
    // year, male, female
    [1900, 0, 1], [1950, 0, 1], [1999, 0, 1],
    [2000, 2, 3], [2003, 2, 3], [2099, 2, 3],
    [2100, 4, 5], [2199, 4, 5],
    [2200, 6, 7], [2299, 6, 7],
    [2300, 8, 9], [2399, 8, 9]
  ]
  for (const [year, male, female] of table) {
    it(`${year}: male ${male}, female ${female}`, () => {
      expect(centuryGenderDigit(year, 'male')).toBe(male)
      expect(centuryGenderDigit(year, 'female')).toBe(female)
    })
  }

  it('is -1 outside 1900–2399', () => {
    for (const year of [1899, 1800, 1000, 0, -1, 2400, 2500, 9999]) {
      expect(centuryGenderDigit(year, 'male'), String(year)).toBe(-1)
      expect(centuryGenderDigit(year, 'female'), String(year)).toBe(-1)
    }
  })
})

describe('pinConsistencyProblem', () => {
  it('accepts the MISSION example: 001099012345 is a man born 1999 (Hà Nội)', () => {
    expect(pinConsistencyProblem('001099012345', '1999-05-17', 'male')).toBeUndefined()
    expect(PROVINCES.get('001099012345'.slice(0, 3))).toBe('Hà Nội')
  })

  it('accepts a woman born 2003 with G=3, and refuses G=2 for her', () => {
    expect(pinConsistencyProblem('079303654321', '2003-12-31', 'female')).toBeUndefined()
    expect(pinConsistencyProblem('079203654321', '2003-12-31', 'female')).toMatch(/century\/gender digit/)
  })

  it('refuses the wrong gender for the example PIN', () => {
    const p = pinConsistencyProblem('001099012345', '1999-05-17', 'female')
    expect(p).toMatch(/century\/gender digit/)
    expect(p).not.toMatch(/female|1999/)
  })

  it('refuses the right year digits in the wrong century (2099 vs 1999)', () => {
    expect(pinConsistencyProblem('001099012345', '2099-05-17', 'male')).toMatch(/century\/gender digit/)
    expect(pinConsistencyProblem('001299012345', '2099-05-17', 'male')).toBeUndefined()
  })

  it('refuses mismatched year digits', () => {
    expect(pinConsistencyProblem('001098012345', '1999-05-17', 'male')).toMatch(/year digits/)
    expect(pinConsistencyProblem('001090012345', '1909-05-17', 'male')).toMatch(/year digits/)
    expect(pinConsistencyProblem('001009012345', '1909-05-17', 'male')).toBeUndefined()
  })

  it('refuses birth years a PIN cannot encode', () => {
    expect(pinConsistencyProblem('001850012345', '1850-01-01', 'male')).toMatch(/outside/)
    expect(pinConsistencyProblem('001000012345', '2400-01-01', 'male')).toMatch(/outside/)
  })

  it('agrees with centuryGenderDigit for every century and gender', () => {
    for (const year of [1901, 2024, 2150, 2265, 2388]) {
      for (const gender of ['male', 'female'] as const) {
        const g = centuryGenderDigit(year, gender)
        const yy = String(year % 100).padStart(2, '0')
        const pin = `001${g}${yy}123456`
        expect(pinConsistencyProblem(pin, `${year}-06-15`, gender), pin).toBeUndefined()
        const wrong = `001${(g + 1) % 10}${yy}123456`
        expect(pinConsistencyProblem(wrong, `${year}-06-15`, gender), wrong).toBeDefined()
      }
    }
  })
})

describe('maskPin', () => {
  it('shows the province code and the last two digits only', () => {
    expect(maskPin('001099012345')).toBe('001*******45')
  })

  it('never reveals more than province + last 2 digits, for random PINs', () => {
    fc.assert(fc.property(fc.constantFrom(...MISSION_CODES), NINE_DIGITS, (code, rest) => {
      const pin = code + rest
      const masked = maskPin(pin)
      expect(masked).toHaveLength(12)
      expect(masked.slice(0, 3)).toBe(pin.slice(0, 3))
      expect(masked.slice(3, 10)).toBe('*******')
      expect(masked.slice(10)).toBe(pin.slice(10))
      // the six random digits and G/YY never appear in clear
      expect(masked.replace(/\*/g, '').length).toBe(5)
    }), { numRuns: 500 })
  })

  it('does not echo input that is not 12 characters', () => {
    for (const s of ['', '00109901234', '0010990123456', '001099012345001099012345']) {
      expect(maskPin(s)).toBe('<invalid>')
    }
  })
})
