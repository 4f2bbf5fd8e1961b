/**
 * Reading an address: "Số 12, Phường Điện Biên, Quận Ba Đình, Thành phố Hà Nội"
 * (the form before 1 July 2025: ward, district, province) or "Số 12, Phường Ba
 * Đình, Thành phố Hà Nội" (the form after: ward, province), into the canonical
 * places it can denote: (street part, 2025 ward, 2025 province).
 *
 * - The address is cut at commas (and `;`, line breaks; ` - ` when it has no
 *   comma) and read from
 *   the end: province, then district or ward. A leading type (`Phường`, `P.`,
 *   `Q.`, `TP.`, `TX.`, `H.`, `X.`, `TT.`, `Tỉnh`, `T.`) narrows a unit down;
 *   without one, both readings are tried.
 * - New form: the ward is a 2025 ward of the 2025 province: one candidate.
 * - Old form: the district is a pre-2025 district of the pre-2025 province,
 *   the ward one of its wards; the candidates are the 2025 wards it went to
 *   (several when it was split). An unknown district (renamed or merged before
 *   2025: `Quận 2` of Hồ Chí Minh City) still resolves when the ward's name is
 *   unique in the old province; a known district without that ward does not.
 * - Anything else (an unknown name, a typo, two units of one name and nothing
 *   to tell them apart) is `unresolved`: it is compared as text, as before.
 *   Nothing is guessed.
 */
import { canonicalName } from '../domain/normalize.js'
import { hasDiacritics, asciiKey, streetKey, unitKey } from './fold.js'
import { adminUnits, type AdminUnits, type OldDistrict, type OldWard, type ProvinceEntry, type UnitType } from './units.js'

export type PlaceForm = 'new' | 'old' | 'unresolved'

/** How a relying party's addresses compare (its policy): across the 2025 reorganisation, or only as the same units. */
export const ADDRESS_MATCHING = ['reorganisation-aware', 'exact'] as const
export type AddressMatching = typeof ADDRESS_MATCHING[number]

export interface PlaceReading {
  readonly form: PlaceForm
  /**
   * Canonical places to hash (`u|street|ward|province`): one for the new form,
   * one to three for the old form (a split ward), none when unresolved.
   */
  readonly candidates: readonly string[]
}

/** Longest address read as units; longer input is compared as text (it is refused before reaching here, at 500). */
export const MAX_PLACE_CHARS = 500
/**
 * Segments beyond the last few are street part; a hostile address of 500
 * commas costs one split. ` - ` separates only in addresses without commas:
 * with them it is part of a name (`Bà Rịa - Vũng Tàu`, `Phan Rang - Tháp Chàm`).
 */
const SEGMENT_SPLIT = /[,;\n\r|]/
const DASHED_SPLIT = /[\n\r|]|\s[-–—]\s/
const HAS_COMMA = /[,;]/
const COUNTRY = new Set(['việt nam', 'viet nam', 'vietnam', 'vn'].map(unitKey))
const UNRESOLVED: PlaceReading = { form: 'unresolved', candidates: [] }

/** The text canonical form (today's comparison, for what does not resolve), tagged apart from unit forms. */
export function textPlace (input: string): string {
  return `t|${canonicalName(input)}`
}

/** What the register's slot holds for an address: its one canonical place, or its text form (unresolved, split ward). */
export function storedPlace (input: string): string {
  const reading = readPlace(input)
  return reading.candidates.length === 1 ? reading.candidates[0]! : textPlace(input)
}

/** Reads an address into its canonical places (see the header). */
export function readPlace (input: string, units: AdminUnits = adminUnits()): PlaceReading {
  if (input.length > MAX_PLACE_CHARS) return UNRESOLVED
  const segments = input.split(HAS_COMMA.test(input) ? SEGMENT_SPLIT : DASHED_SPLIT).map((s) => s.trim()).filter((s) => s !== '')
  if (segments.length < 2) return UNRESOLVED
  while (segments.length > 0 && COUNTRY.has(parseUnit(segments[segments.length - 1]!).whole)) segments.pop()
  const n = segments.length
  if (n < 2) return UNRESOLVED
  const province = findProvince(units, parseUnit(segments[n - 1]!))
  if (province === undefined) return UNRESOLVED
  const second = parseUnit(segments[n - 2]!)
  const third = n >= 3 ? parseUnit(segments[n - 3]!) : undefined
  let found: Found | undefined
  let ambiguous = false
  const offer = (f: Found | undefined | null): void => {
    if (f === null) { ambiguous = true; return }
    if (f === undefined) return
    if (found === undefined) found = f
    else if (!sameFound(found, f)) ambiguous = true
  }
  if (province.before !== undefined && third !== undefined && canBe(second, DISTRICT_TYPES)) {
    // Old form with its district: the strongest reading when it resolves.
    offer(findOldWardInDistrict(province.before.districts.find(second.core, second.exact), second, third, n - 3))
  }
  if (found === undefined && !ambiguous) {
    if (province.now !== undefined && canBe(second, WARD_TYPES)) offer(findNewWard(units, province.now, second, n - 2))
    // Old form without its district, or with one the table does not know: only where the province name is pre-2025 only.
    if (province.before !== undefined && province.now === undefined && canBe(second, WARD_TYPES)) {
      offer(oneOldWard(province.before.wards.find(second.core, second.exact), second, n - 2))
    }
    if (province.before !== undefined && third !== undefined && canBe(second, DISTRICT_TYPES) && province.before.districts.find(second.core, second.exact).length === 0) {
      offer(oneOldWard(province.before.wards.find(third.core, third.exact), third, n - 3))
    }
  }
  if (found === undefined || ambiguous) return UNRESOLVED
  const street = streetKey(segments.slice(0, found.streetEnd).join(' '))
  const candidates = found.wards.map((w) => `u|${street}|${units.wards[w]!.key}`)
  return { form: found.form, candidates }
}

interface Found { readonly form: 'new' | 'old', readonly wards: readonly number[], readonly streetEnd: number }

function sameFound (a: Found, b: Found): boolean {
  return a.streetEnd === b.streetEnd && a.wards.length === b.wards.length && a.wards.every((w, i) => w === b.wards[i])
}

/** One segment read as a unit: its type when it starts with one, and its name without the type. */
interface UnitText {
  readonly type: UnitType | undefined
  /** The name without the type; when the type was only a reading of ASCII words, also the whole. */
  readonly core: string
  /** The whole segment as a key, for an ASCII segment whose first words may be a name (`phuong lien`). */
  readonly whole: string
  /** The segment has diacritics (in its type word too): its name compares with them. */
  readonly exact: boolean
}

const WARD_TYPES: ReadonlySet<UnitType> = new Set<UnitType>(['phường', 'xã', 'thị trấn', 'đặc khu'])
const DISTRICT_TYPES: ReadonlySet<UnitType> = new Set<UnitType>(['quận', 'huyện', 'thị xã', 'thành phố'])
const PROVINCE_TYPES: ReadonlySet<UnitType> = new Set<UnitType>(['tỉnh', 'thành phố'])

/** Type words and their abbreviations, longest first; an ASCII input word matches the ASCII of a type word. */
const TYPE_WORDS: ReadonlyArray<readonly [readonly string[], UnitType]> = ([
  ['thành phố', 'thành phố'], ['t p', 'thành phố'], ['tp', 'thành phố'],
  ['thị trấn', 'thị trấn'], ['tt', 'thị trấn'],
  ['thị xã', 'thị xã'], ['tx', 'thị xã'],
  ['đặc khu', 'đặc khu'], ['đk', 'đặc khu'],
  ['phường', 'phường'], ['p', 'phường'],
  ['xã', 'xã'], ['x', 'xã'],
  ['quận', 'quận'], ['q', 'quận'],
  ['huyện', 'huyện'], ['h', 'huyện'],
  ['tỉnh', 'tỉnh'], ['t', 'tỉnh']
] as const).map(([words, type]) => [unitKey(words).split(' '), type] as const)

/** `P1`, `Q10`: a type letter glued to a number. */
const GLUED_NUMBER = /^([pq])(\d+)$/

/**
 * Segments read so far: unit names recur (`Thành phố Hà Nội`, `Quận Ba Đình`),
 * so most lookups skip Unicode normalisation. Bounded, since hostile input
 * could be all distinct segments; long segments are street parts, not cached.
 */
const UNITS_READ = new Map<string, UnitText>()
const MAX_CACHED_SEGMENTS = 16_384
const MAX_CACHED_SEGMENT_LENGTH = 48

/** Longer than any unit name with its type (the longest are about 40 characters): not folded, not a unit. */
const MAX_UNIT_CHARS = 64
const NOT_A_UNIT: UnitText = { type: undefined, core: '', whole: '', exact: false }

function parseUnit (segment: string): UnitText {
  if (segment.length > MAX_UNIT_CHARS) return NOT_A_UNIT
  const cached = UNITS_READ.get(segment)
  if (cached !== undefined) return cached
  const unit = parseUnitText(segment)
  if (segment.length <= MAX_CACHED_SEGMENT_LENGTH && UNITS_READ.size < MAX_CACHED_SEGMENTS) UNITS_READ.set(segment, unit)
  return unit
}

function parseUnitText (segment: string): UnitText {
  const key = unitKey(segment)
  let words = key.split(' ')
  const glued = GLUED_NUMBER.exec(words[0]!)
  if (glued !== null) words = [glued[1]!, String(Number(glued[2]!)), ...words.slice(1)]
  for (const [typeWords, type] of TYPE_WORDS) {
    if (words.length <= typeWords.length) continue
    let ok = true
    for (let i = 0; i < typeWords.length && ok; i++) {
      const w = words[i]!
      ok = w === typeWords[i] || (!hasDiacritics(w) && w === asciiKey(typeWords[i]!))
    }
    if (ok) return { type, core: words.slice(typeWords.length).join(' '), whole: key, exact: hasDiacritics(key) }
  }
  return { type: undefined, core: words.join(' '), whole: key, exact: hasDiacritics(key) }
}

/** True when a segment may be a unit of these types (its type is one of them, or it has none). */
function canBe (u: UnitText, types: ReadonlySet<UnitType>): boolean {
  return u.type === undefined || types.has(u.type)
}

function findProvince (units: AdminUnits, u: UnitText): ProvinceEntry | undefined {
  if (!canBe(u, PROVINCE_TYPES)) return undefined
  const found = units.provinceNames.find(u.core, u.exact)
  return found.length === 1 ? found[0] : undefined
}

/**
 * Narrows same-named units by the type the address gave: those of that type
 * when any, else all (units change type: a township becomes a ward, a rural
 * district a town), so a type never invents a unit and only tells apart.
 */
function byType<T extends { readonly type: UnitType }> (units: readonly T[], type: UnitType | undefined): readonly T[] {
  if (type === undefined || units.length < 2) return units
  const typed = units.filter((u) => u.type === type)
  return typed.length > 0 ? typed : units
}

/** The ASCII reading `phuong lien` may be a type and a name or a name (Phương Liên): both are looked up. */
function namesOf (u: UnitText): readonly string[] {
  return u.type !== undefined && !hasDiacritics(u.whole) ? [u.core, u.whole] : [u.core]
}

function findNewWard (units: AdminUnits, province: number, u: UnitText, streetEnd: number): Found | undefined | null {
  const lookup = units.provinces[province]!.wards
  const matches = new Set<number>()
  for (const name of namesOf(u)) for (const w of byType(lookup.find(name, u.exact), u.type)) matches.add(w.index)
  if (matches.size === 0) return undefined
  if (matches.size > 1) return null
  return { form: 'new', wards: [...matches], streetEnd }
}

function findOldWardInDistrict (districts: readonly OldDistrict[], d: UnitText, w: UnitText, streetEnd: number): Found | undefined | null {
  const wards: OldWard[] = []
  for (const district of byType(districts, d.type)) {
    for (const name of namesOf(w)) for (const ward of byType(district.wards.find(name, w.exact), w.type)) if (!wards.includes(ward)) wards.push(ward)
  }
  return oneOldWard(wards, w, streetEnd, false)
}

function oneOldWard (wards: readonly OldWard[], w: UnitText, streetEnd: number, narrow = true): Found | undefined | null {
  const list = narrow ? byType(wards, w.type) : wards
  if (list.length === 0) return undefined
  if (list.length > 1) return null
  if (w.type !== undefined && !WARD_TYPES.has(w.type)) return undefined
  return { form: 'old', wards: list[0]!.to, streetEnd }
}
