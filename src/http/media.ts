/**
 * Content negotiation and body decoding for JSON and MessagePack.
 *
 * MessagePack is decoded with msgpackr, which can build RegExp, Set, Error,
 * typed arrays, Dates and shared references from hostile input. Every decoded
 * value is therefore walked and anything but plain data (null, boolean, finite
 * number, string, array, plain object; bytes only where a route allows them) is
 * refused, as is nesting deeper than MAX_DEPTH.
 */
import { Packr, Unpackr } from 'msgpackr'
import { ServiceError } from '../errors.js'

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

/** Decodes a request body; throws ServiceError(400) for anything malformed or not plain data. */
export function decodeBody (body: Uint8Array, type: MediaType, allowBytes = false): unknown {
  let value: unknown
  try {
    value = type === 'json' ? JSON.parse(utf8.decode(body)) : unpackr.unpack(body)
  } catch (err) {
    throw new ServiceError('IDV_ERR_MALFORMED_BODY', type === 'json' ? 'body is not valid UTF-8 JSON' : 'body is not valid MessagePack')
  }
  const problem = plainValueProblem(value, allowBytes, 0, type === 'msgpack')
  if (problem !== undefined) throw new ServiceError('IDV_ERR_MALFORMED_BODY', problem)
  return value
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
    const p = plainValueProblem((v as Record<string, unknown>)[key], allowBytes, depth + 1, msgpack)
    if (p !== undefined) return p
  }
  return undefined
}
