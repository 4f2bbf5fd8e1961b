/**
 * Duplicate keys in a body (issue 18): `{"pin": A, "pin": B}` decodes to the
 * last value in JSON.parse and msgpackr, to the first in other parsers, so a
 * client, a proxy or a log could read a different question from the one
 * answered. decodeBody refuses them with IDV_ERR_DUPLICATE_KEY naming the key,
 * in JSON and MessagePack (maps, msgpackr records, keys that only collide once
 * msgpackr turns them into property names), and never refuses a body without
 * one (checked on thousands of generated bodies in every encoding).
 */
import fc from 'fast-check'
import { Packr } from 'msgpackr'
import { describe, expect, it } from 'vitest'
import { ServiceError } from '../../src/errors.js'
import { decodeBody, type MediaType } from '../../src/http/media.js'

const enc = new TextEncoder()
const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex')
const str = (s: string): Buffer => { const b = Buffer.from(s, 'utf8'); return Buffer.concat([b.length < 32 ? Buffer.from([0xa0 + b.length]) : Buffer.from([0xd9, b.length]), b]) }

function refusal (body: Uint8Array, type: MediaType, allowBytes = false): ServiceError {
  try {
    decodeBody(body, type, allowBytes)
  } catch (err) {
    expect(err).toBeInstanceOf(ServiceError)
    return err as ServiceError
  }
  throw new Error(`decoded: ${Buffer.from(body).toString(type === 'json' ? 'utf8' : 'hex').slice(0, 120)}`)
}

function expectDuplicate (body: Uint8Array, type: MediaType, detail: string | RegExp): void {
  const e = refusal(body, type)
  expect(e.code).toBe('IDV_ERR_DUPLICATE_KEY')
  expect(e.status).toBe(400)
  if (typeof detail === 'string') expect(e.detail).toBe(detail)
  else expect(e.detail).toMatch(detail)
}

describe('JSON', () => {
  it.each([
    ['at the top level', '{"pin":"001099012345","pin":"001099054321","attributes":{"gender":"male"}}', 'duplicate key "pin" in the body'],
    ['in attributes', '{"pin":"001099012345","attributes":{"fullName":"An","fullName":"Bình"}}', 'duplicate key "fullName" in attributes'],
    ['in a batch item', '{"items":[{"pin":"1","attributes":{}},{"pin":"2","attributes":{"gender":"male","x":[1,{"a":":"}],"gender":"female"}}]}', 'duplicate key "gender" in items[1].attributes'],
    ['spelt with an escape', '{"pin":"1","p\\u0069n":"2"}', 'duplicate key "pin" in the body'],
    ['__proto__ twice', '{"__proto__":{},"__proto__":{}}', 'duplicate key "__proto__" in the body'],
    ['after strings full of colons, quotes and backslashes', '{"a:\\"":"\\\\\\":","b":"\\\\","a:\\"":1}', 'duplicate key "a:\\"" in the body'],
    ['with whitespace everywhere', ' { "pin" : 1 ,\n\t"pin" : 2 } ', 'duplicate key "pin" in the body']
  ])('%s', (_name, body, detail) => {
    expectDuplicate(enc.encode(body), 'json', detail)
  })

  it('echoes a long key clipped', () => {
    const key = 'k'.repeat(5000)
    const e = refusal(enc.encode(`{"${key}":1,"${key}":2}`), 'json')
    expect(e.detail!.length).toBeLessThan(130)
    expect(e.detail).toContain('…')
  })

  it('accepts keys that only look alike', () => {
    expect(decodeBody(enc.encode('{"a":1,"A":2,"a ":3,"\\u00e9":4,"e\\u0301":5,"1":6,"01":7}'), 'json')).toEqual({ a: 1, A: 2, 'a ': 3, '\u00e9': 4, 'e\u0301': 5, 1: 6, '01': 7 })
  })
})

describe('MessagePack', () => {
  it('a map with a repeated key', () => {
    expectDuplicate(Buffer.concat([hex('82'), str('pin'), str('001099012345'), str('pin'), str('001099054321')]), 'msgpack', 'duplicate key "pin" in the body')
  })

  it('nested, with map 16 and str 8 headers', () => {
    const attrs = Buffer.concat([hex('de 0002'), hex('d9 06'), Buffer.from('gender'), str('male'), str('gender'), str('female')])
    const body = Buffer.concat([hex('81'), str('items'), hex('92 80 82'), str('pin'), str('1'), str('attributes'), attrs])
    expectDuplicate(body, 'msgpack', 'duplicate key "gender" in items[1].attributes')
  })

  it('keys that collide only as property names (1 and "1")', () => {
    expectDuplicate(hex('82 01 a1 61 a1 31 a1 62'), 'msgpack', /^duplicate key "1"/)
  })

  it('a msgpackr record whose key list repeats a key', () => {
    // fixext 1 'r' id 0, keys [pin, pin], then the instance's values
    const body = Buffer.concat([hex('81'), str('items'), hex('91 d4 72 00 92'), str('pin'), str('pin'), str('a'), str('b')])
    expectDuplicate(body, 'msgpack', 'duplicate key "pin" in a MessagePack record definition in items[0]')
  })

  it('reports __proto__ as sent, not as msgpackr renames it', () => {
    const body = Buffer.concat([hex('82'), str('pin'), str('001099012345'), str('attributes'), hex('81'), str('__proto__'), str('x')])
    const v = decodeBody(body, 'msgpack') as { attributes: Record<string, unknown> }
    expect(Object.keys(v.attributes)).toEqual(['__proto__'])
    expect(Object.getPrototypeOf(v.attributes)).toBe(Object.prototype)
    expect(({} as Record<string, unknown>).x).toBeUndefined()
    expectDuplicate(Buffer.concat([hex('82'), str('__proto__'), hex('01'), str('__proto__'), hex('02')]), 'msgpack', 'duplicate key "__proto__" in the body')
  })

  it('refuses extension types it cannot see through (bundled strings)', () => {
    const e = refusal(new Packr({ bundleStrings: true, useRecords: false }).pack({ pin: '001099012345', attributes: { fullName: 'Nguyễn Văn An' } }), 'msgpack')
    expect(e.code).toBe('IDV_ERR_MALFORMED_BODY')
  })
})

const KEY_PARTS = ['pin', 'attributes', 'fullName', 'a', 'é', ':', '"', '\\', ' ', '1', '0', '10', '__proto_', 'items', 'x'.repeat(40)]
/** 1 to 3 parts: some keys integer-like, some odd. */
const KEY = fc.array(fc.constantFrom(...KEY_PARTS), { minLength: 1, maxLength: 3 }).map((parts) => parts.join(''))

/**
 * A plain value whose objects have distinct keys (fc.dictionary), nested at
 * most 5 deep; integers are nonzero (-0 would not survive JSON).
 */
const VALUE: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { maxDepth: 5, depthSize: 'small' },
    fc.oneof(
      fc.tuple(fc.oneof(fc.integer({ min: 1, max: 2 ** 7 }), fc.integer({ min: 1, max: 2 ** 40 })), fc.boolean()).map(([n, negative]) => negative ? -n : n),
      fc.double({ min: 0, max: 1000, noNaN: true }),
      fc.boolean(),
      fc.constant(null),
      fc.tuple(KEY, fc.integer({ min: 1, max: 3 })).map(([k, n]) => k.repeat(n))
    ),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(KEY, tie('value'), { maxKeys: 6, noNullPrototype: true })
  )
})).value

/** Whether a value holds an object of two keys or more: where a duplicate could hide. */
function hasWideObject (v: unknown): boolean {
  if (Array.isArray(v)) return v.some(hasWideObject)
  if (v === null || typeof v !== 'object') return false
  return Object.keys(v).length >= 2 || Object.values(v).some(hasWideObject)
}

describe('no body without a duplicate is refused', () => {
  const encoders: Array<[string, (v: unknown) => Uint8Array, MediaType]> = [
    ['JSON', (v) => enc.encode(JSON.stringify(v)), 'json'],
    ['JSON, indented', (v) => enc.encode(JSON.stringify(v, null, 2)), 'json'],
    ['MessagePack maps', (v) => new Packr({ useRecords: false }).pack(v), 'msgpack'],
    ['MessagePack records', (v) => new Packr({ useRecords: true }).pack(v), 'msgpack'],
    ['MessagePack records with two-byte ids', (v) => new Packr({ useRecords: true, maxOwnStructures: 2000 }).pack(v), 'msgpack'],
    ['MessagePack variable map sizes', (v) => new Packr({ useRecords: false, variableMapSize: true }).pack(v), 'msgpack']
  ]
  it.each(encoders)('%s', (_name, encode, type) => {
    let runs = 0
    let wide = 0
    fc.assert(fc.property(VALUE, (v) => {
      runs++
      if (hasWideObject(v)) wide++
      expect(decodeBody(encode(v), type)).toEqual(v)
    }), { numRuns: 1500 })
    // Every one accepted (a refusal throws above); enough of them with objects of several keys to matter.
    expect(runs).toBe(1500)
    expect(wide, `${wide} of ${runs} bodies hold an object of two keys or more`).toBeGreaterThanOrEqual(400)
    // many objects with many shapes: records beyond one-byte ids
    const shapes = Array.from({ length: 300 }, (_, i) => ({ [`k${i}`]: i, [`j${i % 7}`]: [{ [`n${i % 13}`]: i }] }))
    expect(decodeBody(encode(shapes), type)).toEqual(shapes)
  })

  it('and a duplicate spliced into any map of those bodies is found', () => {
    let runs = 0
    let found = 0
    fc.assert(fc.property(VALUE, (v) => {
      runs++
      const text = JSON.stringify(v)
      // duplicate the first member of the first non-empty object
      const m = /\{("(?:[^"\\]|\\.)*"):/.exec(text)
      if (m === null) return
      const dup = `${text.slice(0, m.index + 1)}${m[1]}:0,${text.slice(m.index + 1)}`
      expectDuplicate(enc.encode(dup), 'json', /^duplicate key /)
      found++
    }), { numRuns: 500 })
    // Every body with an object is refused once a duplicate is spliced in; the others have nowhere to put one.
    expect(runs).toBe(500)
    expect(found, `${found} of ${runs} bodies had an object to splice a duplicate into`).toBeGreaterThanOrEqual(150)
  })
})
