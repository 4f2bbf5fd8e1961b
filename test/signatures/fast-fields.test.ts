/**
 * The fast path for Signature-Input and Signature (src/signatures/signature-fields-fast.ts)
 * against the full RFC 8941 parser, through the shared agreement suite: on
 * canonical, mutated and random values it must give exactly the full parser's
 * answer (components, parameters, the @signature-params serialisation) or
 * decline; and whatever it accepts, the independent `structured-headers`
 * parser accepts too, with the same inner-list serialisation.
 */
import fc from 'fast-check'
import { parseDictionary, serializeInnerList as theirSerializeInnerList } from 'structured-headers'
import { describe, expect, it } from 'vitest'
import { parseSignatureFieldFast, parseSignatureInputFast } from '../../src/signatures/signature-fields-fast.js'
import { parseSignatureField, parseSignatureInput, type SfResult, type SignatureInputMember } from '../../src/signatures/structured-fields.js'
import { agreementSuite } from '../helpers/agreement.js'

const COMPONENTS = ['@method', '@authority', '@path', '@target-uri', 'content-digest', 'content-type', 'x-a)b', 'x\\"q']
const PLAIN = [...'abcXYZ09-_.~/+= ']
const ALPHABET = [...'()";=:,*@%-_./ \t\\?01239azAZ+/\u0000\u007f\u00e9']

const plainString = fc.array(fc.constantFrom(...PLAIN), { minLength: 1, maxLength: 24 }).map((cs) => cs.join(''))
/** Signature-Input values as clients write them (canonical), with varied labels, components and parameters. */
const canonicalInput = fc.record({
  label: fc.constantFrom('sig1', 'sig', 'a', 'x-1.b*'),
  components: fc.subarray(COMPONENTS.slice(0, 6), { minLength: 0 }),
  created: fc.integer({ min: 0, max: 2 ** 40 }),
  expires: fc.option(fc.integer({ min: 0, max: 2 ** 40 }), { nil: undefined }),
  keyid: plainString,
  nonce: plainString,
  alg: fc.option(fc.constantFrom('hmac-sha256', 'ed25519'), { nil: undefined })
}).map((r) => `${r.label}=(${r.components.map((c) => `"${c}"`).join(' ')});created=${r.created}${r.expires === undefined ? '' : `;expires=${r.expires}`};keyid="${r.keyid}";nonce="${r.nonce}"${r.alg === undefined ? '' : `;alg="${r.alg}"`}`)

/** 1 to 3 edits (insert, delete, replace a character). */
function mutationOf (source: fc.Arbitrary<string>): fc.Arbitrary<string> {
  const edit = fc.tuple(fc.nat(), fc.constantFrom(...ALPHABET), fc.constantFrom('insert', 'delete', 'replace'))
  return fc.tuple(source, fc.array(edit, { minLength: 1, maxLength: 3 })).map(([seed, edits]) => {
    const chars = [...seed]
    for (const [n, c, op] of edits) {
      const at = n % (chars.length + 1)
      if (op === 'insert') chars.splice(at, 0, c)
      else if (op === 'delete') chars.splice(at, 1)
      else chars[at] = c
    }
    return chars.join('')
  })
}
const random = fc.array(fc.constantFrom(...ALPHABET), { maxLength: 60 }).map((cs) => cs.join(''))

const NOMINAL_INPUTS = [
  'sig1=("@method" "@authority" "@path" "content-digest" "content-type");created=1700000000;keyid="bench-hmac-1";nonce="m0cW-7r8kYb0cW7r8kYb0c";alg="hmac-sha256"',
  'sig-b26=("date" "@method" "@path" "@authority" "content-type" "content-length");created=1618884473;keyid="test-key-ed25519"',
  'sig=();created=0;keyid="k";nonce="n";expires=1'
]

type InputView = { ok: false } | { ok: true, members: unknown }
function viewInput (r: SfResult<Map<string, SignatureInputMember>>): InputView {
  if (!r.ok) return { ok: false }
  return { ok: true, members: [...r.value].map(([label, m]) => [label, m.components.map((c) => [c.name, [...c.params]]), [...m.params], m.serialized]) }
}
const fastInput = (s: string): SfResult<Map<string, SignatureInputMember>> | undefined => {
  const v = parseSignatureInputFast(s)
  return v === undefined ? undefined : { ok: true, value: v }
}

agreementSuite<string, SfResult<Map<string, SignatureInputMember>>>({
  name: 'Signature-Input (fast path against the full parser)',
  reference: parseSignatureInput,
  fast: fastInput,
  view: viewInput,
  refused: (r) => !r.ok,
  nominal: NOMINAL_INPUTS.map((s) => [s.slice(0, 40), s] as const),
  arbitrary: fc.oneof({ arbitrary: canonicalInput, weight: 2 }, { arbitrary: mutationOf(canonicalInput), weight: 4 }, { arbitrary: mutationOf(fc.constantFrom(...NOMINAL_INPUTS)), weight: 2 }, { arbitrary: random, weight: 1 }),
  runs: 6000,
  minTaken: 0.2,
  minRefused: 0.15,
  minAccepted: 0.3
})

const canonicalSignature = fc.tuple(fc.constantFrom('sig1', 'sig', 'x-1'), fc.uint8Array({ minLength: 0, maxLength: 70 }))
  .map(([label, bytes]) => `${label}=:${Buffer.from(bytes).toString('base64')}:`)

type SigView = { ok: false } | { ok: true, members: unknown }
function viewSignature (r: SfResult<Map<string, Uint8Array>>): SigView {
  return r.ok ? { ok: true, members: [...r.value].map(([label, b]) => [label, Buffer.from(b).toString('hex')]) } : { ok: false }
}

agreementSuite<string, SfResult<Map<string, Uint8Array>>>({
  name: 'Signature (fast path against the full parser)',
  reference: parseSignatureField,
  fast: (s) => { const v = parseSignatureFieldFast(s); return v === undefined ? undefined : { ok: true, value: v } },
  view: viewSignature,
  refused: (r) => !r.ok,
  nominal: [['hmac', 'sig1=:K2qGT5srn2OGbOIDzQ6kYT+ruaycnDAAUpKv+ePFfD0=:'], ['ed25519', 'sig-b26=:wqcAqbmYJ2ji2glfAMaRy4gruYYnx2nEFN2HN6jrnDnQCK1u02Gb04v9EDgwUPiu4A0w6vuQv5lIp5WPpBKRCw==:']],
  arbitrary: fc.oneof({ arbitrary: canonicalSignature, weight: 2 }, { arbitrary: mutationOf(canonicalSignature), weight: 3 }, { arbitrary: random, weight: 1 }),
  runs: 4000,
  minTaken: 0.2,
  minRefused: 0.15,
  minAccepted: 0.3
})

describe('the fast path against the independent parser (structured-headers)', () => {
  it('whatever the fast path accepts, structured-headers accepts with the same inner list', () => {
    let taken = 0
    fc.assert(fc.property(fc.oneof(canonicalInput, mutationOf(canonicalInput)), (s) => {
      const fast = parseSignatureInputFast(s)
      if (fast === undefined) return
      taken++
      const theirs = parseDictionary(s)
      const [label, member] = [...fast][0]!
      expect([...theirs.keys()]).toEqual([label])
      expect(theirSerializeInnerList(theirs.get(label) as never)).toBe(member.serialized)
    }), { numRuns: 3000 })
    expect(taken).toBeGreaterThan(500)
  })

  it('declines rather than guesses: escapes, spaces, duplicate keys, decimals, leading zeros, tokens, two members', () => {
    for (const s of [
      'sig1=("@method");keyid="a\\"b"',
      'sig1=("@method"); created=1',
      'sig1=("@method");created=1;created=2',
      'sig1=("@method");created=1.5',
      'sig1=("@method");created=01',
      'sig1=("@method");alg=ed25519',
      'sig1=("@method");created=1, sig2=("@path");created=1',
      'sig1=("@method"  "@path");created=1',
      'sig1=("@method";req);created=1',
      ' sig1=("@method");created=1',
      'sig1=("@method");created=1 ',
      'sig1=("x)y");created=1'
    ]) expect(parseSignatureInputFast(s), s).toBeUndefined()
  })
})
