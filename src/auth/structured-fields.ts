/**
 * RFC 8941 structured fields for the two RFC 9421 headers, on top of the
 * `structured-headers` package (a character-at-a-time parser with no
 * backtracking regular expressions). This module only adds what a server facing
 * hostile input needs: a length cap before parsing, every exception turned into
 * a typed failure, and the shapes RFC 9421 requires checked once here.
 */
import {
  parseDictionary,
  serializeInnerList,
  type BareItem,
  type Dictionary,
  type InnerList,
  type Item,
  type Parameters
} from 'structured-headers'

export type SfResult<T> = { readonly ok: true, readonly value: T } | { readonly ok: false, readonly reason: string }

/** Real Signature-Input values are a few hundred bytes; 8 KiB leaves room for several signatures. */
export const MAX_FIELD_LENGTH = 8192
/** More signatures than this on one request is abuse, not interoperability. */
export const MAX_SIGNATURES = 8

/** One covered component: its name (`@method`, `content-digest`) and its parameters (`;sf`, `;name="x"`). */
export interface ComponentId {
  readonly name: string
  readonly params: Parameters
}

/** One member of Signature-Input. */
export interface SignatureInputMember {
  readonly components: readonly ComponentId[]
  readonly params: Parameters
  /** The inner list serialised per RFC 8941 §4.1.1: the value of the `@signature-params` line (RFC 9421 §2.3). */
  readonly serialized: string
}

function fail<T> (reason: string): SfResult<T> {
  return { ok: false, reason }
}

/** Parses a dictionary field; never throws. */
export function parseDictionaryField (value: string, maxLength = MAX_FIELD_LENGTH): SfResult<Dictionary> {
  if (value.length > maxLength) return fail(`field longer than ${maxLength} characters`)
  try {
    return { ok: true, value: parseDictionary(value) }
  } catch (err) {
    return fail(err instanceof Error ? err.message : 'unparseable structured field')
  }
}

function isInnerList (member: Item | InnerList): member is InnerList {
  return Array.isArray(member[0])
}

/** Signature-Input: every member must be an inner list of strings. Labels keep header order. */
export function parseSignatureInput (value: string): SfResult<Map<string, SignatureInputMember>> {
  const parsed = parseDictionaryField(value)
  if (!parsed.ok) return parsed
  if (parsed.value.size > MAX_SIGNATURES) return fail(`more than ${MAX_SIGNATURES} signatures`)
  const out = new Map<string, SignatureInputMember>()
  for (const [label, member] of parsed.value) {
    if (!isInnerList(member)) return fail(`Signature-Input member ${label} is not an inner list`)
    const components: ComponentId[] = []
    for (const [name, params] of member[0]) {
      if (typeof name !== 'string') return fail(`Signature-Input member ${label} has a component identifier that is not a string`)
      components.push({ name, params })
    }
    let serialized: string
    try {
      serialized = serializeInnerList(member)
    } catch (err) {
      return fail(`Signature-Input member ${label} cannot be serialised: ${err instanceof Error ? err.message : 'error'}`)
    }
    out.set(label, { components, params: member[1], serialized })
  }
  return { ok: true, value: out }
}

/** Signature: every member must be a byte sequence. */
export function parseSignatureField (value: string): SfResult<Map<string, Uint8Array>> {
  const parsed = parseDictionaryField(value)
  if (!parsed.ok) return parsed
  if (parsed.value.size > MAX_SIGNATURES) return fail(`more than ${MAX_SIGNATURES} signatures`)
  const out = new Map<string, Uint8Array>()
  for (const [label, member] of parsed.value) {
    const bytes = isInnerList(member) ? undefined : asBytes(member[0])
    if (bytes === undefined) return fail(`Signature member ${label} is not a byte sequence`)
    out.set(label, bytes)
  }
  return { ok: true, value: out }
}

/** A byte sequence item as bytes (the parser gives byte sequences as ArrayBuffers). */
export function asBytes (item: BareItem): Uint8Array | undefined {
  return item instanceof ArrayBuffer ? new Uint8Array(item) : undefined
}
