/**
 * One agreement suite for every fast path kept beside a reference (as hono
 * runs each router through one shared suite): for every input, the fast
 * implementation answers exactly what the reference answers, or declines
 * (undefined) and lets the reference decide. Inputs come from fast-check, so a
 * disagreement is shrunk to its smallest input and replays by seed; the
 * suite also checks that the fast path really is taken on the nominal inputs
 * and on a share of the generated ones, so a fast path that declines
 * everything cannot pass for one that agrees.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'

export interface AgreementCase<I, O> {
  readonly name: string
  readonly reference: (input: I) => O
  /** The fast path; undefined where it declines. */
  readonly fast: (input: I) => O | undefined
  /** What must agree (default: the whole answer). */
  readonly view?: (output: O) => unknown
  /** Inputs the fast path must take, and agree on. */
  readonly nominal: ReadonlyArray<readonly [string, I]>
  /** Generated inputs: valid, mutated and hostile. */
  readonly arbitrary: fc.Arbitrary<I>
  readonly runs?: number
  /** Least share of generated inputs the fast path must take (default 0.2). */
  readonly minTaken?: number
  /** Whether an answer refuses its input: the generated inputs must include both (a generator that stops producing bad input fails). */
  readonly refused: (output: O) => boolean
  /** Least share of generated inputs the reference refuses, and accepts (default 0.1 each). */
  readonly minRefused?: number
  readonly minAccepted?: number
  /** Inputs shown as hex or text in failure messages. */
  readonly show?: (input: I) => string
}

export function agreementSuite<I, O> (c: AgreementCase<I, O>): void {
  const view = c.view ?? ((o: O) => o)
  const show = c.show ?? ((i: I) => JSON.stringify(i))
  describe(`${c.name}: the fast path agrees with the reference`, () => {
    it.each(c.nominal.map(([label, input]) => [label, input] as const))('%s: taken, and the same answer', (_label, input) => {
      const fast = c.fast(input)
      expect(fast, `the fast path declined ${show(input)}`).not.toBeUndefined()
      expect(view(fast as O)).toEqual(view(c.reference(input)))
    })

    it('every generated input: the same answer, or declined; refused and accepted inputs both well represented', () => {
      let taken = 0
      let refused = 0
      let runs = 0
      fc.assert(fc.property(c.arbitrary, (input) => {
        runs++
        const reference = c.reference(input)
        if (c.refused(reference)) refused++
        const fast = c.fast(input)
        if (fast === undefined) return
        taken++
        expect(view(fast), show(input)).toEqual(view(reference))
      }), { numRuns: c.runs ?? 1000 })
      // fast-check also runs shrinking steps on a failure; on success `runs` is numRuns.
      expect(taken / runs, `the fast path took ${taken} of ${runs} generated inputs`).toBeGreaterThanOrEqual(c.minTaken ?? 0.2)
      expect(refused / runs, `the reference refused ${refused} of ${runs} generated inputs`).toBeGreaterThanOrEqual(c.minRefused ?? 0.1)
      expect((runs - refused) / runs, `the reference accepted ${runs - refused} of ${runs} generated inputs`).toBeGreaterThanOrEqual(c.minAccepted ?? 0.1)
    })
  })
}

/** Byte mutations of genuine inputs: a flipped bit, a changed byte, a cut, an insertion. */
export function mutationsOf (genuine: readonly Uint8Array[]): fc.Arbitrary<Uint8Array> {
  const base = fc.constantFrom(...genuine)
  return fc.oneof(
    base,
    fc.tuple(base, fc.nat(), fc.integer({ min: 0, max: 7 })).map(([b, at, bit]) => { const m = b.slice(); m[at % m.length]! ^= 1 << bit; return m }),
    fc.tuple(base, fc.nat(), fc.integer({ min: 0, max: 255 })).map(([b, at, v]) => { const m = b.slice(); m[at % m.length] = v; return m }),
    fc.tuple(base, fc.nat()).map(([b, at]) => b.slice(0, at % b.length)),
    fc.tuple(base, fc.nat(), fc.uint8Array({ minLength: 1, maxLength: 4 })).map(([b, at, extra]) => { const i = at % b.length; return new Uint8Array(Buffer.concat([b.subarray(0, i), extra, b.subarray(i)])) })
  )
}
