/**
 * Content negotiation and body decoding for JSON and MessagePack.
 *
 * MessagePack is decoded with msgpackr, which can build RegExp, Set, Error,
 * typed arrays, Dates and shared references from hostile input. Every decoded
 * value is therefore walked and anything but plain data (null, boolean, finite
 * number, string, array, plain object; bytes only where a route allows them) is
 * refused, as is nesting deeper than MAX_DEPTH.
 *
 * Duplicate keys (`{"pin": A, "pin": B}`) are refused too: JSON.parse and
 * msgpackr keep the last, other parsers the first, so a proxy, a log or the
 * client's own check could read a different question from the one answered.
 * Cheaply: the walk counts the decoded objects' keys, a single pass over the
 * text (JSON: the colons outside strings) or the map headers (MessagePack)
 * counts the members as sent, and only when the two differ is the body scanned
 * again, with a key set per object, to name the duplicate.
 */
import { Packr, Unpackr } from 'msgpackr'
import { clip } from '../clip.js'
import { ServiceError } from '../errors.js'
import { msgpackDuplicate, msgpackMemberCount, protoKeysSent, SCAN_UNSUPPORTED } from './msgpack-keys.js'

export type MediaType = 'json' | 'msgpack'

export const CONTENT_TYPES: Readonly<Record<MediaType, string>> = {
  json: 'application/json',
  msgpack: 'application/vnd.msgpack'
}

const MSGPACK_ALIASES = new Set(['application/vnd.msgpack', 'application/msgpack', 'application/x-msgpack'])
const MAX_DEPTH = 32

/** The media type of a request body, or undefined when unsupported. */
export function requestMediaType (contentType: string): MediaType | undefined {
  const semi = contentType.indexOf(';')
  const type = (semi < 0 ? contentType : contentType.slice(0, semi)).trim().toLowerCase()
  if (type === 'application/json') return 'json'
  if (MSGPACK_ALIASES.has(type)) return 'msgpack'
  return undefined
}

/**
 * The response media type for an Accept header: the highest-q supported type,
 * the request's own type when Accept is absent or a wildcard, undefined when
 * nothing offered is acceptable.
 */
export function responseMediaType (accept: string, fallback: MediaType): MediaType | undefined {
  if (accept === '') return fallback
  let best: MediaType | undefined
  let bestQ = 0
  for (const part of accept.split(',')) {
    const [rawType, ...params] = part.split(';')
    const type = rawType!.trim().toLowerCase()
    let q = 1
    for (const p of params) {
      const [k, v] = p.split('=')
      if (k?.trim() === 'q') q = Number(v)
    }
    if (!(q > 0)) continue
    let candidate: MediaType | undefined
    if (type === 'application/json') candidate = 'json'
    else if (MSGPACK_ALIASES.has(type)) candidate = 'msgpack'
    else if (type === '*/*' || type === 'application/*') candidate = fallback
    if (candidate !== undefined && q > bestQ) { best = candidate; bestQ = q }
  }
  return best
}

const utf8 = new TextDecoder('utf-8', { fatal: true })
const unpackr = new Unpackr({ mapsAsObjects: true, useRecords: false, moreTypes: false, structuredClone: false })
export const packr = new Packr({ useRecords: false, moreTypes: false })

/** Keys of the objects the last walk visited (one walk at a time per thread; reset by decodeBody). */
let keysSeen = 0

/** Decodes a request body; throws ServiceError(400) for anything malformed or not plain data, or with a duplicate key. */
export function decodeBody (body: Uint8Array, type: MediaType, allowBytes = false): unknown {
  let value: unknown
  let text = ''
  try {
    if (type === 'json') {
      text = utf8.decode(body)
      value = JSON.parse(text)
    } else {
      value = unpackr.unpack(body)
    }
  } catch (err) {
    throw new ServiceError('IDV_ERR_MALFORMED_BODY', type === 'json' ? 'body is not valid UTF-8 JSON' : 'body is not valid MessagePack')
  }
  keysSeen = 0
  const problem = plainValueProblem(value, allowBytes, 0, type === 'msgpack')
  if (problem !== undefined) throw new ServiceError('IDV_ERR_MALFORMED_BODY', problem)
  if (type === 'json') {
    if (keysSeen !== jsonMemberCount(text)) throw new ServiceError('IDV_ERR_DUPLICATE_KEY', jsonDuplicate(text))
    return value
  }
  const members = msgpackMemberCount(body)
  if (members === SCAN_UNSUPPORTED) throw new ServiceError('IDV_ERR_MALFORMED_BODY', 'MessagePack extension types are not accepted here (msgpackr records excepted)')
  if (members < 0) throw new ServiceError('IDV_ERR_MALFORMED_BODY', 'body is not valid MessagePack')
  if (keysSeen !== members) throw new ServiceError('IDV_ERR_DUPLICATE_KEY', msgpackDuplicate(body))
  const proto = protoKeysSent()
  if (proto === 2) throw new ServiceError('IDV_ERR_MALFORMED_BODY', 'MessagePack keys __proto__ and __proto_ in one body are not accepted')
  if (proto === 1) restoreProtoKeys(value)
  return value
}

/**
 * Object members in JSON text that JSON.parse accepted: the colons outside
 * strings. Strings are skipped with indexOf, so the cost is mostly native.
 */
function jsonMemberCount (s: string): number {
  let n = 0
  const len = s.length
  for (let i = 0; i < len; i++) {
    const c = s.charCodeAt(i)
    if (c === 0x22) i = jsonStringEnd(s, i)
    else if (c === 0x3a) n++
  }
  return n
}

/** The index of the quote that closes the string opening at `start` (the text is valid JSON). */
function jsonStringEnd (s: string, start: number): number {
  let q = start
  for (;;) {
    q = s.indexOf('"', q + 1)
    let b = q - 1
    while (s.charCodeAt(b) === 0x5c) b--
    if (((q - 1 - b) & 1) === 0) return q
  }
}

/** Where a duplicate sits, for the detail: `items[2].attributes`, or the body itself. */
function jsonPath (frames: ReadonlyArray<{ keys: Set<string> | undefined, key: string, index: number }>): string {
  let path = ''
  for (let f = 0; f < frames.length - 1; f++) {
    const frame = frames[f]!
    path += frame.keys === undefined ? `[${frame.index}]` : `${path === '' ? '' : '.'}${clip(frame.key, 40)}`
  }
  return path === '' ? 'the body' : path
}

/** The detail naming the first duplicate key of valid JSON text (the slow path: only for bodies being refused). */
function jsonDuplicate (s: string): string {
  const frames: Array<{ keys: Set<string> | undefined, key: string, index: number }> = []
  let expectKey = false
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c === 0x22) {
      const end = jsonStringEnd(s, i)
      const top = frames[frames.length - 1]
      if (expectKey && top?.keys !== undefined) {
        const key = JSON.parse(s.slice(i, end + 1)) as string
        if (top.keys.has(key)) return `duplicate key ${JSON.stringify(clip(key))} in ${jsonPath(frames)}`
        top.keys.add(key)
        top.key = key
        expectKey = false
      }
      i = end
    } else if (c === 0x7b) {
      frames.push({ keys: new Set(), key: '', index: 0 })
      expectKey = true
    } else if (c === 0x5b) {
      frames.push({ keys: undefined, key: '', index: 0 })
    } else if (c === 0x7d || c === 0x5d) {
      frames.pop()
    } else if (c === 0x2c) {
      const top = frames[frames.length - 1]
      if (top?.keys !== undefined) expectKey = true
      else if (top !== undefined) top.index++
    }
  }
  return 'an object holds the same key twice'
}

/**
 * msgpackr renames a map key `__proto__` to `__proto_` (so that it cannot set a
 * prototype). The scan saw one on the wire and no genuine `__proto_`, so every
 * `__proto_` key here was sent as `__proto__`: give it back its name, as an own
 * property (as JSON.parse makes it), so details echo the key as sent.
 */
function restoreProtoKeys (v: unknown): void {
  if (typeof v !== 'object' || v === null || v instanceof Uint8Array) return
  if (Array.isArray(v)) { for (const item of v) restoreProtoKeys(item); return }
  const o = v as Record<string, unknown>
  if (Object.prototype.hasOwnProperty.call(o, '__proto_')) {
    const value = o.__proto_
    delete o.__proto_
    Object.defineProperty(o, '__proto__', { value, enumerable: true, writable: true, configurable: true })
  }
  for (const key in o) restoreProtoKeys(o[key])
}

/**
 * Why `v` is not plain data, or undefined. `msgpack`: msgpackr turns invalid
 * UTF-8 into U+FFFD instead of failing, so a replacement character there is
 * refused, as the strict JSON decoder refuses the invalid bytes themselves.
 */
function plainValueProblem (v: unknown, allowBytes: boolean, depth: number, msgpack: boolean): string | undefined {
  if (v === null) return undefined
  switch (typeof v) {
    case 'string':
      return msgpack && v.includes('\uFFFD') ? 'strings must be valid UTF-8' : undefined
    case 'boolean':
      return undefined
    case 'number':
      return Number.isFinite(v) ? undefined : 'numbers must be finite'
    case 'object':
      break
    default:
      return `${typeof v} values are not allowed`
  }
  if (depth >= MAX_DEPTH) return `nesting deeper than ${MAX_DEPTH} levels`
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const p = plainValueProblem(v[i], allowBytes, depth + 1, msgpack)
      if (p !== undefined) return p
    }
    return undefined
  }
  if (v instanceof Uint8Array && Object.getPrototypeOf(v) !== null) {
    return allowBytes && (v.constructor === Uint8Array || Buffer.isBuffer(v)) ? undefined : 'binary values are not allowed here'
  }
  const proto = Object.getPrototypeOf(v) as unknown
  if (proto !== Object.prototype && proto !== null) return 'only plain maps, arrays, strings, numbers, booleans and nil are allowed'
  for (const key in v as Record<string, unknown>) {
    keysSeen++
    const p = plainValueProblem((v as Record<string, unknown>)[key], allowBytes, depth + 1, msgpack)
    if (p !== undefined) return p
  }
  return undefined
}
