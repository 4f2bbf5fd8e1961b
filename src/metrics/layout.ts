/**
 * The fixed shape of the shared metrics block: every label value the hot path
 * can record is known at start-up, so a recording is an index computation and
 * one addition into a Float64Array, never a label object or a Map lookup.
 *
 * The shape comes from the catalogue of the capability list (src/capability.ts):
 * the routes capabilities label, and the counter families they declare, in
 * list order, after the families every request has (requests, latency,
 * rejections, in flight, aborts, event-loop delay). Every thread builds the same
 * list and so computes the same offsets; the block carries the layout's id so a
 * thread built from other code refuses to attach.
 *
 * Label cardinality is bounded by construction: routes, statuses, outcomes,
 * reasons and problem codes are closed lists, and relying parties get one of
 * PARTY_SLOTS slots (plus `none` and `other`). No label can carry a PIN, a name
 * or a request id because no label value comes from a request.
 */
import type { Catalogue, CounterFamily } from '../capability.js'
import { errorCodes } from '../errors.js'

/** Statuses the service answers with; anything else is recorded as `other`. */
export const STATUSES = [200, 400, 401, 403, 404, 405, 406, 413, 415, 429, 500, 503] as const
export const STATUS_LABELS: readonly string[] = [...STATUSES.map(String), 'other']
const STATUS_INDEX = new Uint8Array(600).fill(STATUSES.length)
STATUSES.forEach((s, i) => { STATUS_INDEX[s] = i })
export function statusIndex (status: number): number {
  return status >= 0 && status < 600 ? STATUS_INDEX[status]! : STATUSES.length
}

/**
 * Latency bucket upper bounds in seconds: the hot path answers in ~100 µs, a
 * big batch or a chip in tens to hundreds of ms, anything past 1 s is +Inf.
 * Every latency target of bench/slo.json (2, 5, 20, 50, 100, 200, 500 ms) is a
 * bucket bound, so SLO ratios are exact counts, not interpolations
 * (grafana/generate.mjs refuses a target that is not).
 */
export const LATENCY_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1] as const

/**
 * Event-loop delay bucket upper bounds in seconds: how late a server thread's
 * sampling timer (every 75–125 ms) fired. Under 1 ms is timer granularity; 2 and 5 ms
 * matter against the 5 ms p99 target; 50 ms is the alert threshold.
 */
export const LOOP_DELAY_BUCKETS = [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1] as const
/** One cell per bucket, +Inf, then the sum of seconds. */
export const LOOP_DELAY_STRIDE = LOOP_DELAY_BUCKETS.length + 2
/** Per route and party: one cell per bucket, +Inf, then the sum of seconds. */
export const HIST_STRIDE = LATENCY_BUCKETS.length + 2

/** Named relying-party slots; slot 0 is `none` (no authenticated party), slot 1 `other` (table full). */
export const PARTY_SLOTS = 256
export const PARTY_NONE = 0
export const PARTY_OTHER = 1
export const PARTY_COUNT = PARTY_SLOTS + 2
/** Party ids are 1–64 ASCII characters (src/parties/schema.ts). */
export const PARTY_ID_BYTES = 64

/** Cells of one declared family in a stripe: its offset, and how many cells one party's row has. */
export interface FamilyCells {
  readonly family: CounterFamily
  readonly at: number
  readonly row: number
}

export class Layout {
  /** `route` label values (the catalogue's labelled routes, then `other`). */
  readonly routes: readonly string[]
  /** Every problem code the service can answer with (the error registry), plus `other` last. */
  readonly problemCodes: readonly string[]
  readonly requests: number
  readonly latency: number
  readonly rejected: number
  readonly inFlight: number
  readonly aborted: number
  readonly loopDelay: number
  readonly families: ReadonlyMap<CounterFamily, FamilyCells>
  /** Cells per stripe, a multiple of 8 so two threads' stripes never share a cache line. */
  readonly total: number
  /** Changes whenever the shape changes, so stale threads cannot attach. */
  readonly id: number
  readonly #problemIndex: ReadonlyMap<string, number>

  constructor (catalogue: Catalogue) {
    this.routes = catalogue.routes
    this.problemCodes = [...errorCodes().sort(), 'other']
    this.#problemIndex = new Map(this.problemCodes.map((c, i) => [c, i]))
    let at = 0
    const take = (n: number): number => { const start = at; at += n; return start }
    const NR = this.routes.length
    this.requests = take(PARTY_COUNT * NR * STATUS_LABELS.length)
    this.latency = take(PARTY_COUNT * NR * HIST_STRIDE)
    this.rejected = take(PARTY_COUNT * this.problemCodes.length)
    this.inFlight = take(1)
    this.aborted = take(NR)
    this.loopDelay = take(LOOP_DELAY_STRIDE)
    const families = new Map<CounterFamily, FamilyCells>()
    for (const family of catalogue.families) {
      const row = family.labels.reduce((n, l) => n * l.values.length, 1)
      families.set(family, { family, row, at: take(row * (family.perParty === true ? PARTY_COUNT : 1)) })
    }
    this.families = families
    this.total = Math.ceil(at / 8) * 8
    const shape = [this.routes, STATUS_LABELS, LATENCY_BUCKETS, LOOP_DELAY_BUCKETS, this.problemCodes, PARTY_COUNT,
      catalogue.families.map((f) => [f.name, f.perParty === true, f.labels.map((l) => [l.name, l.values])])]
    this.id = [...JSON.stringify(shape)].reduce((h, c) => (Math.imul(h, 31) + c.charCodeAt(0)) | 0, 17)
  }

  requestCell (party: number, route: number, status: number): number {
    return this.requests + (party * this.routes.length + route) * STATUS_LABELS.length + statusIndex(status)
  }

  latencyCell (party: number, route: number): number {
    return this.latency + (party * this.routes.length + route) * HIST_STRIDE
  }

  /** Index of a problem code; an unknown one lands on `other`. */
  problemIndex (code: string): number {
    return this.#problemIndex.get(code) ?? this.problemCodes.length - 1
  }

  cellsOf (family: CounterFamily): FamilyCells {
    const cells = this.families.get(family)
    if (cells === undefined) throw new Error(`metrics family ${family.name} is not declared by any capability in the list`)
    return cells
  }
}
