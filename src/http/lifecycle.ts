/**
 * Serving state shared by the routes: ready (accepting), draining (finishing
 * what was accepted), stopped. Counts requests from the handler to their answer
 * or abort, so shutdown can wait for them instead of cutting them off.
 *
 * It is also where a request is observed: `track(res, route, requestId)` at the
 * top of a handler ties a RequestScope to the uWS response, and src/http/respond.ts
 * calls `noteResponse` whenever it writes an answer, so every status a route
 * sends (early refusals included) is recorded once, with its latency, route and
 * relying party, into the metrics block and the sampled access log, without
 * each call site having to report it.
 */
import type { HttpResponse } from 'uWebSockets.js'
import type { AccessLog } from '../log.js'
import { PARTY_NONE, ROUTES, Route, type RouteIndex } from '../metrics/layout.js'
import type { MetricsRecorder } from '../metrics/recorder.js'

export interface LifecycleObservers {
  /** Undefined when metrics are off (IDV_METRICS=off). */
  readonly metrics?: MetricsRecorder | undefined
  readonly accessLog?: AccessLog | undefined
}

const kScope = Symbol('idv.requestScope')
type Tracked = HttpResponse & { [kScope]?: RequestScope }

/** One request as observed: route, relying party, start time, and whether its answer was recorded. */
export class RequestScope {
  readonly route: RouteIndex
  readonly requestId: string | undefined
  readonly #start: number
  readonly #observers: LifecycleObservers
  /** Party slot for metrics labels (PARTY_NONE until the route sets the party). */
  party = PARTY_NONE
  partyId: string | undefined
  /** The status answered, 0 until then. */
  status = 0

  constructor (route: RouteIndex, requestId: string | undefined, observers: LifecycleObservers) {
    this.route = route
    this.requestId = requestId
    this.#observers = observers
    this.#start = performance.now()
  }

  /** Names the authenticated relying party (its id, from the party registry). */
  setParty (id: string): void {
    this.partyId = id
    if (this.#observers.metrics !== undefined) this.party = this.#observers.metrics.party(id)
  }

  /** Records the answer; later calls (a second write attempt) are ignored. */
  answered (status: number, code: string | undefined): void {
    if (this.status !== 0) return
    this.status = status
    const ms = performance.now() - this.#start
    const m = this.#observers.metrics
    if (m !== undefined) {
      m.request(this.route, this.party, status, ms / 1000)
      if (code !== undefined) m.rejected(this.party, code)
    }
    this.#observers.accessLog?.request(this.requestId, this.partyId, ROUTES[this.route]!, status, ms)
  }

  /** The verdict of one verification (a batch calls it per item). */
  verifyOutcome (match: boolean, citizen: 'active' | 'inactive' | 'unknown', attributes: Readonly<Record<string, string | undefined>>): void {
    const m = this.#observers.metrics
    if (m === undefined) return
    m.verifyOutcome(this.party, match, citizen)
    m.attributes(attributes)
  }

  /** A chip verdict: valid (reason undefined) or its reason code. */
  chipOutcome (reason: string | undefined): void {
    this.#observers.metrics?.chipOutcome(reason)
  }
}

/** Called by respond.ts for every answer written: records it on the request's scope, if tracked. */
export function noteResponse (res: HttpResponse, status: number, code?: string): void {
  const scope = (res as Tracked)[kScope]
  if (scope !== undefined) scope.answered(status, code)
}

export class Lifecycle {
  /** New requests are accepted only while ready. */
  ready = false
  /** Past the drain deadline: accepted requests still unanswered get 503. */
  stopped = false
  readonly observers: LifecycleObservers
  #inFlight = 0
  #idle: (() => void) | undefined

  constructor (observers: LifecycleObservers = {}) {
    this.observers = observers
  }

  get inFlight (): number {
    return this.#inFlight
  }

  /** Starts observing a request; call at the top of the handler, before any answer. */
  track (res: HttpResponse, route: RouteIndex, requestId?: string): RequestScope {
    const scope = new RequestScope(route, requestId, this.observers)
    ;(res as Tracked)[kScope] = scope
    return scope
  }

  /**
   * Marks a request accepted; returns its `end`, which is safe to call more
   * than once. With a scope, a request that ends unanswered counts as aborted.
   */
  begin (scope?: RequestScope): () => void {
    this.#inFlight++
    const metrics = this.observers.metrics
    metrics?.inFlight(1)
    let ended = false
    return () => {
      if (ended) return
      ended = true
      metrics?.inFlight(-1)
      if (scope !== undefined && scope.status === 0) metrics?.aborted(scope.route)
      if (--this.#inFlight === 0) this.#idle?.()
    }
  }

  /** Stops accepting and waits (at most timeoutMs) for accepted requests; true when all finished. */
  async drain (timeoutMs: number): Promise<boolean> {
    this.ready = false
    if (this.#inFlight > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, timeoutMs)
        this.#idle = () => { clearTimeout(timer); resolve() }
      })
    }
    this.#idle = undefined
    this.stopped = true
    return this.#inFlight === 0
  }
}

export { Route }
