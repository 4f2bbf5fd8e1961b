/**
 * What verification records: each verdict by party, and each attribute's
 * result. Declared here, laid out by the metrics capability, recorded with an
 * index computation and an addition (no label objects on the hot path).
 */
import type { Counter, CounterFamily } from '../capability.js'
import { ATTRIBUTES } from '../domain/record.js'
import type { VerifyOutcome } from './verifier.js'

const OUTCOMES = ['match', 'mismatch', 'unknown', 'inactive'] as const
const RESULTS = ['match', 'match_without_diacritics', 'match_reorganised', 'mismatch'] as const

export const VERIFY_OUTCOMES: CounterFamily = {
  name: 'idv_verify_outcomes_total',
  help: 'Verification verdicts (batch items included), by relying party: match, mismatch (an attribute differs), unknown (PIN not registered), inactive (deceased or revoked).',
  labels: [{ name: 'outcome', values: OUTCOMES }],
  perParty: true,
  // Every outcome of an active party is published, zeros included, so ratios over them always have a denominator.
  wholeRow: true
}

export const ATTRIBUTE_RESULTS: CounterFamily = {
  name: 'idv_verify_attribute_results_total',
  help: 'Per-attribute results of verifications, by attribute and result.',
  labels: [{ name: 'attribute', values: ATTRIBUTES }, { name: 'result', values: RESULTS }]
}

const ATTRIBUTE_INDEX = new Map<string, number>(ATTRIBUTES.map((a, i) => [a, i]))
const RESULT_INDEX = new Map<string, number>(RESULTS.map((r, i) => [r, i]))

/** Records verdicts into the two families (through no-op counters when metrics are off). */
export class OutcomeRecorder {
  readonly #outcomes: Counter
  readonly #attributes: Counter

  constructor (outcomes: Counter, attributes: Counter) {
    this.#outcomes = outcomes
    this.#attributes = attributes
  }

  /** The verdict of one verification (a batch records one per item), for the party slot of the request. */
  record (party: number, o: Pick<VerifyOutcome, 'match' | 'citizen' | 'attributes'>): void {
    this.#outcomes.add(party, o.citizen === 'unknown' ? 2 : o.citizen === 'inactive' ? 3 : o.match ? 0 : 1)
    for (const name in o.attributes) {
      const a = ATTRIBUTE_INDEX.get(name)
      const r = RESULT_INDEX.get(o.attributes[name as keyof typeof o.attributes]!)
      if (a !== undefined && r !== undefined) this.#attributes.add(0, a * RESULTS.length + r)
    }
  }
}
