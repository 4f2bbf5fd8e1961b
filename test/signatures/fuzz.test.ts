/**
 * Hostile Signature-Input / Signature / Content-Digest values: random and
 * mutated inputs must give a typed failure (a code from the table), never an
 * exception, and pathological shapes must not take super-linear time.
 */
import { describe, expect, it } from 'vitest'
import { SIGNATURE_ERROR_CODES } from '../../src/signatures/codes.js'
import { POLICY_ERROR_CODES } from '../../src/parties/codes.js'
import { ADMISSION_ERROR_CODES } from '../../src/admission/codes.js'

const AUTH_ERROR_CODES = { ...SIGNATURE_ERROR_CODES, ...POLICY_ERROR_CODES, ...ADMISSION_ERROR_CODES }
import { RequestVerifier } from '../../src/signatures/message-signature.js'
import { ReplayGuard } from '../../src/admission/replay-guard.js'
import { input, makeKey, NOW_MS, resolverOf, signed } from './support.js'

function rng (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const ALPHABET = '()";=:,*@-_. \t\\?%01az9AZ+/\u0000\u00ff\u1ea1\n'

function mutate (r: () => number, s: string): string {
  const chars = [...s]
  const edits = 1 + Math.floor(r() * 6)
  for (let e = 0; e < edits; e++) {
    const at = Math.floor(r() * (chars.length + 1))
    const c = ALPHABET[Math.floor(r() * ALPHABET.length)] as string
    const op = r()
    if (op < 0.33) chars.splice(at, 0, c)
    else if (op < 0.66) chars.splice(at, 1)
    else chars[at] = c
  }
  return chars.join('')
}

function randomString (r: () => number, n: number): string {
  let s = ''
  for (let i = 0; i < n; i++) s += ALPHABET[Math.floor(r() * ALPHABET.length)] as string
  return s
}

describe('hostile signature headers', () => {
  const key = makeKey('ed25519')
  const base = signed(key)
  const verifier = new RequestVerifier({ resolveKey: resolverOf([key]), nonces: ReplayGuard.create({ slots: 4096 }), now: () => NOW_MS })

  function check (headers: Record<string, string>): void {
    let result
    try {
      result = verifier.verify(input({ ...base, headers: { ...base.headers, ...headers } }))
    } catch (err) {
      throw new Error(`threw on ${JSON.stringify(headers)}: ${String(err)}`)
    }
    if (!result.ok) expect(Object.keys(AUTH_ERROR_CODES)).toContain(result.code)
  }

  it('600 mutated and random Signature-Input values give typed results', () => {
    const r = rng(9421)
    const si = base.headers['signature-input'] as string
    for (let i = 0; i < 400; i++) check({ 'signature-input': mutate(r, si) })
    for (let i = 0; i < 200; i++) check({ 'signature-input': randomString(r, Math.floor(r() * 200)) })
  })

  it('300 mutated Signature and Content-Digest values give typed results', () => {
    const r = rng(9530)
    for (let i = 0; i < 150; i++) check({ signature: mutate(r, base.headers.signature as string) })
    for (let i = 0; i < 150; i++) check({ 'content-digest': mutate(r, base.headers['content-digest'] as string) })
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
