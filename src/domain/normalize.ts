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

const COMBINING_MARKS = /\p{M}/gu

/** The five Vietnamese tone marks as combining characters (after NFD). */
function isToneMark (c: number): boolean {
  return c === 0x300 || c === 0x301 || c === 0x303 || c === 0x309 || c === 0x323
}

/** The characters JavaScript's `\s` matches. */
function isSpace (c: number): boolean {
  return c === 0x20 || (c >= 0x09 && c <= 0x0d) || c === 0xa0 || c === 0x1680 || (c >= 0x2000 && c <= 0x200a) ||
    c === 0x2028 || c === 0x2029 || c === 0x202f || c === 0x205f || c === 0x3000 || c === 0xfeff
}

/**
 * NFD, lower case, single spaces, tone marks moved to the end of each word.
 * `Ð`/`ð` (Icelandic eth, a common stand-in for `Đ`) becomes `đ`.
 *
 * Word by word through a cache: a syllable's canonical form depends on the
 * syllable alone (NFD, lower case and the tone's move never cross a space),
 * and Vietnamese names and places are made of a few thousand syllables, so
 * after the first citizens almost every word is a Map hit instead of a Unicode
 * normalisation (the loader canonicalises three strings per citizen). The
 * reference below is the same function without the cache; an agreement test
 * (test/unit/normalize.test.ts) holds them to the same answers.
 */
export function canonicalName (input: string): string {
  let out = ''
  let start = -1
  for (let i = 0; i <= input.length; i++) {
    const c = i < input.length ? input.charCodeAt(i) : 0x20
    if (!isSpace(c)) { if (start < 0) start = i; continue }
    if (start < 0) continue
    const word = canonicalWord(input.slice(start, i))
    start = -1
    if (word === '') continue
    out = out === '' ? word : `${out} ${word}`
  }
  return out
}

/** Canonical syllables seen so far; bounded, since hostile input could be all distinct words. */
const WORDS = new Map<string, string>()
const MAX_CACHED_WORDS = 65_536
const MAX_CACHED_WORD_LENGTH = 32

function canonicalWord (word: string): string {
  const cached = WORDS.get(word)
  if (cached !== undefined) return cached
  const canonical = canonicalNameReference(word)
  // A canonical word never holds a space (NFD and lower case never make one), so words join with single spaces.
  if (word.length <= MAX_CACHED_WORD_LENGTH && WORDS.size < MAX_CACHED_WORDS) WORDS.set(word, canonical)
  return canonical
}

/** canonicalName without the cache: one pass over the whole string. */
export function canonicalNameReference (input: string): string {
  const s = input.normalize('NFD').toLowerCase()
  let out = ''
  let tones = ''
  let space = false
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (isSpace(c)) {
      if (tones !== '') { out += tones; tones = '' }
      if (out !== '') space = true
      continue
    }
    if (space) { out += ' '; space = false }
    if (isToneMark(c)) tones += s[i]
    else out += c === 0xf0 ? 'đ' : s[i]
  }
  return out + tones
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
