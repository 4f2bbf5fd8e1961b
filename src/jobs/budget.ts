/**
 * A party's rate budget, counted in rows: a stream or a job takes tokens from
 * the party's shared bucket (and units from its daily quota) in blocks of up
 * to its burst, then spends them row by row, so the shared lock is taken once
 * per block, not per row. Over the rate the caller waits (the stream stops
 * reading, the job pauses): operators work "within their agreed rate" rather
 * than being refused; over the daily quota the caller stops.
 */
import type { Admission } from '../admission/index.js'
import type { Party } from '../parties/registry.js'
import { ServiceError } from '../errors.js'

/** Rows that may go now, a wait (ms) before asking again, or the refusal that ends the work. */
export type Grant = { readonly rows: number } | { readonly waitMs: number } | { readonly stop: ServiceError }

const BLOCK = 1024

export class RowBudget {
  readonly #admission: Admission | undefined
  readonly #party: Party | undefined
  #credit = 0

  /** Without admission (IDV_AUTH=none) every row goes. */
  constructor (admission: Admission | undefined, party: Party | undefined) {
    this.#admission = admission
    this.#party = party
  }

  grant (want: number): Grant {
    const party = this.#party
    if (this.#admission === undefined || party === undefined) return { rows: want }
    if (this.#credit === 0) {
      const block = Math.max(1, Math.min(BLOCK, party.rate.burst, want))
      const d = this.#admission.takeRows(party, block)
      if (!d.ok) {
        if (d.code === 'IDV_ERR_QUOTA_EXCEEDED') return { stop: new ServiceError(d.code, d.detail, d.retryAfterSeconds) }
        // The bucket refills continuously: wait for this block's worth, not Retry-After's whole seconds.
        return { waitMs: Math.max(1, Math.ceil(block * 1000 / party.rate.perSecond)) }
      }
      this.#credit = block
    }
    const rows = Math.min(want, this.#credit)
    this.#credit -= rows
    return { rows }
  }
}
