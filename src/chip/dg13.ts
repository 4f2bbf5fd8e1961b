/**
 * DG13: Vietnamese personal data as printed on the CCCD (tag 0x6D).
 *
 * Nominal layout: SEQUENCE { INTEGER version, OBJECT IDENTIFIER,
 *   SET OF SEQUENCE { INTEGER fieldNumber, value } }, values UTF8String or
 * PrintableString; field 13 (parents) and 14 (spouse) nest their names.
 * Card generations differ in the wrapping (SET vs SEQUENCE, extra levels), so
 * the parser is deliberately liberal: it walks the whole tree and takes as a
 * field any SEQUENCE whose first element is an INTEGER and whose remaining
 * elements are strings (or, for 13/14, anything containing strings). The first
 * occurrence of a field number wins.
 *
 * Only called on a DG13 whose hash matched the SOD: the bytes are authentic,
 * so liberal parsing cannot be exploited to inject data.
 */
import * as asn1js from 'asn1js'
import { DerError, decodeWhole, errorText } from './der.js'
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

const NESTED_FIELDS = new Set<number>([DG13_FIELDS.parents, DG13_FIELDS.spouse])
const MAX_STRING_DEPTH = 4

export function parseDg13 (bytes: Uint8Array): Dg13Result {
  try {
    const root = decodeWhole(bytes, 'DG13')
    if (root.idBlock.tagClass !== 2 || root.idBlock.tagNumber !== 13 || !(root instanceof asn1js.Constructed)) {
      return { ok: false, detail: 'DG13 is not tag 0x6D' }
    }
    const fields = new Map<number, string[]>()
    collectFields(root, fields, 0)
    return toData(fields)
  } catch (err) {
    return { ok: false, detail: err instanceof DerError ? err.message : `DG13 does not parse: ${errorText(err)}` }
  }
}

function collectFields (node: asn1js.AsnType, fields: Map<number, string[]>, depth: number): void {
  if (depth > 12 || !isConstructed(node)) return
  const children = node.valueBlock.value
  const first = children[0]
  if (node instanceof asn1js.Sequence && first instanceof asn1js.Integer && children.length >= 2 && first.valueBlock.valueHexView.byteLength <= 2) {
    const n = first.valueBlock.valueDec
    const rest = children.slice(1)
    if (NESTED_FIELDS.has(n)) {
      // Parents/spouse: take every string below, whatever the nesting (they differ between generations).
      if (!fields.has(n)) fields.set(n, rest.flatMap(c => stringsIn(c, 0)))
      return
    }
    if (rest.every(c => stringOf(c) !== undefined)) {
      if (!fields.has(n)) fields.set(n, rest.map(c => stringOf(c) ?? ''))
      return
    }
  }
  for (const child of children) collectFields(child, fields, depth + 1)
}

function isConstructed (node: asn1js.AsnType): node is asn1js.Constructed {
  return node instanceof asn1js.Constructed
}

/** A string-typed block's text (NFC, trimmed, spaces collapsed), else undefined. */
function stringOf (node: asn1js.AsnType): string | undefined {
  if (node instanceof asn1js.BaseStringBlock) return node.getValue().normalize('NFC').replace(/\s+/g, ' ').trim()
  return undefined
}

function stringsIn (node: asn1js.AsnType, depth: number): string[] {
  const s = stringOf(node)
  if (s !== undefined) return s === '' ? [] : [s]
  if (depth >= MAX_STRING_DEPTH || !isConstructed(node)) return []
  return node.valueBlock.value.flatMap(c => stringsIn(c, depth + 1))
}

function toData (fields: Map<number, string[]>): Dg13Result {
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
