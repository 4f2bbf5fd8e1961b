/**
 * Text folding for addresses: the keys under which administrative units are
 * looked up, and the canonical form of the street part.
 *
 * A unit name folds like a person's name (src/domain/normalize.ts: NFC/NFD,
 * case, spaces, old/new tone placement), plus what addresses add: dots of
 * abbreviations (`TP.HCM`, `P.1`), hyphens and dashes (`Bà Rịa-Vũng Tàu`,
 * `Phan Rang – Tháp Chàm`), apostrophes of Central Highlands names
 * (`Đắk R'Lấp`, `Đắk R’Lấp`) and leading zeros (`Phường 01`). Its ASCII key
 * (no marks, `đ` → `d`) serves input typed without diacritics.
 */
import { asciiName, canonicalName } from '../domain/normalize.js'

/** Characters that separate words inside a unit name: dots, hyphens, dashes, underscores, brackets. */
const WORD_BREAKS = /[.\-‐‑‒–—―_()[\]{}]/g
/** Apostrophes (and their look-alikes) inside Central Highlands names: dropped. */
const APOSTROPHES = /['’ʼ`´‘]/g
const LEADING_ZEROS = /(^| )0+(\d)/g

/** The canonical words of a unit name, with diacritics: `Thành Phố  Hồ-Chí-Minh` → `thành phố hồ chí minh`. */
export function unitKey (text: string): string {
  return canonicalName(text.replace(APOSTROPHES, '').replace(WORD_BREAKS, ' ')).replace(LEADING_ZEROS, '$1$2')
}

/** The ASCII form of a unit key: `thành phố hồ chí minh` → `thanh pho ho chi minh`. */
export const asciiKey = asciiName

/** True when a key carries any diacritic (so it is compared with diacritics). */
export function hasDiacritics (key: string): boolean {
  for (let i = 0; i < key.length; i++) if (key.charCodeAt(i) > 0x7f) return true
  return false
}

const HOUSE_NUMBER_WORD = /^(so nha|so) (?=\d)/
const STREET_DROPPED = /[\u0300-\u036f'’ʼ]/g
const D_STROKE = /[đð]/g
const NOT_STREET = /[^a-z0-9/]+/g

/**
 * The street part (house, lane, street, hamlet) as compared: without
 * diacritics, lower case, punctuation but `/` dropped (`Số 12/3, Ngõ 5` →
 * `12/3 ngo 5`), and a leading `số`/`số nhà` before a house number dropped.
 * Diacritics go because relying parties' systems often hold this part in
 * ASCII while the unit names around it are resolved exactly (docs/design/addresses.md).
 */
export function streetKey (text: string): string {
  // Native passes over the NFD form (faster than a loop in JavaScript on long input): marks and
  // apostrophes dropped, đ → d, runs of anything else one space.
  return text.normalize('NFD').toLowerCase().replace(STREET_DROPPED, '').replace(D_STROKE, 'd').replace(NOT_STREET, ' ').trim().replace(HOUSE_NUMBER_WORD, '')
}
