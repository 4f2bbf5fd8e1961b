/**
 * MetricsRecorder: what the hot path calls. One per thread, writing into that
 * thread's own stripe of the shared block (see shared-block.ts); every method
 * is an index computation and a Float64 addition, with no allocation, no label
 * object and no Promise, so recording costs nanoseconds per request.
 *
 * Parties: `party(id)` maps a relying-party id to a bounded slot once per id
 * and thread (a Map hit afterwards); the slot number is what the hot path keeps.
 */
import type { Catalogue, Counter, CounterFamily } from '../capability.js'
import type { RequestObserver } from '../http/lifecycle.js'
import { LATENCY_BUCKETS, Layout, LOOP_DELAY_BUCKETS, PARTY_COUNT, PARTY_NONE, PARTY_OTHER } from './layout.js'
import { SharedBlock } from './shared-block.js'

const NB = LATENCY_BUCKETS.length
const BOUNDS = Float64Array.from(LATENCY_BUCKETS)
const NL = LOOP_DELAY_BUCKETS.length
const LOOP_BOUNDS = Float64Array.from(LOOP_DELAY_BUCKETS)
/** Party ids cached per thread; beyond this, lookups still work but are not cached. */
const PARTY_CACHE_LIMIT = 4 * PARTY_COUNT

export class MetricsRecorder implements RequestObserver {
  readonly block: SharedBlock
  readonly #cells: Float64Array
  readonly #layout: Layout
  readonly #parties = new Map<string, number>()

  /** Records into its own stripe of `block` (claimed here; one recorder per thread). */
  constructor (block: SharedBlock) {
    this.block = block
    this.#layout = block.layout
    this.#cells = block.claimStripe()
  }

  /** A recorder in another thread, on the block whose `buffer` the main thread passed over, laid out from the same catalogue. */
  static attach (buffer: SharedArrayBuffer, catalogue: Catalogue): MetricsRecorder {
    return new MetricsRecorder(SharedBlock.attach(buffer, new Layout(catalogue)))
  }

  /** The bounded slot for a relying-party id (`none` for undefined). */
  party (id: string | undefined): number {
    if (id === undefined) return PARTY_NONE
    const cached = this.#parties.get(id)
    if (cached !== undefined) return cached
    const slot = this.block.findOrClaimParty(id, PARTY_OTHER + 1, PARTY_OTHER)
    if (this.#parties.size < PARTY_CACHE_LIMIT) this.#parties.set(id, slot)
    return slot
  }

  /** One answered request: its status, and its latency into the route's histogram. */
  request (route: number, party: number, status: number, seconds: number): void {
    const c = this.#cells
    const layout = this.#layout
    c[layout.requestCell(party, route, status)]! += 1
    const h = layout.latencyCell(party, route)
    let b = 0
    while (b < NB && seconds > BOUNDS[b]!) b++
    c[h + b]! += 1
    c[h + NB + 1]! += seconds
  }

  /** A request answered with a problem (any 4xx/5xx), by its stable code. */
  rejected (party: number, code: string): void {
    const layout = this.#layout
    this.#cells[layout.rejected + party * layout.problemCodes.length + layout.problemIndex(code)]! += 1
  }

  /** A request whose client went away before the answer. */
  aborted (route: number): void {
    this.#cells[this.#layout.aborted + route]! += 1
  }

  /** The hot path's handle on a family some capability declared: an index computation and an addition. */
  counter (family: CounterFamily): Counter {
    const { at, row } = this.#layout.cellsOf(family)
    const cells = this.#cells
    if (family.perParty === true) return { add (party, index, n = 1) { cells[at + party * row + index]! += n } }
    return { add (_party, index, n = 1) { cells[at + index]! += n } }
  }

  /** Requests accepted and not yet answered, summed over threads on scrape. */
  inFlight (delta: 1 | -1): void {
    this.#cells[this.#layout.inFlight]! += delta
  }

  /** How late this thread's event loop ran a timer, into the thread's delay histogram. */
  loopDelay (seconds: number): void {
    const c = this.#cells
    let b = 0
    while (b < NL && seconds > LOOP_BOUNDS[b]!) b++
    const at = this.#layout.loopDelay
    c[at + b]! += 1
    c[at + NL + 1]! += seconds
  }

  /**
   * Samples this thread's event-loop delay: a timer every 75–125 ms (jittered,
   * so periodic work of the same period cannot hide in the gaps), and how late
   * it fired. Not perf_hooks.monitorEventLoopDelay, whose figures include its
   * own sampling interval (prom-client's nodejs_eventloop_lag_* read 0.1 s on
   * an idle server at a 100 ms resolution). Returns the stop function.
   */
  watchEventLoop (meanIntervalMs = 100): () => void {
    let timer: NodeJS.Timeout
    const arm = (): void => {
      const delay = meanIntervalMs * (0.75 + Math.random() / 2)
      const due = performance.now() + delay
      timer = setTimeout(() => {
        this.loopDelay(Math.max(0, performance.now() - due) / 1000)
        arm()
      }, delay)
      timer.unref()
    }
    arm()
    return () => { clearTimeout(timer) }
  }
}
