/**
 * Deterministic synthetic population register: `generateCitizens` streams
 * CitizenRecords for a seed, `writePopulation` writes them as NDJSON.
 *
 * Design:
 * - One sfc32 stream per seed, consumed record by record, and nothing depends
 *   on `count`: so generateCitizens(n, s) is a prefix of generateCitizens(m, s),
 *   and a benchmark of 1M sees the first 1M citizens of the 100M population.
 * - Unique PINs without remembering them: the six random digits are a per-bucket
 *   counter pushed through a seeded bijection of 0..999999 (rng.ts), one bucket
 *   per (province, G, YY). State is one Uint32Array of 63,000 counters, so a
 *   100M population costs 252 KB, not a Set of 100M strings.
 * - The reference "today" of the register is 2025-12-31: ages, card issue
 *   windows and renewals are computed against it.
 * - The hot loop allocates only the record and its strings: dates are packed
 *   integers (calendar.ts), weighted choices are table lookups, JSON lines are
 *   built by concatenation (every string here is known to need no escaping;
 *   the tests compare with JSON.stringify).
 */
import { once } from 'node:events'
import { createWriteStream } from 'node:fs'
import { finished } from 'node:stream/promises'
import type { CitizenRecord, CitizenStatus } from '../domain/citizen.js'
import { centuryGenderDigit } from '../domain/pin.js'
import {
  anniversaryPacked, daysFromCivil, daysFromPacked, isLeapYear, isoDate, isoFromPacked, monthDayOfYear, packedFromDays
} from './calendar.js'
import { pickFullName } from './names.js'
import { BIRTH_PROVINCES, PROVINCE_LIST, type PlaceForms, type Province, pickOriginProvince, pickPlace, pickResidenceProvince } from './places.js'
import { Sfc32, WeightedTable, hash32, permuteMillion } from './rng.js'

/** The register's "today": nobody is born, and no card is issued, after it. */
export const REFERENCE_DATE = '2025-12-31'
const REF_PACKED = 20251231
const REF_DAY = daysFromPacked(REF_PACKED)
/** Chip cards (CCCD) replaced the old ones from 2016; issue dates start there. */
const CARD_START_PACKED = 20160101
/** The 2021–2022 national issuing campaign, when most cards in circulation were made. */
const CAMPAIGN_START_DAY = daysFromCivil(2021, 3, 1)
const CAMPAIGN_END_DAY = daysFromCivil(2022, 6, 30)
/** The 2023 Law on Identification (in force 2024-07-01) lets children under 14 get a card on request. */
const CHILD_CARD_START_DAY = daysFromCivil(2024, 7, 1)

export const FIRST_BIRTH_YEAR = 1930
export const LAST_BIRTH_YEAR = 2025

/**
 * The age pyramid: Vietnam's population by five-year age group (thousands,
 * GSO estimates for 2024, rounded), from age 0–4 up to 90–95. Each birth year
 * gets its group's weight divided evenly; the bulge at 30–39 and the thin top
 * are what matter for realistic birth-year collisions.
 */
const AGE_GROUPS = [7300, 8000, 7700, 7000, 6900, 7400, 8200, 8000, 7400, 6800, 6000, 5200, 4300, 3300, 2300, 1300, 900, 600, 300]
const BIRTH_YEARS = new WeightedTable(Array.from({ length: LAST_BIRTH_YEAR - FIRST_BIRTH_YEAR + 1 }, (_, i) => {
  const year = FIRST_BIRTH_YEAR + i
  const age = LAST_BIRTH_YEAR - year
  const group = Math.min(Math.floor(age / 5), AGE_GROUPS.length - 1)
  const width = group === AGE_GROUPS.length - 1 ? 6 : 5 // the last group spans ages 90–95
  return [year, (AGE_GROUPS[group] ?? 0) / width] as const
}))

/** Status thresholds on one uint32 draw: 0.5% deceased, 0.2% revoked, the rest active. */
const DECEASED_BELOW = 0.005 * 4294967296
const REVOKED_BELOW = 0.007 * 4294967296

const TWO_DIGITS: readonly string[] = Array.from({ length: 100 }, (_, i) => String(i).padStart(2, '0'))
const PIN_BUCKETS_PER_PROVINCE = 1000 // G (0–9) × YY (00–99)

/**
 * Card expiry under the Law on Identification: the card must be renewed at 25,
 * 40 and 60; a card issued within two years before one of those birthdays
 * stays valid until the next one, and a card issued at 58 or later never
 * expires. Returns the packed expiry date, or 0 for "no expiry".
 */
export function cardExpiryPacked (birthY: number, birthM: number, birthD: number, issuePacked: number): number {
  // issue + 2 years as a packed date; a 29 Feb issue gives 29 Feb of a common year, which still orders correctly.
  const twoYearsLater = issuePacked + 20000
  for (const age of [25, 40, 60]) {
    const milestone = anniversaryPacked(birthY, birthM, birthD, age)
    if (milestone > twoYearsLater) return milestone
  }
  return 0
}

/**
 * Share of register addresses written in the 2025 units: the register was
 * converted in July 2025, but not every record (tests and benchmarks then
 * meet both forms on the register's side too).
 */
const NEW_FORM_SHARE = 0.9

/** Both forms of a generated citizen's places, whichever the register holds. */
export interface CitizenPlaces {
  readonly placeOfOrigin: PlaceForms
  readonly placeOfResidence: PlaceForms
}

/** The record generator proper; one instance per stream. */
class PopulationStream {
  /** Both forms of the last record's places. */
  places: CitizenPlaces | undefined
  private readonly rng: Sfc32
  /** Next counter value per PIN bucket (province index × 1000 + G × 100 + YY). */
  private readonly counters = new Uint32Array(PROVINCE_LIST.length * PIN_BUCKETS_PER_PROVINCE)
  /** Keys the six-digit permutations, so different seeds give different PIN suffixes. */
  private readonly pinKey: number

  constructor (seed: number) {
    this.rng = new Sfc32(seed)
    this.pinKey = this.rng.next()
  }

  next (): CitizenRecord {
    const rng = this.rng
    const female = rng.next() >= 0x80000000
    const gender = female ? 'female' : 'male'

    const y = BIRTH_YEARS.pick(rng)
    const md = monthDayOfYear(y, rng.int(isLeapYear(y) ? 366 : 365))
    const m = md >>> 5
    const d = md & 31
    const dateOfBirth = isoDate(y, m, d)

    let provinceIndex = BIRTH_PROVINCES.pickIndex(rng)
    const g = centuryGenderDigit(y, gender)
    const yy = y % 100
    // A bucket holds 10^6 PINs; at realistic sizes (100M people, ≤ ~100k per bucket) this never
    // loops, but if one fills up the birth moves to the next province rather than reusing a PIN.
    let bucket = provinceIndex * PIN_BUCKETS_PER_PROVINCE + g * 100 + yy
    for (let tries = 0; (this.counters[bucket] ?? 0) >= 1_000_000; tries++) {
      if (tries >= PROVINCE_LIST.length) throw new RangeError(`every PIN for G=${g}, YY=${yy} is taken`)
      provinceIndex = (provinceIndex + 1) % PROVINCE_LIST.length
      bucket = provinceIndex * PIN_BUCKETS_PER_PROVINCE + g * 100 + yy
    }
    const serial = this.counters[bucket] ?? 0
    this.counters[bucket] = serial + 1
    const suffix = permuteMillion(serial, hash32(this.pinKey ^ Math.imul(bucket + 1, 0x9e3779b1)))
    const province = PROVINCE_LIST[provinceIndex] as Province
    const pin = province.code + String(g) + (TWO_DIGITS[yy] as string) + String(1_000_000 + suffix).slice(1)

    const fullName = pickFullName(rng, female, y, province.southern)
    const origin = pickPlace(rng, pickOriginProvince(rng, provinceIndex), false)
    const residence = pickPlace(rng, pickResidenceProvince(rng, provinceIndex), true)
    this.places = { placeOfOrigin: origin, placeOfResidence: residence }
    const placeOfOrigin = rng.chance(NEW_FORM_SHARE) ? origin.new : origin.old
    const placeOfResidence = rng.chance(NEW_FORM_SHARE) ? residence.new : residence.old

    const statusDraw = rng.next()
    const status: CitizenStatus = statusDraw < DECEASED_BELOW ? 'deceased' : statusDraw < REVOKED_BELOW ? 'revoked' : 'active'

    const card = this.card(y, m, d)
    if (card === undefined) {
      return { pin, fullName, dateOfBirth, gender, placeOfOrigin, placeOfResidence, status }
    }
    const cardIssueDate = isoFromPacked(card.issue)
    if (card.expiry === 0) {
      return { pin, fullName, dateOfBirth, gender, placeOfOrigin, placeOfResidence, cardIssueDate, status }
    }
    const cardExpiryDate = isoFromPacked(card.expiry)
    return { pin, fullName, dateOfBirth, gender, placeOfOrigin, placeOfResidence, cardIssueDate, cardExpiryDate, status }
  }

  /** The card currently on record (packed dates; expiry 0 = none), or undefined for no card. */
  private card (y: number, m: number, d: number): { issue: number, expiry: number } | undefined {
    const rng = this.rng
    const fourteenth = anniversaryPacked(y, m, d, 14)
    if (fourteenth > REF_PACKED) {
      // Under 14: only a few parents have asked for the optional card, valid until the 14th birthday.
      if (!rng.chance(0.02)) return undefined
      const from = Math.max(daysFromCivil(y, m, d), CHILD_CARD_START_DAY)
      return { issue: packedFromDays(from + rng.int(REF_DAY - from + 1)), expiry: fourteenth }
    }
    const start = daysFromPacked(Math.max(CARD_START_PACKED, fourteenth))
    let issueDay: number
    if (start <= CAMPAIGN_END_DAY && rng.chance(0.55)) {
      const from = Math.max(start, CAMPAIGN_START_DAY)
      issueDay = from + rng.int(CAMPAIGN_END_DAY - from + 1)
    } else {
      issueDay = start + rng.int(REF_DAY - start + 1)
    }
    let issue = packedFromDays(issueDay)
    let expiry = cardExpiryPacked(y, m, d, issue)
    // Cards that expired before the reference date were mostly renewed, from three months
    // before the milestone birthday to a year after it; 3% of holders never came back.
    while (expiry !== 0 && expiry < REF_PACKED && rng.chance(0.97)) {
      const due = daysFromPacked(expiry)
      const from = due - 90
      const to = Math.min(due + 365, REF_DAY)
      issue = packedFromDays(from + rng.int(to - from + 1))
      expiry = cardExpiryPacked(y, m, d, issue)
    }
    return { issue, expiry }
  }
}

function checkCount (count: number): void {
  if (!Number.isSafeInteger(count) || count < 0) throw new RangeError(`count must be a non-negative safe integer, got ${count}`)
}

/**
 * Streams `count` synthetic citizens for `seed`. Deterministic; holds only
 * O(1) state (PIN counters), never the population. The arguments are checked
 * on the call, not on the first `next()`.
 */
export function generateCitizens (count: number, seed: number): Generator<CitizenRecord> {
  checkCount(count)
  const stream = new PopulationStream(seed) // validates the seed
  return (function * () {
    for (let i = 0; i < count; i++) yield stream.next()
  })()
}

/**
 * `generateCitizens` with both forms of each citizen's places (the register
 * holds one of them), for tests, benchmarks and the demo that ask in the
 * other form.
 */
export function generatePeople (count: number, seed: number): Generator<{ citizen: CitizenRecord, places: CitizenPlaces }> {
  checkCount(count)
  const stream = new PopulationStream(seed)
  return (function * () {
    for (let i = 0; i < count; i++) {
      const citizen = stream.next()
      yield { citizen, places: stream.places! }
    }
  })()
}

/**
 * The NDJSON line (without newline) of a generated record, byte-identical to
 * JSON.stringify(record). Built by concatenation and escaping nothing, which
 * is only correct because the generator's strings contain no quote, backslash
 * or control character: use JSON.stringify for records from anywhere else.
 */
export function toJsonLine (r: CitizenRecord): string {
  let line = '{"pin":"' + r.pin + '","fullName":"' + r.fullName + '","dateOfBirth":"' + r.dateOfBirth + '","gender":"' + r.gender + '"'
  if (r.placeOfOrigin !== undefined) line += ',"placeOfOrigin":"' + r.placeOfOrigin + '"'
  if (r.placeOfResidence !== undefined) line += ',"placeOfResidence":"' + r.placeOfResidence + '"'
  if (r.cardIssueDate !== undefined) line += ',"cardIssueDate":"' + r.cardIssueDate + '"'
  if (r.cardExpiryDate !== undefined) line += ',"cardExpiryDate":"' + r.cardExpiryDate + '"'
  return line + ',"status":"' + r.status + '"}'
}

export interface WritePopulationOptions {
  count: number
  seed: number
  /** File path; created or truncated. */
  out: string
  /** Called after each chunk is handed to the file, and once at the end with written === total. */
  onProgress?: (written: number, total: number) => void
}

/** Characters per write: large enough that syscalls are negligible, small enough to stay in cache. */
const CHUNK_CHARS = 1 << 20

/**
 * Writes `count` citizens for `seed` to `out` as NDJSON (one record per line,
 * fields in CitizenRecord order). Writes go out in ~1 MiB chunks, and the
 * generator pauses whenever the file stream's buffer is full (backpressure),
 * so memory stays flat whatever the count. Same count and seed → same bytes.
 */
export async function writePopulation (options: WritePopulationOptions): Promise<{ count: number, bytes: number }> {
  const { count, seed, out, onProgress } = options
  const records = generateCitizens(count, seed)
  // 'wx': never overwrite (an extract given as --out by mistake would be lost).
  const stream = createWriteStream(out, { flags: 'wx', highWaterMark: 4 * CHUNK_CHARS })
  // Without a listener an async open/write error would be an uncaught exception; keep it and rethrow here.
  let failure: Error | undefined
  stream.on('error', (err: Error) => { failure = err })
  let bytes = 0
  let written = 0

  const flush = async (chunk: string): Promise<void> => {
    const buf = Buffer.from(chunk, 'utf8')
    bytes += buf.length
    if (!stream.write(buf) && failure === undefined) {
      // once() rejects if 'error' fires first, so a failing disk cannot leave us waiting for 'drain' forever.
      await once(stream, 'drain')
    }
    if (failure !== undefined) throw failure
  }

  try {
    let chunk = ''
    for (const record of records) {
      chunk += toJsonLine(record) + '\n'
      written++
      if (chunk.length >= CHUNK_CHARS) {
        await flush(chunk)
        chunk = ''
        onProgress?.(written, count)
      }
    }
    if (chunk.length > 0) await flush(chunk)
    stream.end()
    await finished(stream)
  } catch (err) {
    stream.destroy()
    throw err
  }
  onProgress?.(written, count)
  return { count: written, bytes }
}
