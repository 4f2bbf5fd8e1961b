/**
 * Our RFC 8785 canonical JSON (src/receipts/canonical-json.ts, the bytes a
 * receipt's leaf commits to) against an independent implementation (the
 * `canonicalize` package, by the RFC's author), through the shared agreement
 * suite, and against the RFC's own number vectors (Appendix B).
 *
 * One divergence by design: `undefined` (in an array, an object member) is
 * refused here, while `canonicalize` follows JSON.stringify (null in arrays,
 * dropped members). It is not JSON, and a leaf must hold exactly what was
 * answered, so the generated inputs are JSON values (plus NaN and ±Infinity,
 * which RFC 8785 §3.2.2.3 says must be refused, and both refuse).
 */
import canonicalize from 'canonicalize'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { canonicalJson } from '../../src/receipts/canonical-json.js'
import { agreementSuite } from '../helpers/agreement.js'

type Out = { readonly ok: true, readonly text: string } | { readonly ok: false }
const run = (f: (v: unknown) => string | undefined) => (v: unknown): Out => {
  try {
    const text = f(v)
    return text === undefined ? { ok: false } : { ok: true, text }
  } catch {
    return { ok: false }
  }
}

const nonFinite = fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY)
const withNonFinite = fc.tuple(fc.jsonValue(), nonFinite, fc.string()).map(([v, bad, key]) => ({ [key]: [v, bad] }))

agreementSuite<unknown, Out>({
  name: 'RFC 8785 canonical JSON (ours against canonicalize)',
  reference: run((v) => canonicalize(v)),
  fast: run(canonicalJson),
  refused: (o) => !o.ok,
  nominal: [
    ['a receipt leaf', { v: 1, requestId: 'At54UE61000001', partyId: 'bank-a', time: '2026-12-05T10:00:00.000Z', pinHash: 'x-Y_', attributes: ['fullName'], results: { match: true, citizen: 'active', attributes: { fullName: 'match_without_diacritics' } } }],
    ['Vietnamese and escapes', { 'Nguyễn': 'Trần Thị Thùy Dương', z: '\u0000\u001f"\\\u2028\u{1F600}', a: [-0, 1e21, 5e-324] }]
  ],
  arbitrary: fc.oneof({ arbitrary: fc.jsonValue(), weight: 4 }, { arbitrary: fc.oneof(nonFinite, withNonFinite), weight: 1 }),
  runs: 3000,
  minTaken: 1,
  minRefused: 0.1,
  minAccepted: 0.5
})

describe('RFC 8785 Appendix B: number serialisation', () => {
  // IEEE 754 binary64 (hex) → the canonical text, as published.
  const vectors: ReadonlyArray<readonly [string, string]> = [
    ['0000000000000000', '0'], ['8000000000000000', '0'], ['0000000000000001', '5e-324'], ['8000000000000001', '-5e-324'],
    ['7fefffffffffffff', '1.7976931348623157e+308'], ['ffefffffffffffff', '-1.7976931348623157e+308'],
    ['4340000000000000', '9007199254740992'], ['c340000000000000', '-9007199254740992'], ['4430000000000000', '295147905179352830000'],
    ['44b52d02c7e14af5', '9.999999999999997e+22'], ['44b52d02c7e14af6', '1e+23'], ['44b52d02c7e14af7', '1.0000000000000001e+23'],
    ['444b1ae4d6e2ef4e', '999999999999999700000'], ['444b1ae4d6e2ef4f', '999999999999999900000'], ['444b1ae4d6e2ef50', '1e+21'],
    ['3eb0c6f7a0b5ed8c', '9.999999999999997e-7'], ['3eb0c6f7a0b5ed8d', '0.000001'],
    ['41b3de4355555553', '333333333.3333332'], ['41b3de4355555554', '333333333.33333325'], ['41b3de4355555555', '333333333.3333333'],
    ['41b3de4355555556', '333333333.3333334'], ['41b3de4355555557', '333333333.33333343'],
    ['becbf647612f3696', '-0.0000033333333333333333'], ['43143ff3c1cb0959', '1424953923781206.2']
  ]
  it.each(vectors)('%s → %s', (hex, text) => {
    expect(canonicalJson(Buffer.from(hex, 'hex').readDoubleBE(0))).toBe(text)
  })
  it.each(['7fffffffffffffff', '7ff0000000000000', 'fff0000000000000'])('%s (NaN, Infinity) is refused', (hex) => {
    expect(() => canonicalJson(Buffer.from(hex, 'hex').readDoubleBE(0))).toThrow(TypeError)
  })
})
