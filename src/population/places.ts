/**
 * Provinces, districts and communes for the synthetic population: where a
 * birth was registered (the PIN's `PPP`), the place of origin (quê quán) and
 * the place of residence, as printed on the card:
 * "Xã Tân Lập, Huyện Đan Phượng, Thành phố Hà Nội".
 *
 * Province weights are the 2019 census populations (thousands), so Hà Nội and
 * Hồ Chí Minh dominate. Each province has a handful of its real districts
 * (2021 structure, before the 2025 merger, matching the PIN codes); commune
 * and ward names come from one shared list of names that recur all over the
 * country. It is a plausible address, not a gazetteer: a given commune may not
 * exist in that district.
 */
import { PROVINCES } from '../domain/pin.js'
import { type Sfc32, WeightedTable } from './rng.js'

/** Centrally-run cities are written "Thành phố X"; every other province "Tỉnh X". */
const CENTRAL_CITIES = new Set(['001', '031', '048', '079', '092'])

/**
 * [code, population in thousands (2019 census), districts]. A trailing '#'
 * marks an urban district whose wards are numbered (Phường 1, Phường 2…), as
 * in most of Hồ Chí Minh and many southern provincial cities.
 */
const PROVINCE_DATA: ReadonlyArray<readonly [string, number, readonly string[]]> = [
  ['001', 8054, ['Quận Ba Đình', 'Quận Hoàn Kiếm', 'Quận Đống Đa', 'Quận Cầu Giấy', 'Quận Hai Bà Trưng', 'Quận Thanh Xuân', 'Quận Hoàng Mai', 'Quận Long Biên', 'Quận Hà Đông', 'Huyện Đan Phượng', 'Huyện Gia Lâm', 'Huyện Đông Anh', 'Huyện Sóc Sơn', 'Huyện Thanh Trì', 'Thị xã Sơn Tây']],
  ['002', 854, ['Thành phố Hà Giang', 'Huyện Đồng Văn', 'Huyện Vị Xuyên', 'Huyện Bắc Quang']],
  ['004', 530, ['Thành phố Cao Bằng', 'Huyện Trùng Khánh', 'Huyện Hòa An']],
  ['006', 314, ['Thành phố Bắc Kạn', 'Huyện Ba Bể', 'Huyện Chợ Đồn']],
  ['008', 785, ['Thành phố Tuyên Quang', 'Huyện Sơn Dương', 'Huyện Hàm Yên']],
  ['010', 731, ['Thành phố Lào Cai', 'Thị xã Sa Pa', 'Huyện Bát Xát', 'Huyện Bảo Thắng']],
  ['011', 599, ['Thành phố Điện Biên Phủ', 'Huyện Điện Biên', 'Huyện Mường Chà']],
  ['012', 460, ['Thành phố Lai Châu', 'Huyện Tam Đường', 'Huyện Phong Thổ']],
  ['014', 1249, ['Thành phố Sơn La', 'Huyện Mộc Châu', 'Huyện Mai Sơn']],
  ['015', 822, ['Thành phố Yên Bái', 'Thị xã Nghĩa Lộ', 'Huyện Văn Chấn']],
  ['017', 854, ['Thành phố Hòa Bình', 'Huyện Mai Châu', 'Huyện Lương Sơn']],
  ['019', 1287, ['Thành phố Thái Nguyên', 'Thành phố Sông Công', 'Huyện Đại Từ', 'Huyện Phú Bình']],
  ['020', 782, ['Thành phố Lạng Sơn', 'Huyện Cao Lộc', 'Huyện Hữu Lũng']],
  ['022', 1321, ['Thành phố Hạ Long', 'Thành phố Cẩm Phả', 'Thành phố Móng Cái', 'Thành phố Uông Bí', 'Huyện Vân Đồn']],
  ['024', 1804, ['Thành phố Bắc Giang', 'Huyện Lục Nam', 'Huyện Yên Dũng', 'Huyện Lạng Giang']],
  ['025', 1464, ['Thành phố Việt Trì', 'Thị xã Phú Thọ', 'Huyện Lâm Thao', 'Huyện Thanh Sơn']],
  ['026', 1152, ['Thành phố Vĩnh Yên', 'Thành phố Phúc Yên', 'Huyện Tam Đảo', 'Huyện Yên Lạc']],
  ['027', 1369, ['Thành phố Bắc Ninh', 'Thành phố Từ Sơn', 'Huyện Tiên Du', 'Huyện Quế Võ']],
  ['030', 1893, ['Thành phố Hải Dương', 'Thành phố Chí Linh', 'Huyện Cẩm Giàng', 'Huyện Gia Lộc']],
  ['031', 2029, ['Quận Hồng Bàng', 'Quận Lê Chân', 'Quận Ngô Quyền', 'Quận Hải An', 'Huyện Thủy Nguyên', 'Huyện An Dương', 'Huyện Tiên Lãng']],
  ['033', 1253, ['Thành phố Hưng Yên', 'Thị xã Mỹ Hào', 'Huyện Văn Lâm', 'Huyện Khoái Châu']],
  ['034', 1861, ['Thành phố Thái Bình', 'Huyện Thái Thụy', 'Huyện Vũ Thư', 'Huyện Kiến Xương']],
  ['035', 853, ['Thành phố Phủ Lý', 'Thị xã Duy Tiên', 'Huyện Kim Bảng', 'Huyện Lý Nhân']],
  ['036', 1781, ['Thành phố Nam Định', 'Huyện Hải Hậu', 'Huyện Giao Thủy', 'Huyện Ý Yên']],
  ['037', 983, ['Thành phố Ninh Bình', 'Thành phố Tam Điệp', 'Huyện Hoa Lư', 'Huyện Kim Sơn']],
  ['038', 3641, ['Thành phố Thanh Hóa', 'Thành phố Sầm Sơn', 'Huyện Hoằng Hóa', 'Huyện Quảng Xương', 'Huyện Thọ Xuân', 'Thị xã Nghi Sơn']],
  ['040', 3328, ['Thành phố Vinh', 'Thị xã Cửa Lò', 'Huyện Diễn Châu', 'Huyện Quỳnh Lưu', 'Huyện Nghi Lộc', 'Huyện Đô Lương']],
  ['042', 1289, ['Thành phố Hà Tĩnh', 'Thị xã Hồng Lĩnh', 'Huyện Can Lộc', 'Thị xã Kỳ Anh']],
  ['044', 896, ['Thành phố Đồng Hới', 'Huyện Bố Trạch', 'Huyện Lệ Thủy', 'Huyện Quảng Trạch']],
  ['045', 633, ['Thành phố Đông Hà#', 'Thị xã Quảng Trị', 'Huyện Vĩnh Linh', 'Huyện Hải Lăng']],
  ['046', 1129, ['Thành phố Huế', 'Thị xã Hương Thủy', 'Thị xã Hương Trà', 'Huyện Phú Vang', 'Huyện Phong Điền']],
  ['048', 1135, ['Quận Hải Châu', 'Quận Thanh Khê', 'Quận Sơn Trà', 'Quận Ngũ Hành Sơn', 'Quận Liên Chiểu', 'Huyện Hòa Vang']],
  ['049', 1496, ['Thành phố Tam Kỳ', 'Thành phố Hội An', 'Thị xã Điện Bàn', 'Huyện Duy Xuyên', 'Huyện Núi Thành']],
  ['051', 1232, ['Thành phố Quảng Ngãi', 'Thị xã Đức Phổ', 'Huyện Bình Sơn', 'Huyện Tư Nghĩa']],
  ['052', 1487, ['Thành phố Quy Nhơn', 'Thị xã An Nhơn', 'Thị xã Hoài Nhơn', 'Huyện Phù Cát', 'Huyện Tây Sơn']],
  ['054', 962, ['Thành phố Tuy Hòa#', 'Thị xã Sông Cầu', 'Huyện Tuy An', 'Thị xã Đông Hòa']],
  ['056', 1232, ['Thành phố Nha Trang', 'Thành phố Cam Ranh', 'Thị xã Ninh Hòa', 'Huyện Diên Khánh']],
  ['058', 591, ['Thành phố Phan Rang – Tháp Chàm', 'Huyện Ninh Phước', 'Huyện Ninh Hải']],
  ['060', 1231, ['Thành phố Phan Thiết', 'Thị xã La Gi', 'Huyện Hàm Thuận Bắc', 'Huyện Tuy Phong']],
  ['062', 541, ['Thành phố Kon Tum', 'Huyện Đắk Hà', 'Huyện Ngọc Hồi']],
  ['064', 1514, ['Thành phố Pleiku', 'Thị xã An Khê', 'Huyện Chư Păh', 'Huyện Đức Cơ']],
  ['066', 1870, ['Thành phố Buôn Ma Thuột', 'Thị xã Buôn Hồ', 'Huyện Krông Pắc', 'Huyện Buôn Đôn']],
  ['067', 623, ['Thành phố Gia Nghĩa', 'Huyện Đắk Mil', 'Huyện Cư Jút']],
  ['068', 1297, ['Thành phố Đà Lạt#', 'Thành phố Bảo Lộc', 'Huyện Đức Trọng', 'Huyện Di Linh']],
  ['070', 995, ['Thành phố Đồng Xoài', 'Thị xã Bình Long', 'Thị xã Phước Long', 'Thị xã Chơn Thành']],
  ['072', 1170, ['Thành phố Tây Ninh#', 'Thị xã Hòa Thành', 'Thị xã Trảng Bàng', 'Huyện Gò Dầu']],
  ['074', 2427, ['Thành phố Thủ Dầu Một', 'Thành phố Dĩ An', 'Thành phố Thuận An', 'Thị xã Bến Cát', 'Huyện Dầu Tiếng']],
  ['075', 3097, ['Thành phố Biên Hòa', 'Thành phố Long Khánh', 'Huyện Nhơn Trạch', 'Huyện Trảng Bom', 'Huyện Long Thành']],
  ['077', 1149, ['Thành phố Vũng Tàu#', 'Thành phố Bà Rịa', 'Thị xã Phú Mỹ', 'Huyện Xuyên Mộc', 'Huyện Long Điền']],
  ['079', 8993, ['Quận 1', 'Quận 3#', 'Quận 5#', 'Quận 7', 'Quận 8#', 'Quận 10#', 'Quận 11#', 'Quận Bình Thạnh#', 'Quận Gò Vấp#', 'Quận Tân Bình#', 'Quận Phú Nhuận#', 'Quận Bình Tân', 'Thành phố Thủ Đức', 'Huyện Bình Chánh', 'Huyện Củ Chi', 'Huyện Hóc Môn', 'Huyện Nhà Bè']],
  ['080', 1689, ['Thành phố Tân An#', 'Thị xã Kiến Tường', 'Huyện Bến Lức', 'Huyện Đức Hòa', 'Huyện Cần Giuộc']],
  ['082', 1765, ['Thành phố Mỹ Tho#', 'Thị xã Gò Công', 'Thị xã Cai Lậy', 'Huyện Châu Thành', 'Huyện Chợ Gạo']],
  ['083', 1289, ['Thành phố Bến Tre#', 'Huyện Mỏ Cày Nam', 'Huyện Ba Tri', 'Huyện Giồng Trôm']],
  ['084', 1009, ['Thành phố Trà Vinh#', 'Thị xã Duyên Hải', 'Huyện Cầu Ngang', 'Huyện Tiểu Cần']],
  ['086', 1023, ['Thành phố Vĩnh Long#', 'Thị xã Bình Minh', 'Huyện Long Hồ', 'Huyện Trà Ôn']],
  ['087', 1600, ['Thành phố Cao Lãnh#', 'Thành phố Sa Đéc', 'Thành phố Hồng Ngự', 'Huyện Tháp Mười', 'Huyện Lấp Vò']],
  ['089', 1908, ['Thành phố Long Xuyên', 'Thành phố Châu Đốc', 'Thị xã Tân Châu', 'Huyện Chợ Mới', 'Huyện Phú Tân']],
  ['091', 1724, ['Thành phố Rạch Giá', 'Thành phố Hà Tiên', 'Thành phố Phú Quốc', 'Huyện Châu Thành', 'Huyện Tân Hiệp']],
  ['092', 1236, ['Quận Ninh Kiều', 'Quận Bình Thủy', 'Quận Cái Răng', 'Quận Ô Môn', 'Quận Thốt Nốt', 'Huyện Phong Điền', 'Huyện Cờ Đỏ']],
  ['093', 734, ['Thành phố Vị Thanh', 'Thành phố Ngã Bảy', 'Huyện Châu Thành A', 'Huyện Phụng Hiệp']],
  ['094', 1200, ['Thành phố Sóc Trăng#', 'Thị xã Vĩnh Châu', 'Huyện Mỹ Xuyên', 'Huyện Kế Sách']],
  ['095', 907, ['Thành phố Bạc Liêu#', 'Thị xã Giá Rai', 'Huyện Hồng Dân', 'Huyện Phước Long']],
  ['096', 1194, ['Thành phố Cà Mau#', 'Huyện Năm Căn', 'Huyện Cái Nước', 'Huyện Trần Văn Thời', 'Huyện U Minh']]
]

/** Ward names of urban districts (Quận, Thành phố, Thị xã). */
const WARD_NAMES = [
  'Trần Phú', 'Quang Trung', 'Lê Lợi', 'Hoàng Văn Thụ', 'Nguyễn Trãi', 'Minh Khai', 'Tân Lập', 'Tân Thịnh',
  'Phú Hòa', 'Hòa Khánh', 'An Phú', 'Tân Phong', 'Thống Nhất', 'Hồng Hà', 'Trung Hòa', 'Phước Long',
  'Bình An', 'Thanh Bình', 'Đông Thọ', 'Hưng Phú', 'Tân Định', 'Vĩnh Phúc', 'Yên Hòa', 'Thạch Bàn',
  'Phú Thủy', 'Xuân Hòa', 'An Lạc', 'Hiệp Thành', 'Phú Mỹ', 'Ngọc Thụy', 'Đông Hòa', 'Lê Hồng Phong'
]
/** Commune names of rural districts (Huyện); the same names serve for their townships (Thị trấn). */
const COMMUNE_NAMES = [
  'Tân Lập', 'An Phú', 'Hòa Bình', 'Đông Hòa', 'Tân Phú', 'Phú Lộc', 'Thanh Xuân', 'Xuân Phương',
  'Hưng Thịnh', 'Quỳnh Hưng', 'Vĩnh Thủy', 'Thủy An', 'Tiến Thắng', 'Đồng Tâm', 'Nghĩa Hưng', 'Phúc Thịnh',
  'Mỹ Lộc', 'Tân Hòa', 'Long Thủy', 'Bình Thạnh', 'Hiệp Hòa', 'Tam Hiệp', 'Yên Thế', 'Quảng Phú',
  'Cẩm Thủy', 'Đức Thắng', 'Hợp Thành', 'Liên Minh', 'Phong Thủy', 'Kim Liên', 'Mỹ Thuận', 'Long Hòa',
  'Thạnh Phú', 'Vĩnh Hòa', 'Sơn Thủy', 'Hòa Thuận', 'Tân Tiến', 'Xuân Lộc', 'Đại Đồng', 'Đoàn Kết',
  'Thuận Thành', 'Tân Xuân', 'Phú Xuân', 'Hương Sơn', 'Minh Đức', 'Thắng Lợi', 'Khánh Hòa', 'Nghĩa Đàn'
]

const NUMBERED_WARDS = Array.from({ length: 15 }, (_, i) => `Phường ${i + 1}`)
const WARDS = WARD_NAMES.map(n => `Phường ${n}`.normalize('NFC'))
const COMMUNES = COMMUNE_NAMES.map(n => `Xã ${n}`.normalize('NFC'))
const TOWNSHIPS = COMMUNE_NAMES.map(n => `Thị trấn ${n}`.normalize('NFC'))

interface District {
  /** ", Huyện Đan Phượng, Thành phố Hà Nội": everything after the commune, prebuilt once. */
  readonly suffix: string
  readonly kind: 'numbered' | 'urban' | 'rural'
}

export interface Province {
  readonly code: string
  /** "Thành phố Hà Nội" or "Tỉnh Nghệ An". */
  readonly label: string
  /** Centre and south (codes ≥ 038): selects the Huỳnh/Võ surname table. */
  readonly southern: boolean
  readonly districts: readonly District[]
}

export const PROVINCE_LIST: readonly Province[] = PROVINCE_DATA.map(([code, , districts]) => {
  const name = PROVINCES.get(code)
  if (name === undefined) throw new Error(`unknown province code ${code}`)
  const label = ((CENTRAL_CITIES.has(code) ? 'Thành phố ' : 'Tỉnh ') + name).normalize('NFC')
  return {
    code,
    label,
    southern: Number(code) >= 38,
    districts: districts.map(d => {
      const numbered = d.endsWith('#')
      const districtName = numbered ? d.slice(0, -1) : d
      return {
        suffix: (', ' + districtName + ', ' + label).normalize('NFC'),
        kind: numbered ? 'numbered' : districtName.startsWith('Huyện ') ? 'rural' : 'urban'
      }
    })
  }
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

/** A full address in a province: commune/ward, district, province. */
export function pickAddress (rng: Sfc32, provinceIndex: number): string {
  const province = PROVINCE_LIST[provinceIndex] as Province
  const district = province.districts[rng.int(province.districts.length)] as District
  let commune: string
  if (district.kind === 'numbered') commune = NUMBERED_WARDS[rng.int(NUMBERED_WARDS.length)] as string
  else if (district.kind === 'urban') commune = WARDS[rng.int(WARDS.length)] as string
  else commune = (rng.chance(0.1) ? TOWNSHIPS : COMMUNES)[rng.int(COMMUNES.length)] as string
  return commune + district.suffix
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
