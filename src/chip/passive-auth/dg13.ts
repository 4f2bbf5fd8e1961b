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
    const fast = parseDg13Fast(bytes)
    if (fast !== undefined) return fast
  } catch {
    // Any surprise in the fast path: the asn1js path below decides.
  }
  return parseDg13Asn1js(bytes)
}

/** The reference parser: asn1js tree, then the liberal field walk. The fast path must agree with it. */
export function parseDg13Asn1js (bytes: Uint8Array): Dg13Result {
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

// ---------------------------------------------------------------------------
// Fast path
//
// asn1js costs microseconds per element (an INTEGER alone allocates several
// objects and converts its value through an ArrayBuffer copy), and a DG13 has
// ~60 elements, so the asn1js path costs several times the SOD signature
// check. The fast path below reads the same tree straight from the bytes, for
// the encodings it fully understands: low tag numbers, definite minimal
// lengths, every element exactly filling its parent, and only the element
// types whose asn1js decoding cannot fail or warn in a way that matters
// (SEQUENCE, SET, INTEGER, OBJECT IDENTIFIER, OCTET STRING, NULL, the 8-bit
// and UTF-8 string types, and application/context/private elements). It then
// runs the same field walk as collectFields, with the same element classes.
// Anything else (indefinite lengths, BMPString, times, invalid UTF-8, limits
// approached, a malformed element) returns undefined and the asn1js path
// parses the DG13 and produces the answer, error details included.

/**
 * The tree is kept in one reused Int32Array rather than an object per element
 * (a DG13 has ~80 elements; the objects and child arrays were half of what a
 * chip verification allocated). Per node, NODE_STRIDE slots: identifier octet
 * (low tag number form only), content start, content end, first child, next
 * sibling, child count. First child is -1 for a constructed element with no
 * children and PRIMITIVE for a primitive one. Synchronous and not reentrant.
 */
const NODE_STRIDE = 6
const ID = 0
const START = 1
const END = 2
const FIRST = 3
const NEXT = 4
const COUNT = 5
const PRIMITIVE = -2

/** Well inside BER_LIMITS (maxDepth 40, maxNodes 8000), so the asn1js limits can never be what decides. */
const FAST_MAX_DEPTH = 30
const FAST_MAX_NODES = 4000
const FAST_MAX_BYTES = 4 * 1024 * 1024
const FAST_MAX_LATIN1 = 4096
const nodes = new Int32Array((FAST_MAX_NODES + 1) * NODE_STRIDE)

/** Universal string types asn1js decodes as latin1 (LocalSimpleStringBlock): Numeric, Printable, Teletex, Videotex, IA5, Graphic, Visible, General, Character. */
const LATIN1_STRING_TAGS = new Set([18, 19, 20, 21, 22, 25, 26, 27, 29])
const UTF8_STRING_TAG = 12
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

class FastPathDeclined extends Error {}

/** Fields verifyChip reads (the PIN/birth date/gender comparison with the MRZ, and the identity). */
const IDENTITY_FIELDS: ReadonlySet<number> = new Set([DG13_FIELDS.pin, DG13_FIELDS.fullName, DG13_FIELDS.dateOfBirth, DG13_FIELDS.gender])
const NO_STRINGS: string[] = []

/**
 * For verifyChip: the same ok/detail as parseDg13 (which depends only on
 * fields 1–4), the same pin, fullName, dateOfBirth and gender, but the
 * strings of the other fields are not decoded: `fields` maps them to an empty
 * list and the other optional properties are absent. Not for callers that
 * want the whole DG13.
 */
export function parseDg13Identity (bytes: Uint8Array): Dg13Result {
  try {
    const fast = parseDg13Fast(bytes, IDENTITY_FIELDS)
    if (fast !== undefined) return fast
  } catch {
    // As in parseDg13: the asn1js path decides.
  }
  return parseDg13Asn1js(bytes)
}

/**
 * The fast path alone: undefined where it declines (exported for the
 * equivalence tests). With `only`, strings are decoded for those field
 * numbers alone; the walk (which field is found where, first occurrence
 * wins) is the same, since it depends on element types, not on the text.
 */
export function parseDg13Fast (bytes: Uint8Array, only?: ReadonlySet<number>): Dg13Result | undefined {
  if (!(bytes instanceof Uint8Array) || bytes.byteLength < 2 || bytes.byteLength > FAST_MAX_BYTES || bytes[0] !== 0x6d) return undefined
  const counter = { nodes: 0 }
  const root = readNode(bytes, 0, bytes.byteLength, 0, counter)
  if (root < 0 || nodes[root * NODE_STRIDE + END] !== bytes.byteLength) return undefined
  const fields = new Map<number, string[]>()
  try {
    collectFast(bytes, root, fields, 0, only)
  } catch (err) {
    if (err instanceof FastPathDeclined) return undefined
    throw err
  }
  return toData(fields)
}

/** One element at `pos` (which must end by `limit`): its node index, or -1 when the fast path does not handle it. */
function readNode (bytes: Uint8Array, pos: number, limit: number, depth: number, counter: { nodes: number }): number {
  if (depth > FAST_MAX_DEPTH || counter.nodes >= FAST_MAX_NODES || limit - pos < 2) return -1
  const index = counter.nodes++
  const id = bytes[pos] as number
  if ((id & 0x1f) === 0x1f) return -1 // long-form tag
  let len = bytes[pos + 1] as number
  let at = pos + 2
  if (len >= 0x80) {
    const n = len & 0x7f
    // Indefinite (0x80) and over-long or non-minimal definite lengths are left to asn1js.
    if (n === 0 || n > 3 || limit - at < n) return -1
    len = 0
    for (let i = 0; i < n; i++) len = len * 256 + (bytes[at + i] as number)
    at += n
    if (len < 0x80 || (bytes[pos + 2] as number) === 0) return -1
  }
  const end = at + len
  if (end > limit) return -1
  const constructed = (id & 0x20) !== 0
  if ((id & 0xc0) === 0) {
    // Universal class: only the types listed above.
    const tag = id & 0x1f
    if (constructed) {
      if (tag !== 16 && tag !== 17) return -1
    } else if (tag === 2) {
      if (len === 0) return -1
    } else if (tag === 6) {
      if (len === 0 || ((bytes[end - 1] as number) & 0x80) !== 0) return -1
    } else if (tag === 5) {
      if (len !== 0) return -1
    } else if (LATIN1_STRING_TAGS.has(tag)) {
      // asn1js builds these with String.fromCharCode.apply, which throws on very long input.
      if (len > FAST_MAX_LATIN1) return -1
    } else if (tag !== 4 && tag !== UTF8_STRING_TAG) {
      return -1
    }
  }
  const o = index * NODE_STRIDE
  nodes[o + ID] = id
  nodes[o + START] = at
  nodes[o + END] = end
  nodes[o + NEXT] = -1
  nodes[o + COUNT] = 0
  nodes[o + FIRST] = constructed ? -1 : PRIMITIVE
  if (!constructed) return index
  let previous = -1
  let count = 0
  let p = at
  while (p < end) {
    const child = readNode(bytes, p, end, depth + 1, counter)
    if (child < 0) return -1
    if (previous < 0) nodes[o + FIRST] = child
    else nodes[previous * NODE_STRIDE + NEXT] = child
    previous = child
    count++
    p = nodes[child * NODE_STRIDE + END] as number
  }
  nodes[o + COUNT] = count
  return index
}

const idOf = (node: number): number => nodes[node * NODE_STRIDE + ID] as number
const firstOf = (node: number): number => nodes[node * NODE_STRIDE + FIRST] as number
const nextOf = (node: number): number => nodes[node * NODE_STRIDE + NEXT] as number

/** collectFields over the node tree: asn1js.Sequence = universal 0x30, asn1js.Integer = 0x02, BaseStringBlock = the string tags. */
function collectFast (bytes: Uint8Array, node: number, fields: Map<number, string[]>, depth: number, only: ReadonlySet<number> | undefined): void {
  const first = firstOf(node)
  if (depth > 12 || first === PRIMITIVE) return
  const o = first * NODE_STRIDE
  if (idOf(node) === 0x30 && first >= 0 && idOf(first) === 0x02 && (nodes[node * NODE_STRIDE + COUNT] as number) >= 2 && (nodes[o + END] as number) - (nodes[o + START] as number) <= 2) {
    const n = smallTwosComplement(bytes, first)
    const decode = only === undefined || only.has(n)
    if (NESTED_FIELDS.has(n)) {
      if (!fields.has(n)) {
        const strings: string[] = decode ? [] : NO_STRINGS
        if (decode) for (let c = nextOf(first); c >= 0; c = nextOf(c)) fastStringsIn(bytes, c, 0, strings)
        fields.set(n, strings)
      }
      return
    }
    let allStrings = true
    for (let c = nextOf(first); c >= 0; c = nextOf(c)) {
      if (!isFastString(c)) { allStrings = false; break }
    }
    if (allStrings) {
      if (!fields.has(n)) {
        const strings: string[] = decode ? [] : NO_STRINGS
        if (decode) for (let c = nextOf(first); c >= 0; c = nextOf(c)) strings.push(fastStringOf(bytes, c))
        fields.set(n, strings)
      }
      return
    }
  }
  for (let c = first; c >= 0; c = nextOf(c)) collectFast(bytes, c, fields, depth + 1, only)
}

/** asn1js valueDec of a 1- or 2-byte INTEGER (two's complement). */
function smallTwosComplement (bytes: Uint8Array, node: number): number {
  const start = nodes[node * NODE_STRIDE + START] as number
  const end = nodes[node * NODE_STRIDE + END] as number
  let v = 0
  for (let i = start; i < end; i++) v = v * 256 + (bytes[i] as number)
  const bits = (end - start) * 8
  return (bytes[start] as number) >= 0x80 ? v - 2 ** bits : v
}

function isFastString (node: number): boolean {
  const id = idOf(node)
  return firstOf(node) === PRIMITIVE && (id === UTF8_STRING_TAG || LATIN1_STRING_TAGS.has(id))
}

/** stringOf for a string node: asn1js's decoding (strict UTF-8, or latin1), then the same clean-up. */
function fastStringOf (bytes: Uint8Array, node: number): string {
  const view = bytes.subarray(nodes[node * NODE_STRIDE + START] as number, nodes[node * NODE_STRIDE + END] as number)
  let text: string
  if (idOf(node) === UTF8_STRING_TAG) {
    try {
      text = utf8.decode(view)
    } catch {
      // asn1js falls back to a raw (binary) string with a warning: let it.
      throw new FastPathDeclined()
    }
  } else {
    text = Buffer.from(view.buffer, view.byteOffset, view.byteLength).toString('latin1')
  }
  return text.normalize('NFC').replace(/\s+/g, ' ').trim()
}

/** The non-empty strings at or below `node` (MAX_STRING_DEPTH levels), appended to `out` in tree order. */
function fastStringsIn (bytes: Uint8Array, node: number, depth: number, out: string[]): void {
  if (isFastString(node)) {
    const s = fastStringOf(bytes, node)
    if (s !== '') out.push(s)
    return
  }
  if (depth >= MAX_STRING_DEPTH) return
  for (let c = firstOf(node); c >= 0; c = nextOf(c)) fastStringsIn(bytes, c, depth + 1, out)
}
