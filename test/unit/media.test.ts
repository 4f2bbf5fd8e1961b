/**
 * Content negotiation and body decoding. Hostile MessagePack (msgpackr can
 * build Dates, RegExps, Sets, Errors, typed arrays, shared references...) must
 * always end as ServiceError IDV_ERR_MALFORMED_BODY, never as another exception
 * and never as a non-plain value handed to a route.
 */
import { Packr } from 'msgpackr'
import { describe, expect, it } from 'vitest'
import { ServiceError } from '../../src/errors.js'
import { decodeBody, packr, requestMediaType, responseMediaType, type MediaType } from '../../src/http/media.js'

const enc = new TextEncoder()
/** An encoder willing to write every msgpackr extension. */
const hostile = new Packr({ moreTypes: true, structuredClone: true, useRecords: false })

function expectMalformed (body: Uint8Array, type: MediaType, allowBytes = false): ServiceError {
  let thrown: unknown
  let value: unknown
  try {
    value = decodeBody(body, type, allowBytes)
  } catch (err) {
    thrown = err
  }
  expect(thrown, `decoded instead of refusing: ${Buffer.from(body).toString('hex').slice(0, 80)} → ${String(value)}`).toBeInstanceOf(ServiceError)
  const e = thrown as ServiceError
  expect(e.code).toBe('IDV_ERR_MALFORMED_BODY')
  expect(e.status).toBe(400)
  return e
}

const hex = (s: string): Uint8Array => Buffer.from(s.replace(/\s+/g, ''), 'hex')

describe('requestMediaType', () => {
  it('JSON, with or without parameters, any case', () => {
    expect(requestMediaType('application/json')).toBe('json')
    expect(requestMediaType('application/json; charset=utf-8')).toBe('json')
    expect(requestMediaType('application/json;charset=UTF-8')).toBe('json')
    expect(requestMediaType('APPLICATION/JSON')).toBe('json')
    expect(requestMediaType('  Application/Json  ; charset=utf-8')).toBe('json')
  })

  it('the three MessagePack aliases, any case', () => {
    for (const t of ['application/vnd.msgpack', 'application/msgpack', 'application/x-msgpack', 'APPLICATION/X-MSGPACK', 'Application/MsgPack; foo=bar']) {
      expect(requestMediaType(t), t).toBe('msgpack')
    }
  })

  it('anything else is unsupported', () => {
    for (const t of ['', 'text/plain', 'text/json', 'application/jsonx', 'application/json-patch+json', 'application/x-www-form-urlencoded',
      'multipart/form-data', 'application/vnd.msgpack2', '*/*', 'application/*', 'json', 'msgpack']) {
      expect(requestMediaType(t), t).toBeUndefined()
    }
  })
})

describe('responseMediaType', () => {
  it('absent Accept → the request\'s own type', () => {
    expect(responseMediaType('', 'json')).toBe('json')
    expect(responseMediaType('', 'msgpack')).toBe('msgpack')
  })

  it('wildcards → the fallback', () => {
    expect(responseMediaType('*/*', 'json')).toBe('json')
    expect(responseMediaType('*/*', 'msgpack')).toBe('msgpack')
    expect(responseMediaType('application/*', 'msgpack')).toBe('msgpack')
    expect(responseMediaType('text/html, */*;q=0.1', 'json')).toBe('json')
  })

  it('explicit types, any alias and case', () => {
    expect(responseMediaType('application/json', 'msgpack')).toBe('json')
    expect(responseMediaType('application/x-msgpack', 'json')).toBe('msgpack')
    expect(responseMediaType('APPLICATION/VND.MSGPACK', 'json')).toBe('msgpack')
  })

  it('q-values: the highest wins', () => {
    expect(responseMediaType('application/json;q=0.5, application/vnd.msgpack;q=0.9', 'json')).toBe('msgpack')
    expect(responseMediaType('application/json; q=0.5, application/msgpack', 'json')).toBe('msgpack')
    expect(responseMediaType('application/vnd.msgpack;q=0.2, application/json;q=0.8', 'msgpack')).toBe('json')
    expect(responseMediaType('*/*;q=0.1, application/vnd.msgpack', 'json')).toBe('msgpack')
    expect(responseMediaType('application/vnd.msgpack;q=0.1, */*;q=0.5', 'json')).toBe('json')
  })

  it('ties go to the first listed', () => {
    expect(responseMediaType('application/json, application/vnd.msgpack', 'msgpack')).toBe('json')
    expect(responseMediaType('application/vnd.msgpack, application/json', 'json')).toBe('msgpack')
  })

  it('q=0 excludes a type', () => {
    expect(responseMediaType('application/vnd.msgpack;q=0, application/json', 'msgpack')).toBe('json')
    expect(responseMediaType('application/vnd.msgpack;q=0', 'msgpack')).toBeUndefined()
    expect(responseMediaType('application/json;q=0.0, text/html', 'json')).toBeUndefined()
    expect(responseMediaType('*/*;q=0', 'json')).toBeUndefined()
  })

  it('an unparseable q excludes the type rather than ranking it', () => {
    expect(responseMediaType('application/json;q=abc', 'json')).toBeUndefined()
    expect(responseMediaType('application/json;q=abc, application/vnd.msgpack;q=0.1', 'json')).toBe('msgpack')
  })

  it('only unsupported types → undefined (406)', () => {
    expect(responseMediaType('text/html', 'json')).toBeUndefined()
    expect(responseMediaType('text/html, application/xhtml+xml, image/png', 'msgpack')).toBeUndefined()
    expect(responseMediaType('text/*', 'json')).toBeUndefined()
  })
})

describe('decodeBody: JSON', () => {
  it('decodes valid UTF-8 JSON, diacritics included', () => {
    const v = { pin: '001099012345', attributes: { fullName: 'Nguyễn Văn An', gender: 'male' }, n: 1.5, t: true, z: null, a: [1, 'x'] }
    expect(decodeBody(enc.encode(JSON.stringify(v)), 'json')).toEqual(v)
    expect(decodeBody(enc.encode('"x"'), 'json')).toBe('x')
    expect(decodeBody(enc.encode(' 42 '), 'json')).toBe(42)
  })

  it('invalid UTF-8 → IDV_ERR_MALFORMED_BODY', () => {
    for (const bad of [
      hex('22 ff 22'), // 0xff never valid
      hex('22 c0 af 22'), // overlong '/'
      hex('22 ed a0 80 22'), // UTF-8-encoded surrogate
      hex('22 e1 bb 22'), // truncated 3-byte sequence (ễ is e1 bb 85)
      hex('22 80 22') // lone continuation byte
    ]) {
      expect(expectMalformed(bad, 'json').message).toBe('body is not valid UTF-8 JSON')
    }
  })

  it('truncated, empty or otherwise invalid JSON → IDV_ERR_MALFORMED_BODY', () => {
    const full = JSON.stringify({ pin: '001099012345', attributes: { fullName: 'Nguyễn Văn An' } })
    for (const s of [full.slice(0, -1), full.slice(0, 10), '', ' ', '{pin: 1}', "{'a':1}", '[1,]', 'NaN', 'undefined', '{"a":1}{"b":2}']) {
      expectMalformed(enc.encode(s), 'json')
    }
  })

  it('numbers that overflow to Infinity are refused', () => {
    expect(expectMalformed(enc.encode('{"a":1e400}'), 'json').message).toBe('numbers must be finite')
    expectMalformed(enc.encode('[-1e999]'), 'json')
  })

  it('nesting 100 levels deep is refused, as objects and as arrays', () => {
    expect(expectMalformed(enc.encode('['.repeat(100) + ']'.repeat(100)), 'json').message).toMatch(/nesting/)
    expectMalformed(enc.encode('{"a":'.repeat(100) + '1' + '}'.repeat(100)), 'json')
  })

  it('nesting limit: 32 levels pass, 33 are refused', () => {
    expect(decodeBody(enc.encode('['.repeat(32) + ']'.repeat(32)), 'json')).toBeDefined()
    expectMalformed(enc.encode('['.repeat(33) + ']'.repeat(33)), 'json')
  })

  it('a __proto__ key stays an own property and pollutes nothing', () => {
    const v = decodeBody(enc.encode('{"__proto__":{"polluted":1},"pin":"x"}'), 'json') as Record<string, unknown>
    expect(Object.getPrototypeOf(v)).toBe(Object.prototype)
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
    expect((v as { polluted?: unknown }).polluted).toBeUndefined()
  })
})

describe('decodeBody: MessagePack', () => {
  it('decodes plain data written by msgpackr (the service\'s own packr and a default Packr)', () => {
    const v = { pin: '001099012345', attributes: { fullName: 'Nguyễn Văn An', dateOfBirth: '1999-05-17' }, items: [1, -2, 3.25, true, false, null, 'x'] }
    expect(decodeBody(packr.pack(v), 'msgpack')).toEqual(v)
    expect(decodeBody(new Packr().pack(v), 'msgpack')).toEqual(v)
    expect(decodeBody(new Packr({ useRecords: true }).pack(v), 'msgpack')).toEqual(v)
  })

  it('a map with integer keys decodes to a plain object', () => {
    const v = decodeBody(hostile.pack(new Map<unknown, unknown>([[1, 'a'], ['b', 2]])), 'msgpack')
    expect(Object.getPrototypeOf(v)).toBe(Object.prototype)
    expect(v).toEqual({ 1: 'a', b: 2 })
  })

  it('truncated, empty and trailing-garbage bodies → IDV_ERR_MALFORMED_BODY', () => {
    const full = packr.pack({ pin: '001099012345', attributes: { gender: 'male' } })
    for (const b of [full.subarray(0, full.length - 1), full.subarray(0, 3), new Uint8Array(0), Buffer.concat([full, hex('01')])]) {
      expect(expectMalformed(b, 'msgpack').message).toBe('body is not valid MessagePack')
    }
  })

  it('invalid UTF-8 inside a msgpack string never escapes as another exception or as lone surrogates', () => {
    // msgpackr currently replaces invalid sequences with U+FFFD (JSON refuses them: see FOUND-BUGS.md);
    // either a MALFORMED error or a well-formed string is acceptable here, nothing else.
    for (const b of [hex('a3 ff fe fd'), hex('a2 c0 af'), hex('a3 ed a0 80')]) {
      let v: unknown
      try { v = decodeBody(b, 'msgpack') } catch (e) {
        expect(e).toBeInstanceOf(ServiceError)
        expect((e as ServiceError).code).toBe('IDV_ERR_MALFORMED_BODY')
        continue
      }
      expect(typeof v).toBe('string')
      expect(/\p{Cs}/u.test(v as string)).toBe(false) // no lone surrogates
    }
  })

  describe('hostile values are refused with IDV_ERR_MALFORMED_BODY', () => {
    const cases: Array<[string, () => Uint8Array]> = [
      ['Date (timestamp 32)', () => hostile.pack(new Date(0))],
      ['Date (timestamp 64)', () => hostile.pack(new Date(1_700_000_000_123))],
      ['Date (timestamp ext by hand, type -1)', () => hex('d6 ff 00 00 00 01')],
      ['Date (timestamp 96 by hand)', () => hex('c7 0c ff 00000000 0000000000000001')],
      ['Date nested in attributes', () => hostile.pack({ pin: '001099012345', attributes: { dateOfBirth: new Date(0) } })],
      ['RegExp', () => hostile.pack(/a+$/g)],
      ['RegExp by hand (fixext1 0x78 marker, then [source, flags])', () => hex('d4 78 00 92 a1 61 a1 67')],
      ['Set', () => hostile.pack(new Set([1, 2]))],
      ['Set in an array', () => hostile.pack([1, new Set(['x'])])],
      ['Error', () => hostile.pack(new Error('boom'))],
      ['TypeError', () => hostile.pack(new TypeError('boom'))],
      ['Float32Array', () => hostile.pack(new Float32Array([1.5, 2]))],
      ['Float64Array', () => hostile.pack(new Float64Array([1.5]))],
      ['Int32Array', () => hostile.pack(new Int32Array([1]))],
      ['Uint8Array via typed-array ext', () => hostile.pack(new Uint8Array([1, 2, 3]))],
      ['bin 8 (Buffer)', () => hex('c4 03 01 02 03')],
      ['bin in a map value', () => hostile.pack({ pin: Buffer.from('001099012345') })],
      ['undefined (ext 0 by hand)', () => hex('d4 00 00')],
      ['undefined as a map value', () => hostile.pack({ pin: undefined, attributes: {} })],
      ['undefined in an array', () => hostile.pack([1, undefined])],
      ['NaN float64', () => hex('cb 7ff8000000000000')],
      ['NaN float32', () => hex('ca 7fc00000')],
      ['+Infinity float64', () => hex('cb 7ff0000000000000')],
      ['-Infinity float32', () => hex('ca ff800000')],
      ['NaN inside attributes', () => hostile.pack({ attributes: { gender: NaN } })],
      ['uint64 (decoded as BigInt)', () => hex('cf 8000000000000000')],
      ['int64 small value (decoded as BigInt)', () => hex('d3 0000000000000001')],
      ['BigInt ext', () => hostile.pack(2n ** 70n)],
      ['nesting 100 levels (arrays)', () => Buffer.concat([Buffer.alloc(100, 0x91), hex('01')])],
      ['nesting 100 levels (maps)', () => Buffer.concat([...Array.from({ length: 100 }, () => hex('81 a1 61')), hex('01')])],
      ['nesting 33 levels', () => Buffer.concat([Buffer.alloc(33, 0x91), hex('c0')])],
      ['structured-clone cycle', () => { const o: Record<string, unknown> = {}; o.self = o; return hostile.pack(o) }],
      ['structured-clone shared reference', () => { const x = { a: 1 }; return hostile.pack([x, x, [x]]) }],
      ['structured-clone id ext by hand (0x69)', () => hex('d4 69 01')],
      ['structured-clone pointer ext by hand (0x70)', () => hex('d4 70 00')],
      ['unknown ext type 5', () => hex('d4 05 01')],
      ['unknown ext type 0x7f, 16 bytes', () => Buffer.concat([hex('d8 7f'), Buffer.alloc(16)])],
      ['typed array ext with a bad length', () => hex('c7 04 74 07 00 00 c0')],
      ['RegExp ext with an invalid pattern', () => hex('d4 78 00 92 a1 5b a0')],
      ['never-used byte 0xc1 (msgpackr returns a C1Type object)', () => hex('c1')],
      ['map with an object key', () => hostile.pack(new Map<unknown, unknown>([[{ a: 1 }, 2]]))]
    ]
    for (const [label, build] of cases) {
      it(label, () => {
        const bytes = build()
        expectMalformed(bytes, 'msgpack')
        // bytes are the one thing allowBytes lets through; everything else stays refused with it
        const isBytes = label.startsWith('bin') || label.startsWith('Uint8Array')
        if (!isBytes) expectMalformed(bytes, 'msgpack', true)
      })
    }
  })

  it('bytes (bin / Buffer / Uint8Array) are accepted only where the route allows them', () => {
    const bin = hex('82 a3 70 69 6e a1 78 a3 64 67 31 c4 03 01 02 03') // {pin:'x', dg1: bin(010203)}
    expectMalformed(bin, 'msgpack')
    const v = decodeBody(bin, 'msgpack', true) as { dg1: Uint8Array }
    expect(v.dg1).toBeInstanceOf(Uint8Array)
    expect([...v.dg1]).toEqual([1, 2, 3])
    const u8 = hostile.pack({ dg1: new Uint8Array([4, 5]) })
    expectMalformed(u8, 'msgpack')
    expect([...(decodeBody(u8, 'msgpack', true) as { dg1: Uint8Array }).dg1]).toEqual([4, 5])
    // other typed arrays are never bytes
    expectMalformed(hostile.pack({ dg1: new Uint16Array([4]) }), 'msgpack', true)
    expectMalformed(hostile.pack({ dg1: new Uint8ClampedArray([4]) }), 'msgpack', true)
  })

  it('a __proto__ map key pollutes nothing and yields a plain object', () => {
    const bytes = Buffer.concat([hex('81 a9'), Buffer.from('__proto__'), hex('81 a8'), Buffer.from('polluted'), hex('01')])
    const v = decodeBody(bytes, 'msgpack') as Record<string, unknown>
    expect(Object.getPrototypeOf(v)).toBe(Object.prototype)
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
    expect(v.polluted).toBeUndefined()
  })

  it('nesting limit: 32 levels pass', () => {
    expect(decodeBody(Buffer.concat([Buffer.alloc(32, 0x91), hex('c0')]), 'msgpack')).toBeDefined()
  })

  it('500 random byte strings only ever produce values or MALFORMED errors', () => {
    let a = 12345
    const next = (): number => { a = (Math.imul(a, 1103515245) + 12345) >>> 0; return a >>> 24 }
    for (let i = 0; i < 500; i++) {
      const b = new Uint8Array(1 + (next() % 24))
      for (let j = 0; j < b.length; j++) b[j] = next()
      for (const allow of [false, true]) {
        try {
          decodeBody(b, 'msgpack', allow)
        } catch (e) {
          expect(e, Buffer.from(b).toString('hex')).toBeInstanceOf(ServiceError)
          expect((e as ServiceError).code).toBe('IDV_ERR_MALFORMED_BODY')
        }
      }
    }
  })
})
