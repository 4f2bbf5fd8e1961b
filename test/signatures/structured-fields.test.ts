/**
 * Our RFC 8941 parser/serialiser against an independent implementation
 * (`structured-headers`, the parser `http-message-signatures` uses): on
 * thousands of random and mutated dictionaries both must accept the same
 * inputs, produce the same values, and serialise inner lists identically.
 * Differences allowed by design: we refuse RFC 9651 dates and display strings,
 * and we keep decimals apart from integers (the other parser gives both as numbers).
 */
import { DisplayString, parseDictionary, serializeInnerList as theirSerializeInnerList, Token, type Dictionary as TheirDictionary } from 'structured-headers'
import { describe, expect, it } from 'vitest'
import { parseDictionaryField, serializeInnerList, SfDecimal, SfToken, type BareItem, type Dictionary, type InnerList } from '../../src/signatures/structured-fields.js'

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

class Rfc9651 extends Error {}

function normTheirs (v: unknown): unknown {
  if (typeof v === 'number') return { n: v === 0 ? 0 : v }
  if (typeof v === 'string') return { s: v }
  if (typeof v === 'boolean') return { bool: v }
  if (v instanceof Token) return { t: v.toString() }
  if (v instanceof ArrayBuffer) return { b: Buffer.from(v).toString('base64') }
  if (v instanceof Date || v instanceof DisplayString) throw new Rfc9651()
  throw new Error(`unexpected ${String(v)}`)
}

function normOurs (v: BareItem): unknown {
  if (typeof v === 'number') return { n: v === 0 ? 0 : v }
  if (v instanceof SfDecimal) return { n: v.value === 0 ? 0 : v.value }
  if (typeof v === 'string') return { s: v }
  if (typeof v === 'boolean') return { bool: v }
  if (v instanceof SfToken) return { t: v.value }
  return { b: Buffer.from(v).toString('base64') }
}

type Norm = (v: never) => unknown
function normDict (d: Map<string, unknown>, norm: Norm): unknown {
  const params = (p: Map<string, unknown>): unknown => [...p].map(([k, v]) => [k, norm(v as never)])
  return [...d].map(([k, m]) => {
    const [value, p] = m as [unknown, Map<string, unknown>]
    if (Array.isArray(value)) return [k, 'list', value.map(([iv, ip]: [unknown, Map<string, unknown>]) => [norm(iv as never), params(ip)]), params(p)]
    return [k, 'item', norm(value as never), params(p)]
  })
}

const SEEDS = [
  'sig1=("@method" "@authority" "@path" "content-digest" "content-type");created=1772359200;keyid="ed25519-key";nonce="n-1";alg="ed25519"',
  'sig1=:wqcAqbmYJ2ji2glfAMaRy4gruYYnx2nEFN2HN6jrnDnQCK1u02Gb04v9EDgwUPiu4A0w6vuQv5lIp5WPpBKRCw==:, sig2=:AQID:',
  'sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:, sha-512=:YMAam51Jz/jOATT6/zvHrLVgOYTGFy1d6GJiOHTohq4yP+pgk4vf2aCsyRZOtw8MjkM7iw7yZ/WkppmM44T3qg==:',
  'a=1, b=-2.5;x=?0, c="s\\"q\\\\", d=tok/en:x, e=:AQID:, f=(1 2.0 "x" y);p=?1;q=-7, g, h=?0, *i=*tok;k.ey=123456789012345',
  'x=(), y=( "a"  "b" );z, z=4, w=999999999999.999'
]
const ALPHABET = '()";=:,*@%-_./ \t\\?01239azAZ+/\u0000\u007f\u00e9'

function mutate (r: () => number, s: string): string {
  const chars = [...s]
  const edits = 1 + Math.floor(r() * 2)
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

function compare (input: string): 'both-ok' | 'both-fail' | 'rfc9651' {
  let theirs: TheirDictionary | undefined
  try {
    theirs = parseDictionary(input)
  } catch {
    theirs = undefined
  }
  const ours = parseDictionaryField(input, Infinity)
  if (theirs === undefined) {
    expect(ours.ok, `we accept what structured-headers refuses: ${JSON.stringify(input)}`).toBe(false)
    return 'both-fail'
  }
  let expected: unknown
  try {
    expected = normDict(theirs as Map<string, unknown>, normTheirs as Norm)
  } catch (err) {
    if (!(err instanceof Rfc9651)) throw err
    expect(ours.ok, `RFC 9651 type accepted: ${JSON.stringify(input)}`).toBe(false)
    return 'rfc9651'
  }
  expect(ours.ok, `we refuse what structured-headers accepts: ${JSON.stringify(input)} (${ours.ok ? '' : ours.reason})`).toBe(true)
  const dict = (ours as { value: Dictionary }).value
  expect(normDict(dict as Map<string, unknown>, normOurs as Norm), JSON.stringify(input)).toEqual(expected)
  for (const [k, m] of dict) {
    const theirMember = theirs.get(k)
    if (!Array.isArray(m[0]) || !Array.isArray(theirMember?.[0])) continue
    const hasDecimal = JSON.stringify(input).includes('.') // decimals serialise differently by design
    if (hasDecimal) continue
    expect(serializeInnerList(m as InnerList), JSON.stringify(input)).toBe(theirSerializeInnerList(theirMember as never))
  }
  return 'both-ok'
}

describe('RFC 8941 parser agrees with structured-headers', () => {
  it('on the seed dictionaries', () => {
    for (const s of SEEDS) expect(compare(s)).toBe('both-ok')
  })

  it('on 6,000 mutated and 2,000 random inputs', () => {
    const r = rng(8941)
    const counts = { 'both-ok': 0, 'both-fail': 0, rfc9651: 0 }
    for (let i = 0; i < 6000; i++) counts[compare(mutate(r, SEEDS[i % SEEDS.length] as string))]++
    for (let i = 0; i < 2000; i++) {
      let s = ''
      const n = Math.floor(r() * 40)
      for (let j = 0; j < n; j++) s += ALPHABET[Math.floor(r() * ALPHABET.length)] as string
      counts[compare(s)]++
    }
    // both outcomes must be well represented, or the comparison proves little
    expect(counts['both-ok']).toBeGreaterThan(1000)
    expect(counts['both-fail']).toBeGreaterThan(1000)
  })

  it('keeps decimals apart from integers and serialises them with a fraction', () => {
    const d = parseDictionaryField('a=(1 1.0 -0.5 2.125);p=3.10')
    if (!d.ok) throw new Error(d.reason)
    expect(serializeInnerList(d.value.get('a') as InnerList)).toBe('(1 1.0 -0.5 2.125);p=3.1')
  })
})
