/**
 * The administrative units of Vietnam before and after the reorganisation of
 * 1 July 2025 (63 → 34 provinces, districts abolished, about 10,000 → 3,321
 * communes and wards), loaded once per thread from the table shipped in
 * src/addresses/table/ (built by scripts/build-admin-units.mjs from
 * third-party data, MIT; docs/design/addresses.md says what was checked).
 *
 * Every unit is found by its name without its type (`Ba Đình` for
 * `Phường Ba Đình`), with diacritics when the input has any, else by the ASCII
 * key; a lookup answers every unit of that name in its scope, and the caller
 * decides (several is ambiguous: never guessed).
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { packageRoot } from '../paths.js'
import { asciiKey, hasDiacritics, unitKey } from './fold.js'

export type WardType = 'phường' | 'xã' | 'thị trấn' | 'đặc khu'
export type DistrictType = 'quận' | 'huyện' | 'thị xã' | 'thành phố'
export type ProvinceType = 'tỉnh' | 'thành phố'
export type UnitType = WardType | DistrictType | ProvinceType

/** A commune, ward or special zone of the 2025 structure. */
export interface NewWard {
  readonly index: number
  readonly province: number
  readonly name: string
  readonly type: WardType
  /** `phường ba đình|thành phố hà nội`: what is hashed for it (with the street part). */
  readonly key: string
}

/** A commune, ward or township before 2025, and the new wards it went to (several when it was split). */
export interface OldWard {
  readonly name: string
  readonly type: WardType
  readonly district: OldDistrict
  readonly to: readonly number[]
}

export interface OldDistrict {
  readonly name: string
  readonly type: DistrictType
  readonly wards: Lookup<OldWard>
}

export interface OldProvince {
  readonly name: string
  /** The new province it became part of. */
  readonly to: number
  readonly districts: Lookup<OldDistrict>
  /** Its wards whatever their district, for addresses that name an unknown (renamed, merged) district. */
  readonly wards: Lookup<OldWard>
}

export interface NewProvince {
  readonly name: string
  readonly wards: Lookup<NewWard>
}

/** What a province name can mean: a 2025 province, a pre-2025 one, or both (`Hà Nội`). */
export interface ProvinceEntry {
  readonly now?: number
  readonly before?: OldProvince
}

/** Units by name without type: exact (with diacritics) and ASCII keys. */
export class Lookup<T> {
  readonly #exact = new Map<string, T[]>()
  readonly #ascii = new Map<string, T[]>()

  add (core: string, unit: T): void {
    push(this.#exact, core, unit)
    push(this.#ascii, asciiKey(core), unit)
  }

  /** Every unit once. */
  * all (): Iterable<T> {
    for (const list of this.#exact.values()) yield * list
  }

  /**
   * Every unit called `core` (a unit key without type). `exact` (default: the
   * core has diacritics) compares with diacritics, so `Thanh An` written in a
   * Vietnamese address is not `Thạnh An`; otherwise the ASCII keys compare.
   */
  find (core: string, exact = hasDiacritics(core)): readonly T[] {
    return (exact ? this.#exact.get(core) : this.#ascii.get(core)) ?? NONE
  }
}

const NONE: readonly never[] = []

function push<T> (map: Map<string, T[]>, key: string, value: T): void {
  const list = map.get(key)
  if (list === undefined) map.set(key, [value])
  else list.push(value)
}

export interface AdminUnits {
  readonly provinces: readonly NewProvince[]
  readonly wards: readonly NewWard[]
  readonly oldProvinces: readonly OldProvince[]
  /** Province names (new, old and common aliases) by their key without type. */
  readonly provinceNames: Lookup<ProvinceEntry>
}

/** Common names of provinces that are not in the table (the table's old Huế is already the city of 2025). */
const PROVINCE_ALIASES: ReadonlyArray<readonly [string, string]> = [
  ['thừa thiên huế', 'thành phố huế'],
  ['hcm', 'thành phố hồ chí minh'],
  ['tphcm', 'thành phố hồ chí minh'],
  ['hn', 'thành phố hà nội'],
  ['brvt', 'tỉnh bà rịa vũng tàu']
]

/** Unit types as they start a key (keys are NFD with tone marks moved: built through unitKey, never written literally). */
const TYPE_PREFIXES: ReadonlyArray<readonly [string, UnitType]> = (['thành phố', 'thị trấn', 'thị xã', 'đặc khu', 'phường', 'xã', 'quận', 'huyện', 'tỉnh'] as const)
  .map((type) => [`${unitKey(type)} `, type] as const)

/** Splits an official name's key into type and core: `phường ba đình` → [`phường`, `ba đình`]. */
export function splitOfficial (key: string): readonly [UnitType, string] {
  for (const [prefix, type] of TYPE_PREFIXES) if (key.startsWith(prefix)) return [type, key.slice(prefix.length)]
  throw new Error(`unit name without a known type: ${key}`)
}

interface Table {
  provinces: string[]
  wards: Array<[number, string]>
  oldProvinces: Array<[string, number, Array<[string, Array<[string, number[]]>]>]>
}

export const TABLE_FILE = join('src', 'addresses', 'table', 'vn-admin-2025.json')

let loaded: AdminUnits | undefined

/** The table, read and indexed on first use (a few milliseconds), then kept for the thread's life. */
export function adminUnits (): AdminUnits {
  loaded ??= buildUnits(JSON.parse(readFileSync(join(packageRoot(), TABLE_FILE), 'utf8')) as Table)
  return loaded
}

function buildUnits (table: Table): AdminUnits {
  const provinceNames = new Lookup<ProvinceEntry>()
  const entries = new Map<string, { now?: number, before?: OldProvince }>()
  const entry = (core: string): { now?: number, before?: OldProvince } => {
    let e = entries.get(core)
    if (e === undefined) { e = {}; entries.set(core, e) }
    return e
  }
  const provinces: NewProvince[] = table.provinces.map((name, i) => {
    entry(splitOfficial(unitKey(name))[1]).now = i
    return { name, wards: new Lookup<NewWard>() }
  })
  const wards: NewWard[] = table.wards.map(([p, name], index) => {
    const key = unitKey(name)
    const [type, core] = splitOfficial(key)
    const ward: NewWard = { index, province: p, name, type: type as WardType, key: `${key}|${unitKey(table.provinces[p]!)}` }
    provinces[p]!.wards.add(core, ward)
    return ward
  })
  const oldProvinces: OldProvince[] = table.oldProvinces.map(([name, to, districts]) => {
    const province: OldProvince = { name, to, districts: new Lookup<OldDistrict>(), wards: new Lookup<OldWard>() }
    entry(splitOfficial(unitKey(name))[1]).before = province
    for (const [districtName, districtWards] of districts) {
      const [dType, dCore] = splitOfficial(unitKey(districtName))
      const district: OldDistrict = { name: districtName, type: dType as DistrictType, wards: new Lookup<OldWard>() }
      province.districts.add(dCore, district)
      for (const [wardName, wardTo] of districtWards) {
        const [wType, wCore] = splitOfficial(unitKey(wardName))
        const ward: OldWard = { name: wardName, type: wType as WardType, district, to: wardTo }
        district.wards.add(wCore, ward)
        province.wards.add(wCore, ward)
      }
    }
    return province
  })
  for (const [alias, official] of PROVINCE_ALIASES) {
    const target = entries.get(splitOfficial(unitKey(official))[1])
    if (target === undefined) throw new Error(`province alias ${alias} names no province`)
    const e = entry(unitKey(alias))
    if (target.now !== undefined) e.now = target.now
    if (target.before !== undefined) e.before = target.before
  }
  for (const [core, e] of entries) provinceNames.add(core, e)
  return { provinces, wards, oldProvinces, provinceNames }
}
