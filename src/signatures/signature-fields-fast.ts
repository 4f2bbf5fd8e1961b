/**
 * The fast path for the Signature-Input and Signature values nearly every
 * client sends (one signature, canonical RFC 8941 form), in front of the full
 * parser of structured-fields.ts.
 *
 * Signature-Input, `label=("c1" "c2" …);created=1;keyid="k";nonce="n";alg="a"`:
 * the part up to the inner list's `)` (label and covered components) is the
 * request's *shape*, which is the same for every request of a party's client
 * and key; only the parameters change. A shape is parsed once by the full
 * parser and cached, and only if re-serialising it gives back exactly its
 * text (canonical form). The parameters after it are read here, and only in
 * the forms whose serialisation is their own text: integers without sign or
 * leading zeros, strings without escapes, no spaces, no duplicate keys. So
 * the `@signature-params` value is the header's own text after `label=`, and
 * nothing here accepts what the full parser refuses or reads a value
 * differently: every other input returns undefined and takes the full parser
 * (test/signatures/fast-fields.test.ts compares the two on random and mutated
 * inputs).
 *
 * Signature, `label=:base64:`: one member, canonically padded base64.
 */
import {
  MAX_FIELD_LENGTH, parseDictionaryField, serializeInnerList,
  type BareItem, type ComponentId, type InnerList, type Parameters, type SignatureInputMember
} from './structured-fields.js'

/** A parsed shape: the label and the covered components (parameter-free). */
interface Shape {
  readonly label: string
  readonly components: readonly ComponentId[]
}

/** Shapes are few (one or two per client version); a flood of made-up ones only empties the cache. */
const MAX_SHAPES = 1024
/** A longer shape is not cached (it takes the full parser), so the cache stays under a few hundred KiB. */
const MAX_SHAPE_LENGTH = 512
const shapes = new Map<string, Shape | null>()

const isDigit = (c: number): boolean => c >= 0x30 && c <= 0x39
const isLcAlpha = (c: number): boolean => c >= 0x61 && c <= 0x7a
/** RFC 8941 key characters after the first. */
const isKeyChar = (c: number): boolean => isLcAlpha(c) || isDigit(c) || c === 0x5f || c === 0x2d || c === 0x2e || c === 0x2a
/** Printable ASCII without `"` and `\`: a string character that serialises as itself. */
const isPlainStringChar = (c: number): boolean => c >= 0x20 && c <= 0x7e && c !== 0x22 && c !== 0x5c

/** The shape `label=(…)`, from the cache or parsed once by the full parser; null when it is not canonical. */
function shapeOf (prefix: string): Shape | null {
  const cached = shapes.get(prefix)
  if (cached !== undefined) return cached
  const shape = parseShape(prefix)
  if (shapes.size >= MAX_SHAPES) shapes.clear()
  shapes.set(prefix, shape)
  return shape
}

function parseShape (prefix: string): Shape | null {
  const parsed = parseDictionaryField(prefix)
  if (!parsed.ok || parsed.value.size !== 1) return null
  const [label, member] = parsed.value.entries().next().value as [string, unknown]
  if (!Array.isArray((member as InnerList)[0])) return null
  const list = member as InnerList
  if (list[1].size !== 0) return null
  const components: ComponentId[] = []
  for (const [name, params] of list[0]) {
    if (typeof name !== 'string' || params.size !== 0) return null
    components.push({ name, params })
  }
  let serialized: string
  try {
    serialized = serializeInnerList(list)
  } catch {
    return null
  }
  return `${label}=${serialized}` === prefix ? { label, components } : null
}

/**
 * Signature-Input in its common form, exactly as parseSignatureInput would give
 * it; undefined for anything else (the caller then runs the full parser).
 */
export function parseSignatureInputFast (value: string): Map<string, SignatureInputMember> | undefined {
  if (value.length > MAX_FIELD_LENGTH) return undefined
  const close = value.indexOf(')')
  if (close < 0 || close >= MAX_SHAPE_LENGTH) return undefined
  const shape = shapeOf(value.slice(0, close + 1))
  if (shape === null) return undefined
  const params: Parameters = new Map()
  const end = value.length
  let pos = close + 1
  while (pos < end) {
    if (value.charCodeAt(pos) !== 0x3b) return undefined // ;
    const keyStart = ++pos
    if (!isLcAlpha(value.charCodeAt(pos))) return undefined
    pos++
    while (pos < end && isKeyChar(value.charCodeAt(pos))) pos++
    const key = value.slice(keyStart, pos)
    if (value.charCodeAt(pos) !== 0x3d || params.has(key)) return undefined // =, and no key twice (the full parser keeps the last)
    pos++
    let item: BareItem
    const c = value.charCodeAt(pos)
    if (c === 0x22) { // "
      const start = ++pos
      while (pos < end && isPlainStringChar(value.charCodeAt(pos))) pos++
      if (value.charCodeAt(pos) !== 0x22) return undefined
      item = value.slice(start, pos++)
    } else if (isDigit(c)) {
      const start = pos
      while (pos < end && isDigit(value.charCodeAt(pos))) pos++
      const digits = pos - start
      // Canonical integers only: 1 to 15 digits, no leading zero, not followed by a fraction.
      if (digits > 15 || (c === 0x30 && digits > 1) || value.charCodeAt(pos) === 0x2e) return undefined
      item = Number.parseInt(value.slice(start, pos), 10)
    } else {
      return undefined
    }
    params.set(key, item)
  }
  const member: SignatureInputMember = { components: shape.components, params, serialized: value.slice(shape.label.length + 1) }
  const members = new Map<string, SignatureInputMember>()
  members.set(shape.label, member)
  return members
}

/**
 * Signature in its common form, `label=:base64:` with canonical padding, as
 * parseSignatureField would give it; undefined for anything else.
 */
export function parseSignatureFieldFast (value: string): Map<string, Uint8Array> | undefined {
  const end = value.length
  if (end > MAX_FIELD_LENGTH || !isLcAlpha(value.charCodeAt(0))) return undefined
  let pos = 1
  while (pos < end && isKeyChar(value.charCodeAt(pos))) pos++
  const label = value.slice(0, pos)
  if (value.charCodeAt(pos) !== 0x3d || value.charCodeAt(pos + 1) !== 0x3a || value.charCodeAt(end - 1) !== 0x3a) return undefined // =: … :
  const start = pos + 2
  const stop = end - 1
  if (stop < start || (stop - start) % 4 !== 0) return undefined
  let i = start
  for (; i < stop; i++) {
    const c = value.charCodeAt(i)
    if (!(isLcAlpha(c) || (c >= 0x41 && c <= 0x5a) || isDigit(c) || c === 0x2b || c === 0x2f)) break
  }
  // Up to two `=` of padding, at the very end only.
  const pad = stop - i
  if (pad > 2) return undefined
  for (; i < stop; i++) if (value.charCodeAt(i) !== 0x3d) return undefined
  const members = new Map<string, Uint8Array>()
  members.set(label, Buffer.from(value.slice(start, stop), 'base64'))
  return members
}
