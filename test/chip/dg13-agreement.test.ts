/**
 * The DG13 fast parser (dg13-fast.ts, a direct byte walk) against the asn1js
 * reference parser (dg13-reference.ts), through the shared agreement suite:
 * for every input the fast one answers exactly what the reference answers
 * (same fields, same order, same error detail) or declines, and it takes the
 * nominal cards. Edge cases it declines are checked through parseDg13, the
 * entry point that falls back to the reference.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import * as asn1js from 'asn1js'
import { parseDg13, parseDg13Identity, type Dg13Result } from '../../src/chip/passive-auth/dg13.js'
import { IDENTITY_FIELDS, parseDg13Fast } from '../../src/chip/passive-auth/dg13-fast.js'
import { parseDg13Reference } from '../../src/chip/passive-auth/dg13-reference.js'
import { AN, DUONG, makeDg13, type TestCitizen } from 'chip-test-pki'
import { agreementSuite, mutationsOf } from '../helpers/agreement.js'

const der = (b: asn1js.AsnType): Uint8Array => new Uint8Array(b.toBER(false))
const wrap = (...value: asn1js.AsnType[]): Uint8Array => der(new asn1js.Constructed({ idBlock: { tagClass: 2, tagNumber: 13 }, value }))
const int = (n: number): asn1js.Integer => new asn1js.Integer({ value: n })
const u = (s: string): asn1js.Utf8String => new asn1js.Utf8String({ value: s })
const seq = (...value: asn1js.AsnType[]): asn1js.Sequence => new asn1js.Sequence({ value })
const field = (n: number, ...values: asn1js.AsnType[]): asn1js.Sequence => seq(int(n), ...values)
const raw = (...bytes: number[]): Uint8Array => new Uint8Array(bytes)
const cat = (...parts: Uint8Array[]): Uint8Array => new Uint8Array(Buffer.concat(parts))
/** Tag 0x6D around raw content, definite short or long length. */
const wrapRaw = (content: Uint8Array): Uint8Array => cat(lenHeader(0x6d, content.byteLength), content)
function lenHeader (tag: number, n: number): Uint8Array {
  if (n < 0x80) return raw(tag, n)
  if (n < 0x100) return raw(tag, 0x81, n)
  return raw(tag, 0x82, n >> 8, n & 0xff)
}

const CITIZENS: TestCitizen[] = [AN, DUONG, { ...AN, expiry: null, spouseName: 'Lê Thị Mai' }, { ...DUONG, placeOfResidence: 'x'.repeat(300) }]
const GENUINE: Uint8Array[] = CITIZENS.flatMap(c => [makeDg13(c), makeDg13(c, 'flat'), makeDg13(c, 'set', 'NFD')])

function expectSame (bytes: Uint8Array, what: string): void {
  const want = parseDg13Reference(bytes)
  const got = parseDg13(bytes)
  try {
    expect(got).toEqual(want)
    if (got.ok && want.ok) expect([...got.data.fields.keys()]).toEqual([...want.data.fields.keys()])
    // verifyChip's variant: same verdict and identity fields, other strings left undecoded.
    expect(identityOf(parseDg13Identity(bytes))).toEqual(identityOf(want))
  } catch (err) {
    throw new Error(`${what}: fast and asn1js paths differ for ${Buffer.from(bytes).toString('hex')}\n${String(err)}`)
  }
}

function identityOf (r: Dg13Result): unknown {
  if (!r.ok) return r
  const { pin, fullName, dateOfBirth, gender } = r.data
  return { ok: true, pin, fullName, dateOfBirth, gender, fieldNumbers: [...r.data.fields.keys()] }
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')
/** A tag byte changed to another string or constructed type, lengths kept: exercises type handling. */
const retagged = fc.tuple(fc.constantFrom(...GENUINE), fc.nat(), fc.constantFrom(0x0c, 0x13, 0x16, 0x1e, 0x1c, 0x17, 0x30, 0x31, 0x02, 0x0a, 0x04, 0xa0, 0x80, 0x2c))
  .map(([b, at, tag]) => { const m = b.slice(); m[at % m.length] = tag; return m })
const inputs = fc.oneof(mutationsOf(GENUINE), retagged)
const withOrder = (r: Dg13Result): unknown => r.ok ? { ...r, order: [...r.data.fields.keys()] } : r

agreementSuite({
  name: 'DG13',
  reference: parseDg13Reference,
  fast: (bytes: Uint8Array) => parseDg13Fast(bytes),
  view: withOrder,
  refused: (r) => !r.ok,
  nominal: GENUINE.map((b, i) => [`genuine card layout ${i}`, b] as const),
  arbitrary: inputs,
  runs: 4000,
  show: hex
})

// verifyChip's variant: the same verdict and identity fields, the other strings left undecoded.
agreementSuite({
  name: 'DG13 identity fields',
  reference: parseDg13Reference,
  fast: (bytes: Uint8Array) => parseDg13Fast(bytes, IDENTITY_FIELDS),
  view: identityOf,
  refused: (r) => !r.ok,
  nominal: GENUINE.map((b, i) => [`genuine card layout ${i}`, b] as const),
  arbitrary: inputs,
  runs: 2000,
  show: hex
})

describe('DG13 edge cases, through the entry point (fast, else the reference)', () => {
  it.each([
    ['indefinite length', cat(raw(0x6d, 0x80), der(seq(field(1, u('001099012345')), field(2, u('A B')))), raw(0, 0))],
    ['non-minimal length', wrapRaw(cat(raw(0x30, 0x81, 0x05), der(field(1, u('1')))))],
    ['BMPString value', wrap(seq(field(1, u('001099012345')), field(2, new asn1js.BmpString({ value: 'Lê Văn' }))))],
    ['UniversalString value', wrap(seq(field(1, u('001099012345')), field(2, new asn1js.UniversalString({ value: 'Lê Văn' }))))],
    ['UTCTime value', wrap(seq(field(1, u('001099012345')), field(2, u('An')), field(3, new asn1js.UTCTime({ valueDate: new Date(0) }))))],
    ['invalid UTF-8', wrapRaw(der(seq(field(1, u('001099012345')), seq(int(2), new asn1js.Primitive({ idBlock: { tagClass: 1, tagNumber: 12 }, valueHex: raw(0x41, 0xc3, 0x28) })))))],
    ['UTF-8 BOM kept', wrap(seq(field(1, u('001099012345')), field(2, u('\uFEFFAn'))))],
    ['surrogate in UTF-8', wrapRaw(der(seq(field(1, u('001099012345')), seq(int(2), new asn1js.Primitive({ idBlock: { tagClass: 1, tagNumber: 12 }, valueHex: raw(0x41, 0xed, 0xa0, 0x80) })))))],
    ['overlong UTF-8', wrapRaw(der(seq(field(1, u('001099012345')), seq(int(2), new asn1js.Primitive({ idBlock: { tagClass: 1, tagNumber: 12 }, valueHex: raw(0x41, 0xc0, 0xaf) })))))],
    ['negative and two-byte field numbers', wrap(seq(field(-1, u('x')), field(255, u('y')), field(0x7fff, u('z')), field(-200, u('w')), field(1, u('001099012345')), field(2, u('An'))))],
    ['three-byte field number is not a field', wrap(seq(seq(new asn1js.Integer({ valueHex: raw(0, 0, 1) }), u('001099012345')), field(1, u('001099012345')), field(2, u('An'))))],
    ['fields nested inside a non-string field', wrap(seq(field(5, seq(field(1, u('001099012345')), field(2, u('Nested'))), u('x'))))],
    ['first occurrence wins', wrap(seq(field(1, u('001099012345')), field(1, u('999999999999')), field(2, u('  Lê   Văn\tAn  ')), field(2, u('B'))))],
    ['Enumerated is not a field number', wrap(seq(seq(new asn1js.Enumerated({ value: 1 }), u('001099012345')), field(1, u('001099012345')), field(2, u('An'))))],
    ['PrintableString, IA5, Teletex values', wrap(seq(field(1, new asn1js.PrintableString({ value: '001099012345' })), field(2, new asn1js.IA5String({ value: 'An' })), field(6, new asn1js.TeletexString({ value: 'K\u00e9' }))))],
    ['parents nested deep', wrap(seq(field(1, u('001099012345')), field(2, u('An')), field(13, seq(seq(seq(seq(seq(u('too deep')))))), u('Mother'))))],
    ['context-tagged wrapper', wrap(new asn1js.Constructed({ idBlock: { tagClass: 3, tagNumber: 0 }, value: [seq(field(1, u('001099012345')), field(2, u('An')))] }))],
    ['primitive tagged value in a field', wrap(seq(field(1, u('001099012345')), field(2, u('An')), field(7, new asn1js.Primitive({ idBlock: { tagClass: 3, tagNumber: 1 }, valueHex: raw(1) }))))],
    ['OID, NULL, OCTET STRING, BOOLEAN siblings', wrap(seq(new asn1js.ObjectIdentifier({ value: '1.2.704.1.13' }), new asn1js.Null(), new asn1js.OctetString({ valueHex: raw(1, 2) }), new asn1js.Boolean({ value: true }), field(1, u('001099012345')), field(2, u('An'))))],
    ['empty strings', wrap(seq(field(1, u('001099012345')), field(2, u('An')), field(13, u(''), u(' '))))],
    ['deep nesting', wrap([...Array(45)].reduce<asn1js.AsnType>(acc => seq(acc), seq(field(1, u('001099012345')), field(2, u('An')))))],
    ['trailing bytes', cat(makeDg13(AN), raw(0))],
    ['truncated', makeDg13(AN).subarray(0, 100)],
    ['wrong outer tag', cat(raw(0x6c), makeDg13(AN).subarray(1))],
    ['long latin1 string', wrap(seq(field(1, u('001099012345')), field(2, u('An')), field(9, new asn1js.PrintableString({ value: 'a'.repeat(70000) }))))]
  ])('%s: same answer as asn1js', (what, bytes) => {
    expectSame(bytes, what)
  })
})
