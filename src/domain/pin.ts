/**
 * Personal identification numbers (mã số định danh cá nhân): `PPP G YY NNNNNN`.
 *
 * There is no check digit, so a PIN is validated by structure alone: a known
 * province code, a century/gender digit, two year digits. Keys are stored as
 * integers (10^12 < 2^40), never as strings, so the index stays compact.
 */

/** The 63 province codes of the 2021 structure (the 2025 merger did not change issued PINs). */
export const PROVINCES: ReadonlyMap<string, string> = new Map([
  ['001', 'Hà Nội'], ['002', 'Hà Giang'], ['004', 'Cao Bằng'], ['006', 'Bắc Kạn'], ['008', 'Tuyên Quang'],
  ['010', 'Lào Cai'], ['011', 'Điện Biên'], ['012', 'Lai Châu'], ['014', 'Sơn La'], ['015', 'Yên Bái'],
  ['017', 'Hòa Bình'], ['019', 'Thái Nguyên'], ['020', 'Lạng Sơn'], ['022', 'Quảng Ninh'], ['024', 'Bắc Giang'],
  ['025', 'Phú Thọ'], ['026', 'Vĩnh Phúc'], ['027', 'Bắc Ninh'], ['030', 'Hải Dương'], ['031', 'Hải Phòng'],
  ['033', 'Hưng Yên'], ['034', 'Thái Bình'], ['035', 'Hà Nam'], ['036', 'Nam Định'], ['037', 'Ninh Bình'],
  ['038', 'Thanh Hóa'], ['040', 'Nghệ An'], ['042', 'Hà Tĩnh'], ['044', 'Quảng Bình'], ['045', 'Quảng Trị'],
  ['046', 'Thừa Thiên Huế'], ['048', 'Đà Nẵng'], ['049', 'Quảng Nam'], ['051', 'Quảng Ngãi'], ['052', 'Bình Định'],
  ['054', 'Phú Yên'], ['056', 'Khánh Hòa'], ['058', 'Ninh Thuận'], ['060', 'Bình Thuận'], ['062', 'Kon Tum'],
  ['064', 'Gia Lai'], ['066', 'Đắk Lắk'], ['067', 'Đắk Nông'], ['068', 'Lâm Đồng'], ['070', 'Bình Phước'],
  ['072', 'Tây Ninh'], ['074', 'Bình Dương'], ['075', 'Đồng Nai'], ['077', 'Bà Rịa – Vũng Tàu'], ['079', 'Hồ Chí Minh'],
  ['080', 'Long An'], ['082', 'Tiền Giang'], ['083', 'Bến Tre'], ['084', 'Trà Vinh'], ['086', 'Vĩnh Long'],
  ['087', 'Đồng Tháp'], ['089', 'An Giang'], ['091', 'Kiên Giang'], ['092', 'Cần Thơ'], ['093', 'Hậu Giang'],
  ['094', 'Sóc Trăng'], ['095', 'Bạc Liêu'], ['096', 'Cà Mau']
])

/** Province codes as a 1000-entry lookup table, so the hot path does no string work. */
const PROVINCE_TABLE = new Uint8Array(1000)
for (const code of PROVINCES.keys()) PROVINCE_TABLE[Number(code)] = 1

export type Gender = 'male' | 'female'

/**
 * Parses a PIN string into its integer key, or returns -1 when it is not
 * 12 ASCII digits with a known province code. Allocation-free: hot path.
 */
export function pinToKey (pin: string): number {
  if (pin.length !== 12) return -1
  let n = 0
  for (let i = 0; i < 12; i++) {
    const d = pin.charCodeAt(i) - 48
    if (d < 0 || d > 9) return -1
    n = n * 10 + d
  }
  if (PROVINCE_TABLE[Math.floor(n / 1e9)] !== 1) return -1
  return n
}

/** Formats an integer key back into its 12-digit PIN. */
export function keyToPin (key: number): string {
  return String(key).padStart(12, '0')
}

/** The century/gender digit `G` for a birth year and gender, or -1 outside 1900–2399. */
export function centuryGenderDigit (year: number, gender: Gender): number {
  const century = Math.floor(year / 100) - 19
  if (century < 0 || century > 4) return -1
  return century * 2 + (gender === 'female' ? 1 : 0)
}

/**
 * Why a PIN disagrees with a birth date and gender, or undefined when it agrees.
 * `dateOfBirth` must already be a valid ISO date. The reason names the rule,
 * never the values: it ends up in reject files and logs.
 */
export function pinConsistencyProblem (pin: string, dateOfBirth: string, gender: Gender): string | undefined {
  const year = Number(dateOfBirth.slice(0, 4))
  const expected = centuryGenderDigit(year, gender)
  if (expected < 0) return 'the birth year is outside the centuries a PIN can encode (1900–2399)'
  if (pin.charCodeAt(3) - 48 !== expected) return 'century/gender digit (4th) does not match the birth year and gender'
  if (pin.slice(4, 6) !== dateOfBirth.slice(2, 4)) return 'year digits (5th–6th) do not match the birth year'
  return undefined
}

/** Masks a PIN for logs: province code and last two digits only (`001*******45`). */
export function maskPin (pin: string): string {
  return pin.length === 12 ? `${pin.slice(0, 3)}*******${pin.slice(10)}` : '<invalid>'
}
