/**
 * RFC 8941 structured fields: the parser and serialiser for the dictionaries of
 * RFC 9421 (Signature-Input, Signature) and RFC 9530 (Content-Digest).
 *
 * Why not the `structured-headers` package: it is correct but costs 6–10 µs per
 * header here (a regular expression per character, atob for byte sequences),
 * about 20 µs per request for the three headers, which is most of the budget of
 * an HMAC-signed request. This parser follows RFC 8941 §4.2 step by step with
 * char codes and no regular expressions on the input (so no backtracking), and
 * test/signatures/structured-fields.test.ts checks it against `structured-headers` on
 * thousands of random and mutated inputs: same acceptance, same values, same
 * serialisation.
 *
 * Scope: RFC 8941 only; the RFC 9651 additions (dates `@`, display strings
 * `%"`) are refused, as no field here uses them. Hostile input gets a typed
 * failure, never an exception; a length cap bounds the work.
 */
import { clip } from '../clip.js'

export type SfResult<T> = { readonly ok: true, readonly value: T } | { readonly ok: false, readonly reason: string }

/** A token (RFC 8941 §3.3.4), kept apart from strings because it serialises without quotes. */
export class SfToken {
  constructor (readonly value: string) {}
}

/** A decimal (§3.3.2), kept apart from integers because it serialises with a fraction (1.0 is not 1). */
export class SfDecimal {
  constructor (readonly value: number) {}
}

export type BareItem = number | SfDecimal | string | SfToken | Uint8Array | boolean
export type Parameters = Map<string, BareItem>
export type Item = readonly [BareItem, Parameters]
export type InnerList = readonly [readonly Item[], Parameters]
export type Dictionary = Map<string, Item | InnerList>

/** Real Signature-Input values are a few hundred bytes; 8 KiB leaves room for several signatures. */
export const MAX_FIELD_LENGTH = 8192
/** More signatures than this on one request is abuse, not interoperability. */
export const MAX_SIGNATURES = 8

class ParseError extends Error {}

/**
 * The parameters of every item that has none (most of them): one shared empty
 * map instead of an allocation per item. Parsed values are read, never changed.
 */
const NO_PARAMETERS: Parameters = new Map()

const SP = 0x20
const HTAB = 0x09
const isDigit = (c: number): boolean => c >= 0x30 && c <= 0x39
const isLcAlpha = (c: number): boolean => c >= 0x61 && c <= 0x7a
const isAlpha = (c: number): boolean => isLcAlpha(c) || (c >= 0x41 && c <= 0x5a)
/** RFC 9110 tchar. */
const isTchar = (c: number): boolean => isAlpha(c) || isDigit(c) || (c < 0x80 && "!#$%&'*+-.^_`|~".includes(String.fromCharCode(c)))
const isBase64 = (c: number): boolean => isAlpha(c) || isDigit(c) || c === 0x2b || c === 0x2f || c === 0x3d

class Parser {
  pos = 0
  constructor (readonly s: string) {}

  fail (what: string): never {
    throw new ParseError(`${what} at offset ${this.pos}`)
  }

  peek (): number {
    return this.pos < this.s.length ? this.s.charCodeAt(this.pos) : -1
  }

  skipSP (): void {
    while (this.peek() === SP) this.pos++
  }

  skipOWS (): void {
    for (let c = this.peek(); c === SP || c === HTAB; c = this.peek()) this.pos++
  }

  /** §4.2.2 */
  dictionary (): Dictionary {
    const dict: Dictionary = new Map()
    while (this.pos < this.s.length) {
      const key = this.key()
      if (this.peek() === 0x3d) {
        this.pos++
        dict.set(key, this.itemOrInnerList())
      } else {
        dict.set(key, [true, this.parameters()])
      }
      this.skipOWS()
      if (this.pos >= this.s.length) return dict
      if (this.peek() !== 0x2c) this.fail('expected ","')
      this.pos++
      this.skipOWS()
      if (this.pos >= this.s.length) this.fail('trailing ","')
    }
    return dict
  }

  itemOrInnerList (): Item | InnerList {
    return this.peek() === 0x28 ? this.innerList() : this.item()
  }

  /** §4.2.1.2 */
  innerList (): InnerList {
    this.pos++ // (
    const items: Item[] = []
    while (this.pos < this.s.length) {
      this.skipSP()
      if (this.peek() === 0x29) {
        this.pos++
        return [items, this.parameters()]
      }
      items.push(this.item())
      const c = this.peek()
      if (c !== SP && c !== 0x29) this.fail('expected " " or ")" in an inner list')
    }
    return this.fail('unterminated inner list')
  }

  item (): Item {
    const bare = this.bareItem()
    return [bare, this.parameters()]
  }

  /** §4.2.3.1 */
  bareItem (): BareItem {
    const c = this.peek()
    if (c === 0x2d || isDigit(c)) return this.number()
    if (c === 0x22) return this.string()
    if (c === 0x2a || isAlpha(c)) return this.token()
    if (c === 0x3a) return this.byteSequence()
    if (c === 0x3f) return this.boolean()
    return this.fail('expected an item')
  }

  /** §4.2.3.2 */
  parameters (): Parameters {
    if (this.peek() !== 0x3b) return NO_PARAMETERS
    const params: Parameters = new Map()
    while (this.peek() === 0x3b) {
      this.pos++
      this.skipSP()
      const key = this.key()
      let value: BareItem = true
      if (this.peek() === 0x3d) {
        this.pos++
        value = this.bareItem()
      }
      params.set(key, value)
    }
    return params
  }

  /** §4.2.3.3 */
  key (): string {
    const start = this.pos
    const first = this.peek()
    if (!isLcAlpha(first) && first !== 0x2a) this.fail('expected a key')
    this.pos++
    for (let c = this.peek(); isLcAlpha(c) || isDigit(c) || c === 0x5f || c === 0x2d || c === 0x2e || c === 0x2a; c = this.peek()) this.pos++
    return this.s.slice(start, this.pos)
  }

  /** §4.2.4 */
  number (): number | SfDecimal {
    const start = this.pos
    let negative = false
    if (this.peek() === 0x2d) {
      negative = true
      this.pos++
    }
    if (!isDigit(this.peek())) this.fail('expected a digit')
    const digitsStart = this.pos
    let dot = -1
    while (this.pos < this.s.length) {
      const c = this.peek()
      if (isDigit(c)) {
        this.pos++
      } else if (dot < 0 && c === 0x2e) {
        if (this.pos - digitsStart > 12) this.fail('decimal with more than 12 integer digits')
        dot = this.pos
        this.pos++
      } else {
        break
      }
      const len = this.pos - digitsStart
      if (dot < 0 && len > 15) this.fail('integer with more than 15 digits')
      if (dot >= 0 && len > 16) this.fail('decimal longer than 16 characters')
    }
    const text = this.s.slice(start, this.pos)
    if (dot < 0) {
      const n = Number.parseInt(text, 10)
      return negative && n === 0 ? 0 : n // -0 is 0 in RFC 8941
    }
    const fraction = this.pos - dot - 1
    if (fraction === 0) this.fail('decimal ending in "."')
    if (fraction > 3) this.fail('decimal with more than 3 fraction digits')
    const v = Number.parseFloat(text)
    return new SfDecimal(v === 0 ? 0 : v)
  }

  /** §4.2.5 */
  string (): string {
    this.pos++ // "
    let out = ''
    let runStart = this.pos
    while (this.pos < this.s.length) {
      const c = this.s.charCodeAt(this.pos)
      if (c === 0x5c) {
        out += this.s.slice(runStart, this.pos)
        this.pos++
        const next = this.peek()
        if (next !== 0x22 && next !== 0x5c) this.fail('bad escape in a string')
        out += String.fromCharCode(next)
        this.pos++
        runStart = this.pos
      } else if (c === 0x22) {
        out += this.s.slice(runStart, this.pos)
        this.pos++
        return out
      } else if (c < 0x20 || c > 0x7e) {
        this.fail('control or non-ASCII character in a string')
      } else {
        this.pos++
      }
    }
    return this.fail('unterminated string')
  }

  /** §4.2.6 */
  token (): SfToken {
    const start = this.pos
    this.pos++
    for (let c = this.peek(); isTchar(c) || c === 0x3a || c === 0x2f; c = this.peek()) this.pos++
    return new SfToken(this.s.slice(start, this.pos))
  }

  /** §4.2.7, with the forgiving-base64 padding rules of the WHATWG decoder (what `structured-headers` accepts). */
  byteSequence (): Uint8Array {
    this.pos++ // :
    const end = this.s.indexOf(':', this.pos)
    if (end < 0) this.fail('unterminated byte sequence')
    let b64 = this.s.slice(this.pos, end)
    for (let i = 0; i < b64.length; i++) if (!isBase64(b64.charCodeAt(i))) this.fail('bad base64 in a byte sequence')
    this.pos = end + 1
    if (b64.length % 4 === 0) {
      if (b64.endsWith('==')) b64 = b64.slice(0, -2)
      else if (b64.endsWith('=')) b64 = b64.slice(0, -1)
    }
    if (b64.length % 4 === 1 || b64.includes('=')) this.fail('bad base64 padding in a byte sequence')
    return Buffer.from(b64, 'base64')
  }

  /** §4.2.8 */
  boolean (): boolean {
    this.pos++ // ?
    const c = this.peek()
    if (c === 0x31 || c === 0x30) {
      this.pos++
      return c === 0x31
    }
    return this.fail('expected ?0 or ?1')
  }
}

function fail<T> (reason: string): SfResult<T> {
  return { ok: false, reason }
}

/** Parses a dictionary field (RFC 8941 §4.2 with §4.2.2); never throws. */
export function parseDictionaryField (value: string, maxLength = MAX_FIELD_LENGTH): SfResult<Dictionary> {
  if (value.length > maxLength) return fail(`field longer than ${maxLength} characters`)
  const p = new Parser(value)
  try {
    p.skipSP()
    const dict = p.dictionary()
    p.skipSP()
    if (p.pos !== value.length) p.fail('unexpected characters')
    return { ok: true, value: dict }
  } catch (err) {
    if (err instanceof ParseError) return fail(err.message)
    return fail('unparseable structured field')
  }
}

// ---- serialisation (§4.1), for the @signature-params line and our signing client ----

/** Printable ASCII without `"` and `\\`: a string that serialises as itself between quotes. */
const PLAIN_STRING = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/

/** §4.1.2-4.1.8 for one bare item. */
export function serializeBareItem (v: BareItem): string {
  if (typeof v === 'number') {
    if (!Number.isInteger(v) || Math.abs(v) > 999_999_999_999_999) throw new RangeError('integer out of range')
    return String(v)
  }
  if (v instanceof SfDecimal) {
    const r = Math.round(v.value * 1000) / 1000 // RFC rounds half to even; inputs here never have >3 digits
    if (Math.abs(Math.trunc(r)) > 999_999_999_999) throw new RangeError('decimal out of range')
    const s = String(r)
    return s.includes('.') ? s : `${s}.0`
  }
  if (typeof v === 'string') {
    if (PLAIN_STRING.test(v)) return `"${v}"` // nothing to escape (the usual keyid, nonce, component name)
    let out = '"'
    for (let i = 0; i < v.length; i++) {
      const c = v.charCodeAt(i)
      if (c < 0x20 || c > 0x7e) throw new RangeError('string with a control or non-ASCII character')
      if (c === 0x22 || c === 0x5c) out += '\\'
      out += v[i]
    }
    return `${out}"`
  }
  if (v instanceof SfToken) return v.value
  if (typeof v === 'boolean') return v ? '?1' : '?0'
  return `:${Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64')}:`
}

export function serializeParameters (params: Parameters): string {
  let out = ''
  for (const [k, v] of params) out += v === true ? `;${k}` : `;${k}=${serializeBareItem(v)}`
  return out
}

/** §4.1.1.1 */
export function serializeInnerList (list: InnerList): string {
  return `(${list[0].map(([v, p]) => serializeBareItem(v) + serializeParameters(p)).join(' ')})${serializeParameters(list[1])}`
}

// ---- the RFC 9421 shapes ----

/** One covered component: its name (`@method`, `content-digest`) and its parameters (`;sf`, `;name="x"`). */
export interface ComponentId {
  readonly name: string
  readonly params: Parameters
}

/** One member of Signature-Input. */
export interface SignatureInputMember {
  readonly components: readonly ComponentId[]
  readonly params: Parameters
  /** The inner list serialised per RFC 8941 §4.1.1.1: the value of the `@signature-params` line (RFC 9421 §2.3). */
  readonly serialized: string
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
    if (!isInnerList(member)) return fail(`Signature-Input member ${clip(label)} is not an inner list`)
    const components: ComponentId[] = []
    for (const [name, params] of member[0]) {
      if (typeof name !== 'string') return fail(`Signature-Input member ${clip(label)} has a component identifier that is not a string`)
      components.push({ name, params })
    }
    let serialized: string
    try {
      serialized = serializeInnerList(member)
    } catch (err) {
      return fail(`Signature-Input member ${clip(label)} cannot be serialised: ${err instanceof Error ? err.message : 'error'}`)
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
    const bytes = isInnerList(member) ? undefined : asBytes(member[0] as BareItem)
    if (bytes === undefined) return fail(`Signature member ${clip(label)} is not a byte sequence`)
    out.set(label, bytes)
  }
  return { ok: true, value: out }
}

export function asBytes (item: BareItem): Uint8Array | undefined {
  return item instanceof Uint8Array ? item : undefined
}
