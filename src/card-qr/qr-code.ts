/**
 * The QR code printed on the chip ID card (CCCD, and the căn cước of 2024):
 *
 *   PIN|old ID (CMND)|full name|birth date ddmmyyyy|gender Nam/Nữ|address|issue date ddmmyyyy
 *
 * e.g. `001099012345|012345678|Nguyễn Văn An|17051999|Nam|Số 12, Phường Ba Đình, Thành phố Hà Nội|01072021`.
 * The address is the place of residence (nơi thường trú / nơi cư trú) as
 * printed when the card was issued, so cards issued before 1 July 2025 carry
 * the old units. Liberal in what it reads, as scanners and card generations
 * differ: an empty or missing old ID field (people who never had a CMND; some
 * readers drop the empty field), a 12-digit old number, trailing fields and
 * separators, spaces around fields, a BOM or line break from a keyboard-wedge
 * scanner, dates as ddmmyyyy, dd/mm/yyyy, dd-mm-yyyy or yyyy-mm-dd, gender in
 * any case, with or without diacritics. Strict in what it accepts: anything
 * else is an error naming the field.
 */
import { attributeProblem } from '../domain/attribute-value.js'
import { isIsoDate } from '../domain/normalize.js'
import { pinToKey } from '../domain/pin.js'

export interface CardQr {
  readonly pin: string
  readonly key: number
  /** The old 9-digit (or 12-digit) ID number when the QR carries one; the register does not hold it. */
  readonly oldIdNumber: string | undefined
  readonly fullName: string
  readonly dateOfBirth: string
  readonly gender: 'male' | 'female'
  readonly placeOfResidence: string
  readonly cardIssueDate: string | undefined
}

export type QrResult = { readonly ok: true, readonly qr: CardQr } | { readonly ok: false, readonly detail: string }

/** Longer than any card's QR (a long address is ~200 characters); a bound on the work, not a format rule. */
export const MAX_QR_CHARS = 2048
const OLD_ID = /^(?:\d{9}|\d{12})$/
const DATE_FORMS: ReadonlyArray<readonly [RegExp, (m: RegExpExecArray) => string]> = [
  [/^(\d{2})(\d{2})(\d{4})$/, (m) => `${m[3]}-${m[2]}-${m[1]}`],
  [/^(\d{2})[/.-](\d{2})[/.-](\d{4})$/, (m) => `${m[3]}-${m[2]}-${m[1]}`],
  [/^(\d{4})-(\d{2})-(\d{2})$/, (m) => `${m[1]}-${m[2]}-${m[3]}`]
]
const FORMAT = 'a card QR is PIN|old ID|full name|birth date ddmmyyyy|gender|address|issue date ddmmyyyy'

function isoDate (field: string): string | undefined {
  for (const [form, iso] of DATE_FORMS) {
    const m = form.exec(field)
    if (m !== null) {
      const date = iso(m)
      return isIsoDate(date) ? date : undefined
    }
  }
  return undefined
}

function genderOf (field: string): 'male' | 'female' | undefined {
  const g = field.normalize('NFC').toLowerCase()
  if (g === 'nam' || g === 'male' || g === 'm') return 'male'
  if (g === 'nữ' || g === 'nu' || g === 'female' || g === 'f') return 'female'
  return undefined
}

const fail = (detail: string): QrResult => ({ ok: false, detail })

export function parseCardQr (input: unknown): QrResult {
  if (typeof input !== 'string') return fail('qr must be a string')
  if (input.length === 0 || input.length > MAX_QR_CHARS) return fail(`qr must be 1 to ${MAX_QR_CHARS} characters`)
  const fields = input.replace(/^\uFEFF/, '').split('|').map((f) => f.trim())
  while (fields.length > 0 && fields[fields.length - 1] === '') fields.pop()
  if (fields.length < 5) return fail(`qr has ${fields.length} field${fields.length === 1 ? '' : 's'} separated by '|'; ${FORMAT}`)
  const pin = fields[0]!
  const key = /^\d{12}$/.test(pin) ? pinToKey(pin) : -1
  if (key < 0) return fail('qr field 1 (personal identification number) must be 12 digits with a known province code')
  // The old ID is a number or empty; a field with letters is already the name (a reader that dropped the empty field).
  const hasOldId = fields[1] === '' || OLD_ID.test(fields[1]!)
  if (!hasOldId && /^\d+$/.test(fields[1]!)) return fail('qr field 2 (old ID number) must be empty, 9 or 12 digits')
  const at = hasOldId ? 2 : 1
  const n = (i: number): number => i + 1 // field numbers in messages count from 1, as printed in the format
  if (fields.length < at + 4) return fail(`qr has ${fields.length} fields; ${FORMAT}`)
  const fullName = fields[at]!
  const nameProblem = attributeProblem('fullName', fullName)
  if (nameProblem !== undefined || /\d/.test(fullName)) return fail(`qr field ${n(at)} (full name) ${nameProblem ?? 'must not contain digits'}`)
  const dateOfBirth = isoDate(fields[at + 1]!)
  if (dateOfBirth === undefined) return fail(`qr field ${n(at + 1)} (birth date) must be a date written ddmmyyyy`)
  const gender = genderOf(fields[at + 2]!)
  if (gender === undefined) return fail(`qr field ${n(at + 2)} (gender) must be Nam or Nữ`)
  const placeOfResidence = fields[at + 3]!
  const placeProblem = attributeProblem('placeOfResidence', placeOfResidence)
  if (placeProblem !== undefined) return fail(`qr field ${n(at + 3)} (address) ${placeProblem}`)
  let cardIssueDate: string | undefined
  const issue = fields[at + 4]
  if (issue !== undefined && issue !== '') {
    cardIssueDate = isoDate(issue)
    if (cardIssueDate === undefined) return fail(`qr field ${n(at + 4)} (issue date) must be a date written ddmmyyyy`)
  }
  // Later fields (newer cards, scanners' additions) are not part of what is verified.
  const oldIdNumber = hasOldId && fields[1] !== '' ? fields[1] : undefined
  return { ok: true, qr: { pin, key, oldIdNumber, fullName, dateOfBirth, gender, placeOfResidence, cardIssueDate } }
}
