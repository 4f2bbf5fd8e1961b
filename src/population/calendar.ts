/**
 * Calendar arithmetic for the generator without Date objects: dates are either
 * day numbers (days since 1970-01-01, proleptic Gregorian) or packed integers
 * `yyyymmdd`, which compare in calendar order and format to ISO with three
 * table lookups. A Date per field would cost more than the rest of a record.
 */

/**
 * Day number of a civil date.
 * Provenance: Howard Hinnant, "chrono-Compatible Low-Level Date Algorithms",
 * days_from_civil (http://howardhinnant.github.io/date_algorithms.html), public domain.
 */
export function daysFromCivil (y: number, m: number, d: number): number {
  y -= m <= 2 ? 1 : 0
  const era = Math.floor(y / 400)
  const yoe = y - era * 400
  const doy = Math.floor((153 * (m > 2 ? m - 3 : m + 9) + 2) / 5) + d - 1
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy
  return era * 146097 + doe - 719468
}

/** Packed `yyyymmdd` of a day number (Hinnant's civil_from_days, same provenance). */
export function packedFromDays (z: number): number {
  z += 719468
  const era = Math.floor(z / 146097)
  const doe = z - era * 146097
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365)
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100))
  const mp = Math.floor((5 * doy + 2) / 153)
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1
  const m = mp < 10 ? mp + 3 : mp - 9
  const y = yoe + era * 400 + (m <= 2 ? 1 : 0)
  return y * 10000 + m * 100 + d
}

export function isLeapYear (y: number): boolean {
  return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0
}

/**
 * The anniversary of a date `years` later, packed. A 29 February anniversary in
 * a common year falls on 28 February: the earlier choice, so a card that
 * "expires on the birthday" never outlives the age it is tied to.
 */
export function anniversaryPacked (y: number, m: number, d: number, years: number): number {
  const ty = y + years
  const td = m === 2 && d === 29 && !isLeapYear(ty) ? 28 : d
  return ty * 10000 + m * 100 + td
}

/** Day number of a packed date. */
export function daysFromPacked (p: number): number {
  return daysFromCivil(Math.floor(p / 10000), Math.floor(p / 100) % 100, p % 100)
}

/** '00'..'99', so formatting is lookups and concatenation only. */
const TWO_DIGITS: readonly string[] = Array.from({ length: 100 }, (_, i) => (i < 10 ? '0' : '') + String(i))

/** ISO `YYYY-MM-DD` of a civil date with a four-digit year. */
export function isoDate (y: number, m: number, d: number): string {
  return String(y) + '-' + (TWO_DIGITS[m] as string) + '-' + (TWO_DIGITS[d] as string)
}

/** ISO `YYYY-MM-DD` of a packed date. */
export function isoFromPacked (p: number): string {
  return isoDate(Math.floor(p / 10000), Math.floor(p / 100) % 100, p % 100)
}

/**
 * Month and day of each day-of-year, for common and leap years, so a uniform
 * birth day within a year is one lookup. Index: day-of-year (0-based);
 * value: month * 32 + day.
 */
const MONTH_DAY_COMMON = new Uint16Array(365)
const MONTH_DAY_LEAP = new Uint16Array(366)
for (const [table, leap] of [[MONTH_DAY_COMMON, false], [MONTH_DAY_LEAP, true]] as const) {
  const lengths = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
  let i = 0
  lengths.forEach((len, month) => {
    for (let day = 1; day <= len; day++) table[i++] = (month + 1) * 32 + day
  })
}

/** Month*32+day of a 0-based day-of-year in year `y`. */
export function monthDayOfYear (y: number, dayOfYear: number): number {
  return (isLeapYear(y) ? MONTH_DAY_LEAP : MONTH_DAY_COMMON)[dayOfYear] ?? 0
}
