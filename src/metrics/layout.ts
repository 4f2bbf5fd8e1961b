/**
 * The fixed shape of the shared metrics block: every label value the hot path
 * can record is known here, at start-up, so a recording is an index computation
 * and one addition into a Float64Array, never a label object or a Map lookup.
 *
 * Every thread imports this same module and so computes the same offsets; the
 * block carries LAYOUT_ID so a thread built from other code refuses to attach.
 *
 * Label cardinality is bounded by construction: routes, statuses, outcomes,
 * reasons and problem codes are closed lists, and relying parties get one of
 * PARTY_SLOTS slots (plus `none` and `other`). No label can carry a PIN, a name
 * or a request id because no label value comes from a request.
 */
import { REASONS } from '../chip/reasons.js'
import { ATTRIBUTES } from '../domain/record.js'
import { ERROR_CODES } from '../errors.js'

/** Route label values; requests to any other path (404/405) count as `other`. */
export const ROUTES = ['/v1/verify', '/v1/verify/batch', '/v1/chip/verify', 'other'] as const
export const Route = { verify: 0, verifyBatch: 1, chipVerify: 2, other: 3 } as const
export type RouteIndex = typeof Route[keyof typeof Route]

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

export const VERIFY_OUTCOMES = ['match', 'mismatch', 'unknown', 'inactive'] as const
export type VerifyOutcomeLabel = typeof VERIFY_OUTCOMES[number]
export const VerifyOutcome = { match: 0, mismatch: 1, unknown: 2, inactive: 3 } as const

export { ATTRIBUTES }
export const ATTRIBUTE_RESULTS = ['match', 'match_without_diacritics', 'mismatch'] as const

/** `valid` first, then every chip reason code in its published order. */
export const CHIP_OUTCOMES: readonly string[] = ['valid', ...Object.values(REASONS)]
const CHIP_INDEX = new Map(CHIP_OUTCOMES.map((r, i) => [r, i]))
/** Index of a chip outcome; an unknown reason (a newer worker) lands on the last slot, `other`. */
export function chipOutcomeIndex (reason: string | undefined): number {
  return reason === undefined ? 0 : CHIP_INDEX.get(reason) ?? CHIP_OUTCOMES.length
}

/** Every problem code the service can answer with, plus `other`. */
export const PROBLEM_CODES: readonly string[] = Object.keys(ERROR_CODES).sort()
const PROBLEM_INDEX = new Map(PROBLEM_CODES.map((c, i) => [c, i]))
export function problemIndex (code: string): number {
  return PROBLEM_INDEX.get(code) ?? PROBLEM_CODES.length
}

/** Named relying-party slots; slot 0 is `none` (no authenticated party), slot 1 `other` (table full). */
export const PARTY_SLOTS = 256
export const PARTY_NONE = 0
export const PARTY_OTHER = 1
export const PARTY_COUNT = PARTY_SLOTS + 2
/** Party ids are 1–64 ASCII characters (src/auth/party-schema.ts). */
export const PARTY_ID_BYTES = 64

const NR = ROUTES.length
const NS = STATUS_LABELS.length
/** Per route and party: one cell per bucket, +Inf, then the sum of seconds. */
export const HIST_STRIDE = LATENCY_BUCKETS.length + 2

/** Offsets of each family inside one thread's stripe of Float64 cells. */
export const Cells = (() => {
  let at = 0
  const take = (n: number): number => { const start = at; at += n; return start }
  const requests = take(PARTY_COUNT * NR * NS)
  const latency = take(PARTY_COUNT * NR * HIST_STRIDE)
  const outcomes = take(PARTY_COUNT * VERIFY_OUTCOMES.length)
  const rejected = take(PARTY_COUNT * (PROBLEM_CODES.length + 1))
  const attributes = take(ATTRIBUTES.length * ATTRIBUTE_RESULTS.length)
  const chip = take(CHIP_OUTCOMES.length + 1)
  const inFlight = take(1)
  const aborted = take(NR)
  const loopDelay = take(LOOP_DELAY_STRIDE)
  // Round up to 8 cells (64 bytes) so two threads' stripes never share a cache line.
  const total = Math.ceil(at / 8) * 8
  return { requests, latency, outcomes, rejected, attributes, chip, inFlight, aborted, loopDelay, total } as const
})()

export function requestCell (party: number, route: number, status: number): number {
  return Cells.requests + (party * NR + route) * NS + statusIndex(status)
}

export function latencyCell (party: number, route: number): number {
  return Cells.latency + (party * NR + route) * HIST_STRIDE
}

/** Changes whenever the shape above changes, so stale threads cannot attach. */
export const LAYOUT_ID = [...JSON.stringify([ROUTES, STATUS_LABELS, LATENCY_BUCKETS, LOOP_DELAY_BUCKETS, VERIFY_OUTCOMES, PROBLEM_CODES, ATTRIBUTES, ATTRIBUTE_RESULTS, CHIP_OUTCOMES, PARTY_COUNT])]
  .reduce((h, c) => (Math.imul(h, 31) + c.charCodeAt(0)) | 0, 17)
