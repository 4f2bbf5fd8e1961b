/**
 * Hostile input: truncated and randomly mutated SODs and data groups.
 *
 * Property: verifyChip never throws, never hangs, and every answer for bytes
 * that differ from a genuine chip is `valid: false` with a reason code. The
 * mutations come from fast-check, so a failure is shrunk to its smallest
 * mutation and replays by the seed it prints; the test counts the inputs
 * refused, so a generator that stops producing bad input fails.
 * One trust store is shared so the DS cache is exercised the way a worker
 * would (mutated certificates miss it, intact ones hit it).
 */
import fc from 'fast-check'
import { beforeAll, describe, expect, it } from 'vitest'
import { loadTrustStore, REASONS, verifyChip, type ChipInput, type ChipResult, type TrustStore } from '../../src/chip/passive-auth/index.js'
import { AN, DUONG, createTestPki, makeChip, type TestChip, type TestPki } from 'chip-test-pki'

const REASON_CODES = new Set<string>(Object.values(REASONS))
const MUTATIONS = 10_000

let pki: TestPki
let trust: TrustStore
let chips: TestChip[]

beforeAll(() => {
  pki = createTestPki()
  trust = loadTrustStore(pki.trustDir, { crlFiles: pki.crlFile })
  chips = [
    makeChip({ citizen: AN, ds: pki.ds.rsa }),
    makeChip({ citizen: DUONG, ds: pki.ds['rsa-pss'], wrap: false }),
    makeChip({ citizen: AN, ds: pki.ds.ecdsa, ldsHash: 'sha512', signerHash: 'sha384' })
  ]
  for (const chip of chips) expect(verifyChip(chip, trust).valid).toBe(true)
})

function expectRejectedWithReason (r: ChipResult, what: string): void {
  if (r.valid || r.reason === undefined || !REASON_CODES.has(r.reason) || r.identity !== undefined) {
    throw new Error(`${what}: expected a rejection with a reason, got ${JSON.stringify(r)}`)
  }
  for (const c of r.checks) {
    if (!c.ok && (c.reason === undefined || !REASON_CODES.has(c.reason))) throw new Error(`${what}: failed check without a known reason ${JSON.stringify(c)}`)
  }
}

/**
 * Mutations aimed at DER: bit flips, length bytes, insertions, deletions, splices, duplicated ranges.
 * Each is generated as a plain description (positions taken modulo the target's length), so a
 * failure is shrunk by fast-check to the smallest such description and printed as one.
 */
type Mutation =
  | { readonly op: 'flip bit', readonly at: number, readonly bit: number }
  | { readonly op: 'set byte' | 'length byte extreme' | 'insert byte', readonly at: number, readonly value: number }
  | { readonly op: 'delete byte', readonly at: number }
  | { readonly op: 'delete range' | 'duplicate range', readonly at: number, readonly length: number }
  | { readonly op: 'random run', readonly at: number, readonly run: Uint8Array }
  | { readonly op: 'several flips', readonly ats: readonly number[] }
  | { readonly op: 'append garbage', readonly tail: Uint8Array }

const byteArb = fc.integer({ min: 0, max: 255 })
const MUTATION: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant('flip bit' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ op: fc.constant('set byte' as const), at: fc.nat(), value: byteArb }),
  fc.record({ op: fc.constant('length byte extreme' as const), at: fc.nat(), value: fc.constantFrom(0x00, 0x7f, 0x80, 0x81, 0x82, 0x84, 0x89, 0xff) }),
  fc.record({ op: fc.constant('insert byte' as const), at: fc.nat(), value: byteArb }),
  fc.record({ op: fc.constant('delete byte' as const), at: fc.nat() }),
  fc.record({ op: fc.constantFrom('delete range' as const, 'duplicate range' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 64 }) }),
  fc.record({ op: fc.constant('random run' as const), at: fc.nat(), run: fc.uint8Array({ minLength: 8, maxLength: 8 }) }),
  fc.record({ op: fc.constant('several flips' as const), ats: fc.array(fc.nat(), { minLength: 4, maxLength: 4 }) }),
  fc.record({ op: fc.constant('append garbage' as const), tail: fc.uint8Array({ minLength: 2, maxLength: 2 }) })
)

function mutate (b: Uint8Array, m: Mutation): Uint8Array {
  switch (m.op) {
    case 'flip bit': { const c = b.slice(); const i = m.at % c.length; c[i] = (c[i] ?? 0) ^ (1 << m.bit); return c }
    case 'set byte':
    case 'length byte extreme': { const c = b.slice(); c[m.at % c.length] = m.value; return c }
    case 'insert byte': { const i = m.at % b.length; return concat(b.subarray(0, i), Uint8Array.of(m.value), b.subarray(i)) }
    case 'delete byte': { const i = m.at % b.length; return concat(b.subarray(0, i), b.subarray(i + 1)) }
    case 'delete range': { const i = m.at % b.length; return concat(b.subarray(0, i), b.subarray(Math.min(b.length, i + m.length))) }
    case 'duplicate range': { const i = m.at % b.length; const j = Math.min(b.length, i + m.length); return concat(b.subarray(0, j), b.subarray(i, j), b.subarray(j)) }
    case 'random run': { const c = b.slice(); const i = m.at % c.length; c.set(m.run.subarray(0, Math.min(8, c.length - i)), i); return c }
    case 'several flips': { const c = b.slice(); for (const at of m.ats) { const i = at % c.length; c[i] = (c[i] ?? 0) ^ 0xff } return c }
    case 'append garbage': return concat(b, m.tail)
  }
}

/** Which chip, which of its parts (mostly the SOD, the DER under test; a tenth of the time a hashed data group) and how. */
const CASE = fc.record({
  chip: fc.integer({ min: 0, max: 2 }),
  target: fc.oneof({ arbitrary: fc.constant(0), weight: 18 }, { arbitrary: fc.constant(1), weight: 1 }, { arbitrary: fc.constant(13), weight: 1 }),
  mutation: MUTATION
})
const describeCase = (c: { target: number, mutation: Mutation }): string =>
  `${c.mutation.op} on ${c.target === 0 ? 'SOD' : `DG${c.target}`}: ${JSON.stringify(c.mutation, (_k, v: unknown) => v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v)}`

function concat (...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let o = 0
  for (const p of parts) { out.set(p, o); o += p.length }
  return out
}

function sameBytes (a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength))
}

describe('fuzz', () => {
  it('every truncation of each SOD is rejected with a reason', () => {
    for (const chip of chips) {
      for (let len = 0; len < chip.sod.length; len++) {
        expectRejectedWithReason(verifyChip({ ...chip, sod: chip.sod.subarray(0, len) }, trust), `SOD truncated to ${len}`)
      }
    }
  })

  it('every truncation of DG1 and DG13 is rejected with a reason', () => {
    const chip = chips[0] as TestChip
    for (const n of [1, 13]) {
      const dg = chip.dataGroups.get(n) as Uint8Array
      for (let len = 0; len < dg.length; len++) {
        const dataGroups = new Map(chip.dataGroups).set(n, dg.subarray(0, len))
        expectRejectedWithReason(verifyChip({ sod: chip.sod, dataGroups }, trust), `DG${n} truncated to ${len}`)
      }
    }
  })

  it(`${MUTATIONS} generated mutations of SODs and data groups: no throw, always rejected with a reason`, () => {
    const counts = new Map<string, number>()
    let runs = 0
    let identical = 0
    let refused = 0
    fc.assert(fc.property(CASE, (c) => {
      runs++
      const chip = chips[c.chip] as TestChip
      let input: ChipInput
      let changed: boolean
      if (c.target === 0) {
        const sod = mutate(chip.sod, c.mutation)
        changed = !sameBytes(sod, chip.sod)
        input = { sod, dataGroups: chip.dataGroups }
      } else {
        const dg = chip.dataGroups.get(c.target) as Uint8Array
        const mutated = mutate(dg, c.mutation)
        changed = !sameBytes(mutated, dg)
        input = { sod: chip.sod, dataGroups: new Map(chip.dataGroups).set(c.target, mutated) }
      }
      if (!changed) { identical++; return }
      let r: ChipResult
      try {
        r = verifyChip(input, trust)
      } catch (err) {
        throw new Error(`${describeCase(c)} threw: ${String(err)}`)
      }
      expectRejectedWithReason(r, describeCase(c))
      refused++
      counts.set(r.reason as string, (counts.get(r.reason as string) ?? 0) + 1)
    }), { numRuns: MUTATIONS })
    // fast-check also runs shrinking steps on a failure; on success `runs` is numRuns.
    expect(runs).toBe(MUTATIONS)
    // Nearly every generated input differs from the genuine chip, and every one that differs is refused
    // (none accepted): a generator that stops producing bad input fails here.
    expect(identical, `${identical} of ${runs} mutations left the bytes unchanged`).toBeLessThan(MUTATIONS / 20)
    expect(refused, `${refused} of ${runs} mutated chips refused`).toBeGreaterThanOrEqual(MUTATIONS * 0.95)
    // The mutations reach past the parser: hash, signature and certificate checks all see some of them.
    expect(counts.get(REASONS.MALFORMED_SOD)).toBeGreaterThan(0)
    expect(counts.get(REASONS.DG_HASH_MISMATCH)).toBeGreaterThan(0)
    expect((counts.get(REASONS.SOD_SIGNATURE_INVALID) ?? 0) + (counts.get(REASONS.MESSAGE_DIGEST_MISMATCH) ?? 0)).toBeGreaterThan(0)
  })

  it('inputs of the wrong shape are answers, not exceptions', () => {
    const chip = chips[0] as TestChip
    const odd: unknown[] = [
      undefined, null, {}, { sod: 'x', dataGroups: new Map() }, { sod: chip.sod, dataGroups: [[1, chip.dataGroups.get(1)]] },
      { sod: chip.sod, dataGroups: new Map<unknown, unknown>([['1', chip.dataGroups.get(1)]]) },
      { sod: chip.sod, dataGroups: new Map<unknown, unknown>([[1, 'not bytes']]) },
      { sod: new Uint8Array(70_000), dataGroups: chip.dataGroups }
    ]
    for (const input of odd) expectRejectedWithReason(verifyChip(input as ChipInput, trust), `odd input ${String(input)}`)
  })

  it('deep nesting and huge declared lengths are refused quickly', () => {
    const deep = new Uint8Array(4000)
    for (let i = 0; i < deep.length; i += 2) { deep[i] = 0x30; deep[i + 1] = 0x80 }
    const huge = Uint8Array.of(0x77, 0x84, 0x7f, 0xff, 0xff, 0xff, 0x30, 0x00)
    const started = performance.now()
    for (const sod of [deep, huge]) expectRejectedWithReason(verifyChip({ sod, dataGroups: (chips[0] as TestChip).dataGroups }, trust), 'hostile length/nesting')
    expect(performance.now() - started).toBeLessThan(1000)
  })

  it('non-DER re-encodings of a genuine SOD are refused (long-form length on the outer tag)', () => {
    const sod = (chips[0] as TestChip).sod
    // 77 82 LL LL … → 77 83 00 LL LL …: same value, non-minimal length.
    expect(sod[1]).toBe(0x82)
    const longer = concat(Uint8Array.of(0x77, 0x83, 0x00), sod.subarray(2))
    const r = verifyChip({ ...(chips[0] as TestChip), sod: longer }, trust)
    expectRejectedWithReason(r, 'non-minimal length')
    expect(r.reason).toBe(REASONS.MALFORMED_SOD)
  })
})

describe('layout templates (sod.ts): a template hit answers exactly as a full parse', () => {
  it('same-length SODs from one DS with swapped per-chip parts are still checked', () => {
    // AN and DUONG chips from the RSA DS have identical layouts: the second hits the first's template.
    const a = makeChip({ citizen: AN, ds: pki.ds.rsa })
    const b = makeChip({ citizen: DUONG, ds: pki.ds.rsa })
    expect(a.sod.length).toBe(b.sod.length)
    expect(verifyChip(a, trust).valid).toBe(true)
    expect(verifyChip(b, trust).valid).toBe(true)
    // b's data groups under a's SOD: hashes differ.
    expect(verifyChip({ sod: a.sod, dataGroups: b.dataGroups }, trust).reason).toBe(REASONS.DG_HASH_MISMATCH)
    // Splice a's signature into b's SOD (same offsets): the template applies, the signature does not verify.
    const spliced = b.sod.slice()
    spliced.set(a.sod.subarray(a.sod.length - 256), b.sod.length - 256)
    expect(verifyChip({ ...b, sod: spliced }, trust).reason).toBe(REASONS.SOD_SIGNATURE_INVALID)
  })

  it('a signingTime region turned into garbage of the same length is refused', () => {
    const a = makeChip({ citizen: AN, ds: pki.ds.rsa })
    expect(verifyChip(a, trust).valid).toBe(true)
    const at = Buffer.from(a.sod).indexOf(Buffer.from('250601000000Z', 'latin1'))
    expect(at).toBeGreaterThan(0)
    const bad = a.sod.slice()
    bad.set(Buffer.from('2506XX000000Z', 'latin1'), at)
    expectRejectedWithReason(verifyChip({ ...a, sod: bad }, trust), 'garbage signingTime')
  })
})
