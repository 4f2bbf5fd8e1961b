/**
 * The synthetic population generator (src/population): determinism, the prefix
 * property, PIN structure and uniqueness, realistic distributions, card-date
 * rules re-derived independently here with Date, and the NDJSON writer.
 *
 * One 200k-record pass collects every statistic and rule violation up front,
 * so the whole file stays within a few seconds on a slow shared machine.
 */
import { readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { tempDir } from '../helpers/temp.js'
import { beforeAll, describe, expect, it } from 'vitest'
import type { CitizenRecord } from '../../src/domain/citizen.js'
import { PROVINCES, pinConsistencyProblem, pinToKey } from '../../src/domain/pin.js'
import { daysFromCivil, packedFromDays } from '../../src/population/calendar.js'
import { generateCitizens, generatePeople, toJsonLine, writePopulation } from '../../src/population/generate.js'
import { adminUnits, readPlace, unitKey } from '../../src/addresses/index.js'
import { NAME_PARTS } from '../../src/population/names.js'
import { Sfc32, WeightedTable, permuteMillion } from '../../src/population/rng.js'

const SAMPLE = 200_000
const SEED = 20250701

// ---- independent re-derivation of the card rules, with Date (fine in a test) ----

const DAY_MS = 86_400_000
const utc = (y: number, m: number, d: number): number => Date.UTC(y, m - 1, d)
const isLeap = (y: number): boolean => new Date(Date.UTC(y, 1, 29)).getUTCMonth() === 1
/** Birthday at `age`; 29 February falls back to 28 February in common years (the generator's stated convention). */
function birthday (dob: string, age: number): number {
  const [y, m, d] = dob.split('-').map(Number) as [number, number, number]
  return utc(y + age, m, m === 2 && d === 29 && !isLeap(y + age) ? 28 : d)
}
function addYears (iso: string, years: number): number {
  const [y, m, d] = iso.split('-').map(Number) as [number, number, number]
  return utc(y + years, m, d) // 29 Feb → 1 Mar in a common year: only used for "more than two years after"
}
const ms = (iso: string): number => Date.parse(iso + 'T00:00:00Z')
const iso = (t: number): string => new Date(t).toISOString().slice(0, 10)
function isValidIsoDate (s: string): boolean {
  return /^\d{4}-\d{2}-\d{2}$/.test(s) && !Number.isNaN(ms(s)) && iso(ms(s)) === s
}

const REF = ms('2025-12-31')
const CARD_START = ms('2016-01-01')
const CHILD_CARD_START = ms('2024-07-01')

/** Expected expiry: the first of the 25th/40th/60th birthdays more than two years after issue; none if issued at 58+. */
function expectedExpiry (dob: string, issue: string): string | undefined {
  // "More than two years": a 29 Feb issue is compared against 28 Feb two years on, the conservative reading.
  const limit = Math.min(addYears(issue, 2), issue.endsWith('-02-29') ? addYears(issue, 2) - DAY_MS : Infinity)
  for (const age of [25, 40, 60]) {
    const b = birthday(dob, age)
    if (b > limit) return iso(b)
  }
  return undefined
}

/** Why a record breaks a card rule, or undefined. */
function cardProblem (r: CitizenRecord): string | undefined {
  const fourteenth = birthday(r.dateOfBirth, 14)
  if (r.cardIssueDate === undefined) {
    if (r.cardExpiryDate !== undefined) return 'expiry without issue'
    if (fourteenth <= REF) return 'aged 14+ without a card'
    return undefined
  }
  if (!isValidIsoDate(r.cardIssueDate)) return 'invalid issue date'
  if (r.cardExpiryDate !== undefined && !isValidIsoDate(r.cardExpiryDate)) return 'invalid expiry date'
  const issue = ms(r.cardIssueDate)
  if (issue > REF) return 'issued after 2025-12-31'
  if (issue < ms(r.dateOfBirth)) return 'issued before birth'
  if (issue < fourteenth) {
    // Optional child card (Law on Identification 2023, from 2024-07-01): valid until the 14th birthday.
    if (issue < CHILD_CARD_START) return 'child card before 2024-07-01'
    if (r.cardExpiryDate !== iso(fourteenth)) return `child card expiry ${r.cardExpiryDate} != 14th birthday`
    return undefined
  }
  if (issue < CARD_START) return 'issued before 2016-01-01'
  const want = expectedExpiry(r.dateOfBirth, r.cardIssueDate)
  if (r.cardExpiryDate !== want) return `expiry ${r.cardExpiryDate} != expected ${want}`
  return undefined
}

/** The province of 2025 (new form) or before (old form) that a generated place ends with. */
const NEW_PLACE = /^(?:[^,]+, )*(?:Phường|Xã|Đặc khu) [^,]+, (?:Thành phố|Tỉnh) [^,]+$/u
const OLD_PLACE = /^(?:[^,]+, )*(?:Phường|Xã|Thị trấn) [^,]+, (?:Quận|Huyện|Thành phố|Thị xã) [^,]+, (?:Thành phố|Tỉnh) [^,]+$/u
/** The table's name of a PIN province before 2025 (`Thừa Thiên Huế` is the table's `Thành phố Huế`). */
const oldProvinceName = (code: string): string => adminUnits().provinceNames.find(unitKey(PROVINCES.get(code) ?? ''))[0]?.before?.name ?? '?'
const KNOWN_NAME_WORDS = new Set(NAME_PARTS.flat().flatMap(p => p.split(' ')))
const FIELD_ORDER = ['pin', 'fullName', 'dateOfBirth', 'gender', 'placeOfOrigin', 'placeOfResidence', 'cardIssueDate', 'cardExpiryDate', 'status']

// ---- one pass over a 200k sample ----

interface Stats {
  n: number
  problems: string[]
  uniquePins: number
  nguyen100k: number
  hoangHuynh: number
  family: Map<string, number>
  female: number
  deceased: number
  revoked: number
  active: number
  minYear: number
  maxYear: number
  under14: number
  childCards: number
  expiredCards: number
  adults: number
  hanoi: number
  hcm: number
  residesInBirthProvince: number
  residenceNewForm: number
  diacriticNames: { dStroke: number, oaUyOe: number }
}

function problemOf (r: CitizenRecord): string | undefined {
  if (Object.keys(r).join() !== FIELD_ORDER.filter(k => k in r).join()) return 'field order'
  if (pinToKey(r.pin) < 0) return 'pinToKey < 0'
  if (!isValidIsoDate(r.dateOfBirth)) return 'invalid birth date'
  const pinProblem = pinConsistencyProblem(r.pin, r.dateOfBirth, r.gender)
  if (pinProblem !== undefined) return pinProblem
  if (r.fullName !== r.fullName.normalize('NFC')) return 'name not NFC'
  const words = r.fullName.split(' ')
  if (words.length < 3 || words.length > 4) return 'name word count'
  if (!words.every(w => KNOWN_NAME_WORDS.has(w))) return 'unknown name word'
  for (const place of [r.placeOfOrigin, r.placeOfResidence]) {
    if (place === undefined) return 'missing place'
    if (!NEW_PLACE.test(place) && !OLD_PLACE.test(place)) return `bad place ${place}`
    // A real unit of the table: the register's address resolves (a split old ward gives several candidates).
    if (readPlace(place).form === 'unresolved') return `place names no known unit: ${place}`
    if (place !== place.normalize('NFC')) return 'place not NFC'
  }
  for (const v of Object.values(r) as string[]) {
    // The writer concatenates without escaping; this is the property that makes it safe.
    for (let i = 0; i < v.length; i++) {
      const c = v.charCodeAt(i)
      if (c < 0x20 || c === 0x22 || c === 0x5c || (c >= 0xd800 && c <= 0xdfff)) return `unsafe character in ${v}`
    }
  }
  if (toJsonLine(r) !== JSON.stringify(r)) return 'toJsonLine differs from JSON.stringify'
  return cardProblem(r)
}

let stats: Stats

beforeAll(() => {
  const s: Stats = {
    n: 0, problems: [], uniquePins: 0, nguyen100k: 0, hoangHuynh: 0, family: new Map(), female: 0, deceased: 0, revoked: 0,
    active: 0, minYear: 9999, maxYear: 0, under14: 0, childCards: 0, expiredCards: 0, adults: 0, hanoi: 0, hcm: 0,
    residesInBirthProvince: 0, residenceNewForm: 0, diacriticNames: { dStroke: 0, oaUyOe: 0 }
  }
  const pins = new Set<number>()
  for (const { citizen: r, places } of generatePeople(SAMPLE, SEED)) {
    s.n++
    const problem = problemOf(r)
    if (problem !== undefined && s.problems.length < 10) s.problems.push(`${problem}: ${JSON.stringify(r)}`)
    pins.add(pinToKey(r.pin))
    const family = r.fullName.slice(0, r.fullName.indexOf(' '))
    s.family.set(family, (s.family.get(family) ?? 0) + 1)
    if (s.n <= 100_000 && family === 'Nguyễn') s.nguyen100k++
    if (family === 'Hoàng' || family === 'Huỳnh') s.hoangHuynh++
    if (r.fullName.includes('Đ')) s.diacriticNames.dStroke++
    if (/(Hòa|Thủy|Thụy|Khỏe|Hòe|Thúy|Thùy)\b/u.test(r.fullName)) s.diacriticNames.oaUyOe++
    if (r.gender === 'female') s.female++
    s[r.status]++
    const year = Number(r.dateOfBirth.slice(0, 4))
    s.minYear = Math.min(s.minYear, year)
    s.maxYear = Math.max(s.maxYear, year)
    if (birthday(r.dateOfBirth, 14) > REF) {
      s.under14++
      if (r.cardIssueDate !== undefined) s.childCards++
    } else {
      s.adults++
      if (r.cardExpiryDate !== undefined && ms(r.cardExpiryDate) < REF) s.expiredCards++
    }
    const code = r.pin.slice(0, 3)
    if (code === '001') s.hanoi++
    if (code === '079') s.hcm++
    if (places.placeOfResidence.old.endsWith(', ' + oldProvinceName(code))) s.residesInBirthProvince++
    if (r.placeOfResidence === places.placeOfResidence.new) s.residenceNewForm++
    // The two forms name the same place: the old form's candidates include the new form's one place.
    if (s.n <= 20_000) {
      for (const forms of [places.placeOfOrigin, places.placeOfResidence]) {
        const now = readPlace(forms.new)
        if (now.form !== 'new' || !readPlace(forms.old).candidates.includes(now.candidates[0]!)) s.problems.push(`forms disagree: ${JSON.stringify(forms)}`)
      }
    }
  }
  s.uniquePins = pins.size
  stats = s
}, 60_000)

describe('generated records', () => {
  it('all pass PIN, date, name, place, JSON-safety and card-date checks', () => {
    expect(stats.n).toBe(SAMPLE)
    expect(stats.problems).toEqual([])
  })

  it('have unique PINs over 200k', () => {
    expect(stats.uniquePins).toBe(SAMPLE)
  })

  it('have a realistic family-name distribution', () => {
    expect(stats.nguyen100k / 100_000).toBeGreaterThan(0.33)
    expect(stats.nguyen100k / 100_000).toBeLessThan(0.43)
    const share = (name: string): number => (stats.family.get(name) ?? 0) / SAMPLE
    expect(share('Trần')).toBeGreaterThan(0.09)
    expect(share('Trần')).toBeLessThan(0.13)
    expect(share('Lê')).toBeGreaterThan(0.08)
    expect(stats.hoangHuynh / SAMPLE).toBeGreaterThan(0.04)
    expect(stats.hoangHuynh / SAMPLE).toBeLessThan(0.065)
    for (const name of ['Phạm', 'Phan', 'Vũ', 'Võ', 'Đặng', 'Bùi', 'Đỗ', 'Hồ', 'Ngô', 'Dương', 'Lý', 'Đinh', 'Trịnh']) {
      expect(stats.family.get(name) ?? 0, name).toBeGreaterThan(0)
    }
    expect(stats.family.size).toBeGreaterThan(40)
  })

  it('include Đ and tone marks on oa/oe/uy', () => {
    expect(stats.diacriticNames.dStroke).toBeGreaterThan(SAMPLE * 0.02)
    expect(stats.diacriticNames.oaUyOe).toBeGreaterThan(SAMPLE * 0.01)
  })

  it('are about half women, with a plausible age pyramid', () => {
    expect(stats.female / SAMPLE).toBeGreaterThan(0.49)
    expect(stats.female / SAMPLE).toBeLessThan(0.51)
    expect(stats.minYear).toBeGreaterThanOrEqual(1930)
    expect(stats.maxYear).toBe(2025)
    expect(stats.under14 / SAMPLE).toBeGreaterThan(0.15)
    expect(stats.under14 / SAMPLE).toBeLessThan(0.3)
  })

  it('give cards to everyone 14+, to few children, and keep few expired cards', () => {
    expect(stats.childCards / stats.under14).toBeLessThan(0.05)
    expect(stats.expiredCards / stats.adults).toBeLessThan(0.02)
  })

  it('have the expected status mix', () => {
    expect(stats.active / SAMPLE).toBeGreaterThan(0.99)
    expect(stats.deceased / SAMPLE).toBeGreaterThan(0.004)
    expect(stats.deceased / SAMPLE).toBeLessThan(0.006)
    expect(stats.revoked / SAMPLE).toBeGreaterThan(0.0013)
    expect(stats.revoked / SAMPLE).toBeLessThan(0.0027)
  })

  it('weight Hà Nội and Hồ Chí Minh, and mostly live in the birth province', () => {
    expect(stats.hanoi / SAMPLE).toBeGreaterThan(0.05)
    expect(stats.hcm / SAMPLE).toBeGreaterThan(0.05)
    expect(stats.residesInBirthProvince / SAMPLE).toBeGreaterThan(0.75)
    // The register holds the 2025 form for about 90% of addresses, the old form for the rest
    expect(stats.residenceNewForm / SAMPLE).toBeGreaterThan(0.88)
    expect(stats.residenceNewForm / SAMPLE).toBeLessThan(0.92)
  })
})

describe('generateCitizens', () => {
  const take = (count: number, seed: number): string[] => Array.from(generateCitizens(count, seed), r => JSON.stringify(r))

  it('is deterministic for a seed and differs between seeds', () => {
    expect(take(2000, 1)).toEqual(take(2000, 1))
    const a = take(2000, 1)
    const b = take(2000, 2)
    expect(a.filter((line, i) => line === b[i]).length).toBe(0)
    // Both 32-bit halves of the seed matter.
    expect(take(10, 2 ** 40)).not.toEqual(take(10, 0))
  })

  it('yields a prefix of a longer run', () => {
    expect(take(1000, 7)).toEqual(take(5000, 7).slice(0, 1000))
  })

  it('checks its arguments when called', () => {
    expect(() => generateCitizens(-1, 1)).toThrow(RangeError)
    expect(() => generateCitizens(1.5, 1)).toThrow(RangeError)
    expect(() => generateCitizens(1, Number.NaN)).toThrow(RangeError)
    expect(take(0, 1)).toEqual([])
  })
})

describe('writePopulation', () => {
  let dir: string
  beforeAll(() => { dir = tempDir('idv-population') })

  it('writes NDJSON that parses back to the generated records', async () => {
    const count = 20_000 // ~6 MB: several chunks and at least one wait for 'drain'
    const out = join(dir, 'a.ndjson')
    const progress: Array<[number, number]> = []
    const result = await writePopulation({ count, seed: 99, out, onProgress: (done, total) => progress.push([done, total]) })
    const text = await readFile(out, 'utf8')
    expect(result).toEqual({ count, bytes: (await stat(out)).size })
    expect(text.endsWith('\n')).toBe(true)
    const lines = text.slice(0, -1).split('\n')
    const expected = Array.from(generateCitizens(count, 99))
    expect(lines.length).toBe(count)
    expect(lines.map(l => JSON.parse(l) as CitizenRecord)).toEqual(expected)
    expect(lines).toEqual(expected.map(r => JSON.stringify(r)))
    expect(progress.length).toBeGreaterThan(2)
    expect(progress.at(-1)).toEqual([count, count])
    expect(progress.every(([done], i) => i === 0 || done >= (progress[i - 1]?.[0] ?? 0))).toBe(true)
  })

  it('is byte-identical for the same seed and differs for another', async () => {
    const files = ['b1', 'b2', 'c'].map(n => join(dir, n + '.ndjson'))
    await writePopulation({ count: 3000, seed: 5, out: files[0] as string })
    await writePopulation({ count: 3000, seed: 5, out: files[1] as string })
    await writePopulation({ count: 3000, seed: 6, out: files[2] as string })
    const [b1, b2, c] = await Promise.all(files.map(async f => await readFile(f)))
    expect(b1?.equals(b2 as Buffer)).toBe(true)
    expect(b1?.equals(c as Buffer)).toBe(false)
  })

  it('writes an empty file for count 0 and rejects on an unwritable path', async () => {
    const out = join(dir, 'empty.ndjson')
    expect(await writePopulation({ count: 0, seed: 1, out })).toEqual({ count: 0, bytes: 0 })
    expect((await stat(out)).size).toBe(0)
    await expect(writePopulation({ count: 10, seed: 1, out: join(dir, 'missing', 'x.ndjson') })).rejects.toThrow(/ENOENT/)
  })
})

describe('building blocks', () => {
  it('permuteMillion is a bijection of 0..999999 and depends on the key', () => {
    const seen = new Uint8Array(1_000_000)
    for (let x = 0; x < 1_000_000; x++) seen[permuteMillion(x, 0x12345678)] = 1
    expect(seen.indexOf(0)).toBe(-1)
    expect(permuteMillion(0, 1)).not.toBe(permuteMillion(0, 2))
  })

  it('sfc32 draws look uniform', () => {
    const rng = new Sfc32(3)
    const buckets = new Array<number>(10).fill(0)
    for (let i = 0; i < 100_000; i++) buckets[rng.int(10)]! += 1
    for (const b of buckets) expect(Math.abs(b - 10_000)).toBeLessThan(500)
  })

  it('WeightedTable follows its weights', () => {
    const table = new WeightedTable([['a', 70], ['b', 29], ['c', 1]])
    const rng = new Sfc32(4)
    const counts = { a: 0, b: 0, c: 0 }
    for (let i = 0; i < 100_000; i++) counts[table.pick(rng) as 'a' | 'b' | 'c']++
    expect(counts.a / 1000).toBeCloseTo(70, -0.5)
    expect(counts.c).toBeGreaterThan(800)
    expect(counts.c).toBeLessThan(1200)
  })

  it('calendar arithmetic agrees with Date over 1930–2100', () => {
    const mismatches: string[] = []
    for (let t = utc(1930, 1, 1); t <= utc(2100, 12, 31); t += DAY_MS) {
      const day = t / DAY_MS
      const d = new Date(t)
      const packed = d.getUTCFullYear() * 10000 + (d.getUTCMonth() + 1) * 100 + d.getUTCDate()
      if (packedFromDays(day) !== packed || daysFromCivil(d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate()) !== day) {
        mismatches.push(iso(t))
      }
    }
    expect(mismatches).toEqual([])
  })
})
