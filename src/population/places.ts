/**
 * Places for the synthetic population: where a birth was registered (the
 * PIN's `PPP`), the place of origin (quê quán) and the place of residence,
 * each a real commune or ward of its province (src/addresses/, the units
 * table), written in both forms:
 *   before 1 July 2025  "Xã Tân Lập, Huyện Đan Phượng, Thành phố Hà Nội"
 *   after               "Xã Ô Diên, Thành phố Hà Nội"
 * where the new ward is the one the old ward went to (one of them, for a ward
 * that was split). Residences get a street part ("Số 12, Đường Trần Phú";
 * "Thôn 3" in a commune).
 *
 * Province weights are the 2019 census populations (thousands), so Hà Nội and
 * Hồ Chí Minh dominate; within a province every commune is equally likely.
 */
import { PROVINCES } from '../domain/pin.js'
import { adminUnits, unitKey, type OldProvince, type OldWard } from '../addresses/index.js'
import { type Sfc32, WeightedTable } from './rng.js'

/** [code, population in thousands (2019 census)]: the 63 provinces of the PIN codes. */
const PROVINCE_DATA: ReadonlyArray<readonly [string, number]> = [
  ['001', 8054], ['002', 854], ['004', 530], ['006', 314], ['008', 785], ['010', 731], ['011', 599], ['012', 460],
  ['014', 1249], ['015', 822], ['017', 854], ['019', 1287], ['020', 782], ['022', 1321], ['024', 1804], ['025', 1464],
  ['026', 1152], ['027', 1369], ['030', 1893], ['031', 2029], ['033', 1253], ['034', 1861], ['035', 853], ['036', 1781],
  ['037', 983], ['038', 3641], ['040', 3328], ['042', 1289], ['044', 896], ['045', 633], ['046', 1129], ['048', 1135],
  ['049', 1496], ['051', 1232], ['052', 1487], ['054', 962], ['056', 1232], ['058', 591], ['060', 1231], ['062', 541],
  ['064', 1514], ['066', 1870], ['067', 623], ['068', 1297], ['070', 995], ['072', 1170], ['074', 2427], ['075', 3097],
  ['077', 1149], ['079', 8993], ['080', 1689], ['082', 1765], ['083', 1289], ['084', 1009], ['086', 1023], ['087', 1600],
  ['089', 1908], ['091', 1724], ['092', 1236], ['093', 734], ['094', 1200], ['095', 907], ['096', 1194]
]

export interface Province {
  readonly code: string
  /** Centre and south (codes ≥ 038): selects the Huỳnh/Võ surname table. */
  readonly southern: boolean
}

export const PROVINCE_LIST: readonly Province[] = PROVINCE_DATA.map(([code]) => {
  if (!PROVINCES.has(code)) throw new Error(`unknown province code ${code}`)
  return { code, southern: Number(code) >= 38 }
})
if (PROVINCE_LIST.length !== PROVINCES.size) throw new Error('places.ts must cover every province code in pin.ts')

/** Where births are registered: by population, so Hà Nội (001) and Hồ Chí Minh (079) lead. */
export const BIRTH_PROVINCES = new WeightedTable(PROVINCE_DATA.map(([, pop], i) => [i, pop] as const))

/** Where people who left their birth province live now: the big cities and the industrial south-east. */
const MIGRATION_TARGETS = new WeightedTable(([
  ['079', 30], ['074', 18], ['001', 17], ['075', 10], ['027', 4], ['048', 4], ['031', 3], ['077', 3],
  ['080', 3], ['092', 2], ['056', 2], ['022', 2], ['068', 2]
] as const).map(([code, w]) => {
  const index = PROVINCE_LIST.findIndex(p => p.code === code)
  if (index < 0) throw new Error(`unknown migration target ${code}`)
  return [index, w] as const
}))

/** Street names of towns and cities (people, events and places that name streets all over the country). */
const STREET_NAMES = [
  'Trần Phú', 'Quang Trung', 'Lê Lợi', 'Hoàng Văn Thụ', 'Nguyễn Trãi', 'Minh Khai', 'Lê Duẩn', 'Hai Bà Trưng',
  'Nguyễn Huệ', 'Lý Thường Kiệt', 'Trần Hưng Đạo', 'Điện Biên Phủ', 'Nguyễn Du', 'Lê Hồng Phong', 'Phan Chu Trinh', 'Bà Triệu',
  'Ngô Quyền', 'Hùng Vương', 'Võ Thị Sáu', 'Nguyễn Văn Cừ', 'Cách Mạng Tháng Tám', 'Hòa Bình', 'Độc Lập', 'Thống Nhất'
].map((n) => n.normalize('NFC'))

/** A place written in the units before 1 July 2025 and in those after. */
export interface PlaceForms {
  readonly old: string
  readonly new: string
}

interface ProvinceUnits {
  readonly old: OldProvince
  /** Its communes and wards, whatever their district. */
  readonly wards: readonly OldWard[]
}

let unitsByProvince: readonly ProvinceUnits[] | undefined

/** The real units of each PIN province (the table is read on first use). */
function provinceUnits (): readonly ProvinceUnits[] {
  if (unitsByProvince !== undefined) return unitsByProvince
  const units = adminUnits()
  unitsByProvince = PROVINCE_LIST.map((p) => {
    const found = units.provinceNames.find(unitKey(PROVINCES.get(p.code) ?? ''))
    const old = found.length === 1 ? found[0]!.before : undefined
    if (old === undefined) throw new Error(`province ${p.code} is not in the units table`)
    return { old, wards: [...old.wards.all()] }
  })
  return unitsByProvince
}

/**
 * A real commune or ward of the province, in both forms; `street` adds a
 * street part (house and street in a ward or township, hamlet in a commune).
 */
export function pickPlace (rng: Sfc32, provinceIndex: number, street: boolean): PlaceForms {
  const units = adminUnits()
  const province = provinceUnits()[provinceIndex]!
  const ward = province.wards[rng.int(province.wards.length)]!
  const now = units.wards[ward.to.length === 1 ? ward.to[0]! : ward.to[rng.int(ward.to.length)]!]!
  let prefix = ''
  if (street) {
    // Hamlets are `ấp` in the south (from Bình Phước, 070), `thôn` elsewhere.
    if (ward.type === 'xã') prefix = `${Number(PROVINCE_LIST[provinceIndex]!.code) >= 70 ? 'Ấp' : 'Thôn'} ${1 + rng.int(12)}, `
    else if (rng.chance(0.3)) prefix = `Số ${1 + rng.int(120)}, Ngõ ${1 + rng.int(200)} ${STREET_NAMES[rng.int(STREET_NAMES.length)]!}, `
    else prefix = `Số ${1 + rng.int(300)}, Đường ${STREET_NAMES[rng.int(STREET_NAMES.length)]!}, `
  }
  return {
    old: `${prefix}${ward.name}, ${ward.district.name}, ${province.old.name}`,
    new: `${prefix}${now.name}, ${units.provinces[now.province]!.name}`
  }
}

/** Province of origin (quê quán, the father's home): usually the birth province, less so in the big cities, which are full of migrants' children. */
export function pickOriginProvince (rng: Sfc32, birthIndex: number): number {
  const code = (PROVINCE_LIST[birthIndex] as Province).code
  const stay = code === '001' || code === '079' ? 0.6 : 0.88
  return rng.chance(stay) ? birthIndex : BIRTH_PROVINCES.pickIndex(rng)
}

/** Province of residence: usually the birth province; otherwise where internal migration goes. */
export function pickResidenceProvince (rng: Sfc32, birthIndex: number): number {
  return rng.chance(0.82) ? birthIndex : MIGRATION_TARGETS.pick(rng)
}
