/**
 * Hostile Signature-Input / Signature / Content-Digest values: random and
 * mutated inputs must give a typed failure (a code from the table), never an
 * exception, and pathological shapes must not take super-linear time.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { SIGNATURE_ERROR_CODES } from '../../src/signatures/codes.js'
import { POLICY_ERROR_CODES } from '../../src/parties/codes.js'
import { ADMISSION_ERROR_CODES } from '../../src/admission/codes.js'

const AUTH_ERROR_CODES = { ...SIGNATURE_ERROR_CODES, ...POLICY_ERROR_CODES, ...ADMISSION_ERROR_CODES }
import { RequestVerifier } from '../../src/signatures/message-signature.js'
import { ReplayGuard } from '../../src/admission/replay-guard.js'
import { input, makeKey, NOW_MS, resolverOf, signed } from './support.js'

const ALPHABET = [...'()";=:,*@-_. \t\\?%01az9AZ+/\u0000\u00ff\u1ea1\n']

/** 1 to 6 edits (insert, delete or replace a character from ALPHABET at a position taken modulo the length). */
const edits = fc.array(fc.record({ at: fc.nat(), c: fc.constantFrom(...ALPHABET), op: fc.constantFrom('insert', 'delete', 'replace') }), { minLength: 1, maxLength: 6 })
function mutate (s: string, es: ReadonlyArray<{ at: number, c: string, op: 'insert' | 'delete' | 'replace' }>): string {
  const chars = [...s]
  for (const e of es) {
    const at = e.at % (chars.length + 1)
    if (e.op === 'insert') chars.splice(at, 0, e.c)
    else if (e.op === 'delete') chars.splice(at, 1)
    else chars[at] = e.c
  }
  return chars.join('')
}
const mutationOf = (s: string): fc.Arbitrary<string> => edits.map((es) => mutate(s, es))
/** 0 to 199 characters of ALPHABET. */
const randomString = fc.array(fc.constantFrom(...ALPHABET), { maxLength: 199, size: 'max' }).map((cs) => cs.join(''))

describe('hostile signature headers', () => {
  const key = makeKey('ed25519')
  const base = signed(key)
  const verifier = new RequestVerifier({ resolveKey: resolverOf([key]), nonces: ReplayGuard.create({ slots: 4096 }), now: () => NOW_MS })

  /** Verifies the request with `headers` replaced: a typed result, never an exception. True when refused. */
  function check (headers: Record<string, string>): boolean {
    let result
    try {
      result = verifier.verify(input({ ...base, headers: { ...base.headers, ...headers } }))
    } catch (err) {
      throw new Error(`threw on ${JSON.stringify(headers)}: ${String(err)}`)
    }
    if (!result.ok) expect(Object.keys(AUTH_ERROR_CODES)).toContain(result.code)
    return !result.ok
  }

  /**
   * Runs `numRuns` generated values of one header through check and counts the refusals: every
   * one must be refused, or nearly (a mutation may leave a value meaning the same), so a generator
   * that stops producing bad input fails.
   */
  function expectRefused (header: string, values: fc.Arbitrary<string>, numRuns: number, minRefused: number): void {
    let runs = 0
    let refused = 0
    fc.assert(fc.property(values, (value) => {
      runs++
      if (check({ [header]: value })) refused++
    }), { numRuns })
    expect(runs).toBe(numRuns)
    expect(refused, `${refused} of ${runs} generated ${header} values refused`).toBeGreaterThanOrEqual(minRefused)
  }

  it('600 mutated and random Signature-Input values give typed results', () => {
    const si = base.headers['signature-input'] as string
    expectRefused('signature-input', mutationOf(si), 400, 0.95 * 400)
    expectRefused('signature-input', randomString, 200, 200)
  })

  it('300 mutated Signature and Content-Digest values give typed results', () => {
    expectRefused('signature', mutationOf(base.headers.signature as string), 150, 0.95 * 150)
    expectRefused('content-digest', mutationOf(base.headers['content-digest'] as string), 150, 0.95 * 150)
  })

  it.each([200_000, 8_000])('pathological shapes of about %i characters are refused quickly', (big) => {
    const shapes = [
      '('.repeat(big), `sig1=(${'"a" '.repeat(big / 4)})`, `sig1=("@method");${'a=1;'.repeat(big / 4)}`,
      `sig1=:${'A'.repeat(big)}`, `sig1="${'\\'.repeat(big)}`, ' '.repeat(big) + 'x', `${'a=1,'.repeat(big / 4)}a=1`,
      `sig1=("@method" "@path" "content-digest");created=${'9'.repeat(30)};keyid="k";nonce="n"`,
      'sig1=("@method" "@path" "content-digest");created=1.5;keyid="k";nonce="n"',
      'sig1=("@method";sf "@path" "content-digest");created=1;keyid="ed25519-key";nonce="n"'
    ]
    const started = performance.now()
    for (const s of shapes) {
      check({ 'signature-input': s })
      check({ signature: s })
      check({ 'content-digest': s })
    }
    expect(performance.now() - started).toBeLessThan(1000)
  })

  it('too many signatures is refused before any is verified', () => {
    const many = Array.from({ length: 20 }, (_, i) => `s${i}=("@method");created=1;keyid="k";nonce="n"`).join(', ')
    const r = verifier.verify(input({ ...base, headers: { ...base.headers, 'signature-input': many } }))
    expect(r).toMatchObject({ ok: false, code: 'IDV_ERR_SIGNATURE_INVALID', detail: expect.stringContaining('more than') })
  })
})
