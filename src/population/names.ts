/**
 * Vietnamese full names for the synthetic population: family name + one or
 * two middle names + given name, precomposed (NFC) with diacritics.
 *
 * Frequencies follow published surname surveys (Nguyễn ~38%, Trần ~11%, Lê ~9.5%…),
 * with the regional split that matters most for matching: Hoàng/Vũ in the north
 * are Huỳnh/Võ in the centre and south (the same names, differently read).
 * The generational shift away from "Văn"/"Thị" as middle names is modelled
 * because it changes how often two citizens share a full name.
 * Tone marks on oa/oe/uy use the new placement (Hòa, Thủy, Khỏe); the old one
 * (Hoà, Thuỷ, Khoẻ) is a matching concern, not the register's.
 */
import { type Sfc32, WeightedTable } from './rng.js'

/** Every literal goes through NFC once at load, so a decomposed keystroke in this file cannot leak out. */
function nfc<T> (entries: ReadonlyArray<readonly [string, T]>): Array<[string, T]> {
  return entries.map(([name, w]) => [name.normalize('NFC'), w])
}

/** [family name, weight in the north (province codes ≤ 037), weight in the centre and south]. */
const FAMILY_NAMES: ReadonlyArray<readonly [string, number, number]> = [
  ['Nguyễn', 38, 38], ['Trần', 11, 11], ['Lê', 9.5, 9.5], ['Phạm', 7, 7],
  ['Hoàng', 4.2, 1.3], ['Huỳnh', 0.3, 4.0], ['Phan', 4.5, 4.5], ['Vũ', 3.2, 0.6], ['Võ', 0.5, 3.5],
  ['Đặng', 2.1, 2.1], ['Bùi', 2, 2], ['Đỗ', 1.4, 1.4], ['Hồ', 1.3, 1.3], ['Ngô', 1.3, 1.3],
  ['Dương', 1, 1], ['Lý', 0.5, 0.5],
  // The long tail (~11% together): common Kinh surnames, then Tày/Nùng (Nông, Lò, Vi) in the
  // north and Khmer/Hoa ones (Thạch, Danh, Diệp) in the south.
  ['Đinh', 1, 0.8], ['Trịnh', 0.9, 0.7], ['Đào', 0.9, 0.6], ['Trương', 0.5, 0.9], ['Mai', 0.6, 0.6],
  ['Lương', 0.6, 0.5], ['Lâm', 0.4, 0.8], ['Đoàn', 0.6, 0.6], ['Hà', 0.7, 0.4], ['Cao', 0.5, 0.5],
  ['Lưu', 0.4, 0.4], ['Chu', 0.4, 0.2], ['Tô', 0.3, 0.3], ['Phùng', 0.4, 0.2], ['Tạ', 0.4, 0.2],
  ['Châu', 0.1, 0.4], ['Thái', 0.3, 0.3], ['Triệu', 0.3, 0.2], ['Quách', 0.2, 0.2], ['Vương', 0.2, 0.2],
  ['Kiều', 0.2, 0.1], ['Nông', 0.4, 0.05], ['Lò', 0.15, 0.02], ['Vi', 0.15, 0.02], ['Hứa', 0.1, 0.15],
  ['Thạch', 0.03, 0.25], ['Danh', 0.02, 0.2], ['Diệp', 0.02, 0.1], ['Tăng', 0.05, 0.15], ['Mạc', 0.1, 0.05],
  ['Khổng', 0.05, 0.03], ['Quan', 0.1, 0.05], ['Doãn', 0.1, 0.02], ['Giang', 0.1, 0.1], ['Tống', 0.1, 0.05],
  ['Lại', 0.15, 0.05], ['Tôn', 0.05, 0.1], ['Mã', 0.05, 0.05], ['Bạch', 0.05, 0.05], ['Nghiêm', 0.1, 0.03],
  ['Phí', 0.08, 0.02], ['Khúc', 0.05, 0.01], ['Ông', 0.03, 0.08], ['Lục', 0.05, 0.02], ['Từ', 0.05, 0.1],
  ['La', 0.05, 0.1], ['Kim', 0.05, 0.05], ['Âu', 0.03, 0.05], ['Lã', 0.05, 0.02], ['Văn', 0.05, 0.03]
]

const FAMILY_NORTH = new WeightedTable(nfc(FAMILY_NAMES.map(([n, north]) => [n, north] as const)))
const FAMILY_SOUTH = new WeightedTable(nfc(FAMILY_NAMES.map(([n, , south]) => [n, south] as const)))

/** Middle names other than Văn/Thị, which are drawn separately (their share depends on the birth year). */
const MALE_MIDDLE = new WeightedTable(nfc([
  ['Minh', 12], ['Đức', 10], ['Hữu', 8], ['Quang', 8], ['Đình', 7], ['Thành', 6], ['Công', 6], ['Quốc', 6],
  ['Xuân', 5], ['Hoàng', 5], ['Duy', 5], ['Gia', 5], ['Thanh', 5], ['Ngọc', 4], ['Anh', 4], ['Trọng', 4],
  ['Bảo', 4], ['Thế', 4], ['Tấn', 4], ['Tuấn', 3], ['Mạnh', 3], ['Nhật', 3], ['Hải', 3], ['Trung', 3],
  ['Tiến', 3], ['Việt', 3], ['Chí', 3], ['Đăng', 3], ['Huy', 3], ['Khắc', 2], ['Phước', 2], ['Thái', 2]
]))
const FEMALE_MIDDLE = new WeightedTable(nfc([
  ['Ngọc', 12], ['Thu', 8], ['Thanh', 8], ['Kim', 6], ['Phương', 5], ['Minh', 5], ['Hồng', 5], ['Thùy', 5],
  ['Mỹ', 5], ['Bảo', 4], ['Mai', 4], ['Thúy', 4], ['Khánh', 4], ['Diệu', 3], ['Quỳnh', 3], ['Hoài', 3],
  ['Hải', 3], ['Bích', 3], ['Hà', 3], ['Như', 3], ['Xuân', 3], ['Huyền', 2], ['Lan', 2], ['Tuyết', 2],
  ['Cẩm', 2], ['Hoàng', 2], ['Thảo', 2], ['Yến', 2], ['Gia', 2], ['An', 2]
]))

/**
 * Given names in rough order of popularity; weights fall off as 1/(rank + 8),
 * a Zipf-like curve with a flattened head (no single given name dominates the
 * way Nguyễn dominates family names).
 */
function zipf (names: readonly string[]): WeightedTable<string> {
  if (new Set(names).size !== names.length) throw new Error('duplicate given name')
  return new WeightedTable(nfc(names.map((n, rank) => [n, 1 / (rank + 8)] as const)))
}

const MALE_GIVEN = zipf([
  'Anh', 'Minh', 'Hùng', 'Dũng', 'Tuấn', 'Hải', 'Nam', 'Long', 'Sơn', 'Hưng', 'Thắng', 'Cường', 'Đức',
  'Hoàng', 'Huy', 'Khánh', 'Phúc', 'Quân', 'Trung', 'Bình', 'Thành', 'Hiếu', 'Tùng', 'Việt', 'Đạt',
  'Quang', 'Hòa', 'Tâm', 'Thanh', 'Toàn', 'Vinh', 'Lâm', 'Phong', 'Kiên', 'Hiệp', 'Tài', 'Lợi', 'Tú',
  'Thịnh', 'Tiến', 'Duy', 'Bảo', 'Khoa', 'Khang', 'Khôi', 'An', 'Phát', 'Lộc', 'Nghĩa', 'Nhân', 'Trí',
  'Tín', 'Thái', 'Thiện', 'Hậu', 'Hào', 'Mạnh', 'Chiến', 'Công', 'Định', 'Đông', 'Giang', 'Hiển', 'Hoan',
  'Kha', 'Luân', 'Lực', 'Nguyên', 'Nhật', 'Phú', 'Phương', 'Quý', 'Quyết', 'Sang', 'Tân', 'Thọ', 'Thông',
  'Thuận', 'Toản', 'Trọng', 'Trường', 'Tuệ', 'Vũ', 'Vương', 'Xuân', 'Đăng', 'Đại', 'Điền', 'Khải',
  'Huân', 'Quyền', 'Thụy', 'Tuyên', 'Hoàn', 'Chính', 'Cảnh', 'Danh', 'Doanh', 'Độ', 'Dương', 'Kiệt',
  'Lập', 'Lương', 'Nhẫn', 'Quốc', 'Sỹ', 'Tạo', 'Thạch', 'Thế', 'Triều', 'Tuân', 'Uy', 'Vĩnh', 'Vỹ',
  'Khỏe', 'Hòe', 'Hoạt', 'Khoát', 'Ngoan', 'Bằng', 'Biên', 'Cương', 'Diện', 'Đoàn', 'Hạnh', 'Hiền', 'Khiêm',
  'Lãm', 'Ninh', 'Quảng', 'Tấn', 'Thiêm', 'Thụ', 'Tịnh', 'Trực', 'Tường', 'Vĩ', 'Yên', 'Phước', 'Lành'
])
const FEMALE_GIVEN = zipf([
  'Linh', 'Hương', 'Trang', 'Anh', 'Hà', 'Hằng', 'Lan', 'Ngọc', 'Mai', 'Thảo', 'Phương', 'Thủy', 'Hạnh',
  'Dung', 'Huyền', 'Nga', 'Hoa', 'Hiền', 'Yến', 'Nhung', 'Vân', 'Thu', 'Loan', 'Thúy', 'Oanh', 'Liên',
  'Giang', 'Quỳnh', 'Trinh', 'Nhi', 'Vy', 'My', 'Ly', 'Chi', 'Châu', 'Hồng', 'Tâm', 'Thư', 'Uyên', 'Hân',
  'Ngân', 'Trâm', 'Diễm', 'Duyên', 'Tuyết', 'Xuân', 'Hậu', 'Hòa', 'Bích', 'Cúc', 'Diệp', 'Dương', 'Hạ',
  'Huệ', 'Khuê', 'Lệ', 'Liễu', 'Lụa', 'Mỹ', 'Nguyệt', 'Nhàn', 'Phượng', 'Quyên', 'Thanh', 'Thắm', 'Thơ',
  'Thương', 'Thoa', 'Tuyền', 'Vi', 'Thùy', 'Ánh', 'An', 'Ngà', 'Nhã', 'Nhiên', 'Như', 'Quế', 'Sen',
  'Tiên', 'Trà', 'Xoan', 'Đào', 'Gấm', 'Hoài', 'Kiều', 'Lam', 'Khánh', 'Hòe', 'Thụy', 'Ngoan', 'Hoan',
  'Diệu', 'Nhàn', 'Hảo', 'Hường', 'Lài', 'Lý', 'Mơ', 'Mận', 'Nương', 'Phấn', 'Quý', 'Sương', 'Thìn',
  'Thêu', 'Tươi', 'Vinh', 'Xinh', 'Yên', 'Điệp', 'Đan', 'Bình', 'Châm', 'Dịu', 'Hiên'
].filter((n, i, all) => all.indexOf(n) === i))

/** Share of men with "Văn" (women with "Thị") as the first middle name, by birth year: it falls steadily. */
function traditionalMiddleShare (birthYear: number, female: boolean): number {
  const base = birthYear < 1960 ? 0.6 : birthYear < 1980 ? 0.5 : birthYear < 1995 ? 0.35 : birthYear < 2005 ? 0.22 : 0.12
  return female ? base + 0.05 : base
}

const VAN = 'Văn'.normalize('NFC')
const THI = 'Thị'.normalize('NFC')

/**
 * One full name. `southern` selects the centre/south surname table
 * (Huỳnh/Võ rather than Hoàng/Vũ).
 */
export function pickFullName (rng: Sfc32, female: boolean, birthYear: number, southern: boolean): string {
  const family = (southern ? FAMILY_SOUTH : FAMILY_NORTH).pick(rng)
  const middles = female ? FEMALE_MIDDLE : MALE_MIDDLE
  const first = rng.chance(traditionalMiddleShare(birthYear, female)) ? (female ? THI : VAN) : middles.pick(rng)
  let middle = first
  // Two middle names (Trần Thị Thùy Dương) are common for women, rarer for men.
  if (rng.chance(female ? 0.14 : 0.05)) {
    let second = middles.pick(rng)
    if (second === first) second = middles.pick(rng)
    if (second !== first) middle = first + ' ' + second
  }
  const givens = female ? FEMALE_GIVEN : MALE_GIVEN
  let given = givens.pick(rng)
  // "Nguyễn Minh Minh" exists but is rare; one redraw keeps it rare rather than 1-in-50.
  if (middle === given || middle.endsWith(' ' + given)) given = givens.pick(rng)
  return family + ' ' + middle + ' ' + given
}

/** Exposed for tests: every name part the generator can emit. */
export const NAME_PARTS: ReadonlyArray<readonly string[]> = [
  FAMILY_NORTH.items, FAMILY_SOUTH.items, MALE_MIDDLE.items, FEMALE_MIDDLE.items, MALE_GIVEN.items, FEMALE_GIVEN.items, [VAN, THI]
]
