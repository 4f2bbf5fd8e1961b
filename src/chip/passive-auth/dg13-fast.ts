/**
 * The DG13 fast parser: the same field walk as the reference parser
 * (dg13-reference.ts), read straight from the bytes into one reused array.
 */
import { DG13_FIELDS, MAX_STRING_DEPTH, NESTED_FIELDS, toData, type Dg13Result } from './dg13-fields.js'

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
export const IDENTITY_FIELDS: ReadonlySet<number> = new Set([DG13_FIELDS.pin, DG13_FIELDS.fullName, DG13_FIELDS.dateOfBirth, DG13_FIELDS.gender])
const NO_STRINGS: string[] = []

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
