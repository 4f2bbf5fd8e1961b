/**
 * DG13 fields: what a parser found, as the card prints it, turned into data
 * (shared by the reference parser, dg13-reference.ts, and the fast one,
 * dg13-fast.ts, so that they can only differ in how they read the tree).
 */
import { calendarDate } from './mrz.js'

/** Field numbers as printed on the card (MISSION.md, DG13). */
export const DG13_FIELDS = Object.freeze({
  pin: 1, fullName: 2, dateOfBirth: 3, gender: 4, nationality: 5, ethnicity: 6, religion: 7,
  placeOfOrigin: 8, placeOfResidence: 9, identifyingFeatures: 10, issueDate: 11, expiryDate: 12,
  parents: 13, spouse: 14, oldIdNumber: 15, cardId: 16
} as const)

export interface Dg13Data {
  readonly pin?: string
  /** NFC, whitespace collapsed. */
  readonly fullName?: string
  /** ISO date. */
  readonly dateOfBirth?: string
  readonly gender?: 'male' | 'female'
  readonly nationality?: string
  readonly issueDate?: string
  readonly expiryDate?: string
  readonly fatherName?: string
  readonly motherName?: string
  readonly spouseName?: string
  readonly oldIdNumber?: string
  /** Every field found, number → its strings (NFC), for callers that need more than the above. */
  readonly fields: ReadonlyMap<number, readonly string[]>
}

export type Dg13Result = { readonly ok: true, readonly data: Dg13Data } | { readonly ok: false, readonly detail: string }

/** Fields 13 (parents) and 14 (spouse) nest their names. */
export const NESTED_FIELDS = new Set<number>([DG13_FIELDS.parents, DG13_FIELDS.spouse])
/** How deep the strings of a nested field may lie. */
export const MAX_STRING_DEPTH = 4

/** The data of the fields found (the first occurrence of a field number wins), or why it is not a DG13. */
export function toData (fields: Map<number, string[]>): Dg13Result {
  const one = (n: number): string | undefined => {
    const v = fields.get(n)?.[0]
    return v === undefined || v === '' ? undefined : v
  }
  const pin = one(DG13_FIELDS.pin)
  const fullName = one(DG13_FIELDS.fullName)
  if (pin === undefined || fullName === undefined) return { ok: false, detail: 'DG13 has no PIN (field 1) or full name (field 2)' }
  if (!/^\d{12}$/.test(pin)) return { ok: false, detail: 'DG13 PIN is not 12 digits' }

  const dobText = one(DG13_FIELDS.dateOfBirth)
  const dateOfBirth = dobText === undefined ? undefined : parseDate(dobText)
  if (dobText !== undefined && dateOfBirth === undefined) return { ok: false, detail: 'DG13 birth date is not dd/mm/yyyy' }
  const genderText = one(DG13_FIELDS.gender)
  const gender = genderText === undefined ? undefined : parseGender(genderText)
  if (genderText !== undefined && gender === undefined) return { ok: false, detail: 'DG13 gender is not Nam/Nữ' }

  const parents = fields.get(DG13_FIELDS.parents) ?? []
  const optional: Record<string, string | undefined> = {
    nationality: one(DG13_FIELDS.nationality),
    issueDate: optionalDate(one(DG13_FIELDS.issueDate)),
    expiryDate: optionalDate(one(DG13_FIELDS.expiryDate)),
    fatherName: parents[0],
    motherName: parents[1],
    spouseName: fields.get(DG13_FIELDS.spouse)?.[0],
    oldIdNumber: one(DG13_FIELDS.oldIdNumber)
  }
  const data: Record<string, unknown> = { pin, fullName, fields }
  if (dateOfBirth !== undefined) data.dateOfBirth = dateOfBirth
  if (gender !== undefined) data.gender = gender
  for (const [k, v] of Object.entries(optional)) if (v !== undefined && v !== '') data[k] = v
  return { ok: true, data: data as unknown as Dg13Data }
}

/** `dd/mm/yyyy` (also `-` or `.` separators, or 8 bare digits) → ISO. */
export function parseDate (text: string): string | undefined {
  const m = /^(\d{2})[/.-]?(\d{2})[/.-]?(\d{4})$/.exec(text)
  if (m === null) return undefined
  return calendarDate(Number(m[3]), Number(m[2]), Number(m[1]))
}

/** Expiry may read "Không thời hạn" (no expiry): not a date, not an error. */
function optionalDate (text: string | undefined): string | undefined {
  return text === undefined ? undefined : parseDate(text)
}

/** `Nam` → male, `Nữ` → female; tolerant of case, decomposed Unicode and missing diacritics (`Nu`). */
export function parseGender (text: string): 'male' | 'female' | undefined {
  const folded = text.normalize('NFD').replace(/[\u0300-\u036f]/g, '').toLowerCase().trim()
  if (folded === 'nam' || folded === 'male' || folded === 'm') return 'male'
  if (folded === 'nu' || folded === 'female' || folded === 'f') return 'female'
  return undefined
}

