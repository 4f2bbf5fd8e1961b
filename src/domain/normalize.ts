/**
 * Canonical forms of the attributes before they are hashed.
 *
 * Names arrive precomposed (NFC) or decomposed (NFD), in any case, with extra
 * spaces, and with the tone mark of `oa`/`oe`/`uy` in the old or new position
 * (`Hòa`/`Hoà`, `Thủy`/`Thuỷ`), which people regard as the same name. A syllable
 * has exactly one tone, and its position is only spelling, so the canonical form
 * moves each word's tone mark to the end of the word: both spellings then hash
 * alike and no two different names collide. The result is a hashing key, not
 * text to show anyone.
 */

/** The five Vietnamese tone marks as combining characters (after NFD). */
const TONE_MARKS = /[\u0300\u0301\u0303\u0309\u0323]/g
const COMBINING_MARKS = /\p{M}/gu
const WHITESPACE = /\s+/gu

/**
 * NFD, lower case, single spaces, tone marks moved to the end of each word.
 * `Ð`/`ð` (Icelandic eth, a common stand-in for `Đ`) becomes `đ`.
 */
export function canonicalName (input: string): string {
  const words = input.normalize('NFD').toLowerCase().replace(/ð/g, 'đ').trim().split(WHITESPACE)
  for (let i = 0; i < words.length; i++) {
    const word = words[i]!
    const tones = word.match(TONE_MARKS)
    if (tones !== null) words[i] = word.replace(TONE_MARKS, '') + tones.join('')
  }
  return words.join(' ')
}

/**
 * The name as systems without Vietnamese letters store it: every combining mark
 * removed and `đ` written `d` (`NGUYEN VAN AN`). Takes a canonical name.
 */
export function asciiName (canonical: string): string {
  return canonical.replace(COMBINING_MARKS, '').replace(/đ/g, 'd')
}

/** Places compare like names, diacritics kept: NFC-insensitive, case-folded, spaces collapsed. */
export const canonicalPlace = canonicalName

const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})$/

/** True for a real calendar date written `YYYY-MM-DD` (1800–2399). */
export function isIsoDate (value: string): boolean {
  const m = ISO_DATE.exec(value)
  if (m === null) return false
  const year = Number(m[1]); const month = Number(m[2]); const day = Number(m[3])
  if (year < 1800 || year > 2399 || month < 1 || month > 12 || day < 1) return false
  return day <= daysInMonth(year, month)
}

function daysInMonth (year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0)) ? 29 : 28
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31
}
