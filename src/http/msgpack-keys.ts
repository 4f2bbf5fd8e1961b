/**
 * A structural scan of MessagePack that msgpackr has already decoded into
 * plain data, to count map members as sent: msgpackr (like JSON.parse) keeps
 * the last of two equal keys, so a body with a duplicate decodes to an object
 * with fewer keys than the wire has members. media.ts compares the two counts.
 *
 * It reads headers only (string and binary payloads are skipped by length),
 * with a fixed stack in module-level typed arrays, so it allocates nothing for
 * the usual body. It follows msgpackr's grammar for what can decode to plain
 * data, records included (msgpackr's `r` extension: a key list defined once,
 * then instances that carry only values; a record with a repeated key is a
 * duplicate like any other) and typed arrays (`t`, skipped: the walk lets only
 * a Uint8Array through, where bytes are allowed). Any other extension type is refused
 * (SCAN_UNSUPPORTED): those that decode to plain data, bundled strings (`b`),
 * change how the rest of the bytes read, and no client of this API needs them.
 *
 * The scan runs only on bodies msgpackr accepted and the plain-value walk
 * passed; it still checks every bound and answers SCAN_INVALID (refused)
 * rather than guess if it meets anything it does not expect.
 */

export const SCAN_INVALID = -1
export const SCAN_UNSUPPORTED = -2

/** msgpackr's typed-array extension: only a Uint8Array from it passes the plain-value walk, and only where bytes are allowed. */
const TYPED_ARRAY = 0x74

const TOP = 0
const MAP = 1
const ARRAY = 2
const RECORD = 3
/** The walk allows 32 levels; a record instance or map adds one, keys add none. */
const MAX_STACK = 64

const kinds = new Uint8Array(MAX_STACK)
/** Items (map: keys and values) left to read in each open container. */
const lefts = new Float64Array(MAX_STACK)
const totals = new Float64Array(MAX_STACK)

/** A record definition: its key list (as msgpackr turns keys into property names) and the high byte of a two-byte id. */
interface RecordShape { readonly keys: readonly string[], readonly highByte: number | undefined }

/**
 * What the last scan saw of `__proto__`, which msgpackr renames `__proto_`:
 * 0 no `__proto__` key, 1 `__proto__` keys and no genuine `__proto_` one (so
 * every decoded `__proto_` key was sent as `__proto__`), 2 both spellings.
 */
export function protoKeysSent (): 0 | 1 | 2 {
  return !protoSent ? 0 : protoUnderscoreSent ? 2 : 1
}

const utf8 = new TextDecoder('utf-8')

/** For the slow path only: the key sets of open maps and where each container sits. */
interface Detail {
  readonly sets: Array<Set<string> | undefined>
  readonly keys: string[]
  readonly recordKeys: Array<readonly string[] | undefined>
  found: string | undefined
}

/**
 * The number of map members (and record fields) in `b` as sent, or
 * SCAN_INVALID / SCAN_UNSUPPORTED. Also sets protoKeysSent().
 */
export function msgpackMemberCount (b: Uint8Array): number {
  return scan(b, undefined)
}

/** The detail naming the first duplicate key (the slow path: only for bodies being refused). */
export function msgpackDuplicate (b: Uint8Array): string {
  const detail: Detail = { sets: [], keys: [], recordKeys: [], found: undefined }
  scan(b, detail)
  return detail.found ?? 'a map holds the same key twice'
}

function u16 (b: Uint8Array, p: number): number {
  return (b[p]! << 8) | b[p + 1]!
}

function u32 (b: Uint8Array, p: number): number {
  return ((b[p]! << 24) >>> 0) + ((b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!)
}

/** The length of the string whose token `t` is at b[p - 1], or -1 for any other token; sets strStart to where its bytes begin. */
let strStart = 0

function stringLength (b: Uint8Array, t: number, p: number): number {
  if (t >= 0xa0 && t < 0xc0) { strStart = p; return t - 0xa0 }
  if (t === 0xd9) { strStart = p + 1; return b[p]! }
  if (t === 0xda) { strStart = p + 2; return u16(b, p) }
  if (t === 0xdb) { strStart = p + 4; return u32(b, p) }
  return -1
}

const PROTO = [0x5f, 0x5f, 0x70, 0x72, 0x6f, 0x74, 0x6f, 0x5f, 0x5f] // __proto__

function isProto (b: Uint8Array, start: number, length: number): boolean {
  if (length !== 8 && length !== 9) return false
  for (let i = 0; i < length; i++) if (b[start + i] !== PROTO[i]) return false
  return true
}

/** The scalar key at `p` as msgpackr names the property (asSafeString, then `__proto__` → `__proto_`); sets keyEnd after it. Slow path only. */
let keyEnd = 0

function scalarKey (b: Uint8Array, p: number): string | undefined {
  const t = b[p]!
  const n = stringLength(b, t, p + 1)
  if (n >= 0) {
    keyEnd = strStart + n
    if (keyEnd > b.length) return undefined
    const s = utf8.decode(b.subarray(strStart, keyEnd))
    return s === '__proto__' ? '__proto_' : s
  }
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength)
  keyEnd = p + 1
  if (t < 0x80) return String(t)
  if (t >= 0xe0) return String(t - 0x100)
  const sizes: Record<number, number> = { 0xc0: 0, 0xc2: 0, 0xc3: 0, 0xca: 4, 0xcb: 8, 0xcc: 1, 0xcd: 2, 0xce: 4, 0xcf: 8, 0xd0: 1, 0xd1: 2, 0xd2: 4, 0xd3: 8 }
  const size = sizes[t]
  if (size === undefined || p + 1 + size > b.length) return undefined
  keyEnd = p + 1 + size
  switch (t) {
    case 0xc0: return 'null'
    case 0xc2: return 'false'
    case 0xc3: return 'true'
    case 0xca: return String(view.getFloat32(p + 1))
    case 0xcb: return String(view.getFloat64(p + 1))
    case 0xcc: return String(view.getUint8(p + 1))
    case 0xcd: return String(view.getUint16(p + 1))
    case 0xce: return String(view.getUint32(p + 1))
    case 0xcf: return String(view.getBigUint64(p + 1))
    case 0xd0: return String(view.getInt8(p + 1))
    case 0xd1: return String(view.getInt16(p + 1))
    case 0xd2: return String(view.getInt32(p + 1))
    default: return String(view.getBigInt64(p + 1))
  }
}

/** Reads a record definition's key list at `p` (an array of scalars); sets keyEnd after it. */
function recordKeys (b: Uint8Array, p: number): string[] | undefined {
  const t = b[p]
  let n: number
  let q: number
  if (t === undefined) return undefined
  if (t >= 0x90 && t < 0xa0) { n = t - 0x90; q = p + 1 } else if (t === 0xdc) { n = u16(b, p + 1); q = p + 3 } else if (t === 0xdd) { n = u32(b, p + 1); q = p + 5 } else return undefined
  if (q > b.length || n > b.length) return undefined
  const keys: string[] = []
  for (let i = 0; i < n; i++) {
    if (q >= b.length) return undefined
    const key = scalarKey(b, q)
    if (key === undefined) return undefined
    const sent = b[q]!
    const len = stringLength(b, sent, q + 1)
    if (len >= 0 && isProto(b, strStart, len)) noteProto(len)
    keys.push(key)
    q = keyEnd
  }
  keyEnd = q
  return keys
}

let protoSent = false
let protoUnderscoreSent = false

function noteProto (length: number): void {
  if (length === 9) protoSent = true
  else protoUnderscoreSent = true
}

/** Where the container on stack level `level` sits, for a detail: `items[2].attributes`, or the body itself. */
function pathTo (level: number, detail: Detail): string {
  let path = ''
  for (let f = 1; f < level; f++) {
    const at = totals[f]! - lefts[f]! - 1
    if (kinds[f] === MAP) path += `${path === '' ? '' : '.'}${clipKey(detail.keys[f] ?? '')}`
    else if (kinds[f] === RECORD) path += `${path === '' ? '' : '.'}${clipKey(detail.recordKeys[f]?.[at] ?? '')}`
    else path += `[${at}]`
  }
  return path === '' ? 'the body' : path
}

function clipKey (key: string): string {
  return key.length > 40 ? `${key.slice(0, 40)}…` : key
}

function scan (b: Uint8Array, detail: Detail | undefined): number {
  const end = b.length
  let pos = 0
  let members = 0
  let depth = 1
  let shapes: Map<number, RecordShape> | undefined
  protoSent = false
  protoUnderscoreSent = false
  kinds[0] = TOP
  lefts[0] = 1
  totals[0] = 1
  while (depth > 0) {
    const d = depth - 1
    if (lefts[d] === 0) { depth--; continue }
    const isKey = kinds[d] === MAP && lefts[d]! % 2 === 0
    lefts[d]!--
    if (pos >= end) return SCAN_INVALID
    const tokenAt = pos
    const t = b[pos++]!
    let container = 0
    let count = 0
    let shape: RecordShape | undefined
    if (t < 0x40 || t >= 0xe0) {
      // positive or negative fixint
    } else if (t < 0x80) {
      // a fixint, or an instance of a record defined earlier in this body
      shape = shapes?.get(t & 0x3f)
      if (shape !== undefined && shape.highByte === 0) {
        if (pos >= end) return SCAN_INVALID
        const high = b[pos++]!
        if (high !== 0) {
          const first = t & 0x3f
          shape = shapes!.get(first < 32 ? -(first + (high << 5)) : first + (high << 5))
          if (shape === undefined) return SCAN_INVALID
        }
      }
      if (shape !== undefined) { container = RECORD; count = shape.keys.length }
    } else if (t < 0x90) {
      container = MAP; count = t - 0x80
    } else if (t < 0xa0) {
      container = ARRAY; count = t - 0x90
    } else if (t < 0xc0) {
      pos += t - 0xa0
    } else {
      switch (t) {
        case 0xc0: case 0xc2: case 0xc3: break
        case 0xc4: if (pos + 1 > end) return SCAN_INVALID; pos += 1 + b[pos]!; break
        case 0xc5: if (pos + 2 > end) return SCAN_INVALID; pos += 2 + u16(b, pos); break
        case 0xc6: if (pos + 4 > end) return SCAN_INVALID; pos += 4 + u32(b, pos); break
        case 0xca: case 0xce: case 0xd2: pos += 4; break
        case 0xcb: case 0xcf: case 0xd3: pos += 8; break
        case 0xcc: case 0xd0: pos += 1; break
        case 0xcd: case 0xd1: pos += 2; break
        case 0xd4: case 0xd5: {
          // msgpackr's record definition: fixext 1 `r` id, or fixext 2 `r` id high-byte; then the key list, then one instance's values.
          if (pos + 2 > end) return SCAN_INVALID
          if (b[pos] === TYPED_ARRAY) { pos += 1 + (t === 0xd4 ? 1 : 2); break }
          if (b[pos] !== 0x72) return SCAN_UNSUPPORTED
          let id = b[pos + 1]! & 0x3f
          let high: number | undefined
          pos += 2
          if (t === 0xd5) {
            if (pos >= end) return SCAN_INVALID
            high = b[pos++]!
            id = id < 32 ? -((high << 5) + id) : ((high << 5) + id)
          }
          if (isKey) return SCAN_INVALID
          const keys = recordKeys(b, pos)
          if (keys === undefined) return SCAN_INVALID
          pos = keyEnd
          if (detail !== undefined && detail.found === undefined) {
            const seen = new Set<string>()
            for (const k of keys) {
              if (seen.has(k)) { detail.found = `duplicate key ${JSON.stringify(clipKey(k))} in a MessagePack record definition in ${pathTo(depth, detail)}`; break }
              seen.add(k)
            }
          }
          shape = { keys, highByte: high }
          shapes ??= new Map()
          shapes.set(id, shape)
          container = RECORD
          count = keys.length
          break
        }
        case 0xd9: if (pos + 1 > end) return SCAN_INVALID; pos += 1 + b[pos]!; break
        case 0xda: if (pos + 2 > end) return SCAN_INVALID; pos += 2 + u16(b, pos); break
        case 0xdb: if (pos + 4 > end) return SCAN_INVALID; pos += 4 + u32(b, pos); break
        case 0xdc: if (pos + 2 > end) return SCAN_INVALID; container = ARRAY; count = u16(b, pos); pos += 2; break
        case 0xdd: if (pos + 4 > end) return SCAN_INVALID; container = ARRAY; count = u32(b, pos); pos += 4; break
        case 0xde: if (pos + 2 > end) return SCAN_INVALID; container = MAP; count = u16(b, pos); pos += 2; break
        case 0xdf: if (pos + 4 > end) return SCAN_INVALID; container = MAP; count = u32(b, pos); pos += 4; break
        case 0xd6: case 0xd7: case 0xd8: {
          if (pos >= end || b[pos] !== TYPED_ARRAY) return SCAN_UNSUPPORTED
          pos += 1 + (t === 0xd6 ? 4 : t === 0xd7 ? 8 : 16)
          break
        }
        case 0xc7: case 0xc8: case 0xc9: {
          const lengthBytes = t === 0xc7 ? 1 : t === 0xc8 ? 2 : 4
          if (pos + lengthBytes + 1 > end) return SCAN_INVALID
          const length = t === 0xc7 ? b[pos]! : t === 0xc8 ? u16(b, pos) : u32(b, pos)
          if (b[pos + lengthBytes] !== TYPED_ARRAY) return SCAN_UNSUPPORTED
          pos += lengthBytes + 1 + length
          break
        }
        default: return SCAN_INVALID // 0xc1, never used
      }
    }
    if (isKey) {
      if (container !== 0) return SCAN_INVALID // msgpackr refuses non-scalar keys
      const n = stringLength(b, t, tokenAt + 1)
      if (n >= 0 && isProto(b, strStart, n)) noteProto(n)
      if (detail !== undefined && detail.found === undefined) {
        const key = scalarKey(b, tokenAt)
        const set = detail.sets[d]
        if (key !== undefined && set !== undefined) {
          const sent = sentKey(b, tokenAt, key)
          if (set.has(key)) detail.found = `duplicate key ${JSON.stringify(clipKey(sent))} in ${pathTo(d, detail)}`
          set.add(key)
          detail.keys[d] = sent
        }
      }
    }
    if (pos > end) return SCAN_INVALID
    if (container !== 0) {
      if (depth >= MAX_STACK) return SCAN_INVALID
      kinds[depth] = container
      const items = container === MAP ? count * 2 : count
      if (items > end - pos) return SCAN_INVALID // more items than bytes left
      lefts[depth] = items
      totals[depth] = items
      if (container !== ARRAY) members += count
      if (detail !== undefined) {
        detail.sets[depth] = container === MAP ? new Set() : undefined
        detail.recordKeys[depth] = shape?.keys
      }
      depth++
    }
  }
  return pos === end ? members : SCAN_INVALID
}

/** A key as sent, for details: `__proto__` stays `__proto__` (msgpackr's renaming is undone). */
function sentKey (b: Uint8Array, at: number, key: string): string {
  if (key !== '__proto_') return key
  const n = stringLength(b, b[at]!, at + 1)
  return n === 9 ? '__proto__' : key
}

