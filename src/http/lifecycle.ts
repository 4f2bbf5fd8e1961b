/**
 * Serving state shared by the routes: ready (accepting), draining (finishing
 * what was accepted), stopped. Counts requests from the handler to their answer
 * or abort, so shutdown can wait for them instead of cutting them off.
 *
 * It is also where a request is observed: `track(res, route, requestId)` at the
 * top of a handler ties a RequestScope to the uWS response, and src/http/respond.ts
 * calls `noteResponse` whenever it writes an answer, so every status a route
 * sends (early refusals included) is recorded once, with its latency, route and
 * relying party, by the observer (the metrics capability) and in the sampled
 * access log, without each call site having to report it.
 *
 * Routes are numbers: the index of their `route` label in the list the
 * capabilities declared (src/capability.ts Catalogue); the last is `other`.
 */
import type { HttpResponse } from 'uWebSockets.js'
import type { AccessLog } from '../log.js'

/** Who records requests (the metrics capability); every call is on the hot path. */
export interface RequestObserver {
  /** The bounded slot of a relying party (0: none). */
  party: (id: string | undefined) => number
  request: (route: number, party: number, status: number, seconds: number) => void
  rejected: (party: number, code: string) => void
  inFlight: (delta: 1 | -1) => void
  aborted: (route: number) => void
}

export interface LifecycleObservers {
  /** Undefined when metrics are off (IDV_METRICS=off). */
  metrics?: RequestObserver | undefined
  readonly accessLog?: AccessLog | undefined
}

/** Why a service is not ready before it serves and while it drains. */
export const NOT_SERVING = 'the store is not open or the service is draining'

/** The party slot of a request no party signed. */
export const NO_PARTY = 0

const kScope = Symbol('idv.requestScope')
type Tracked = HttpResponse & { [kScope]?: RequestScope }

/** One request as observed: route, relying party, start time, and whether its answer was recorded. */
export class RequestScope {
  readonly route: number
  readonly requestId: string | undefined
  readonly #start: number
  readonly #observers: LifecycleObservers
  readonly #routes: readonly string[]
  /** Party slot for metrics labels (NO_PARTY until the route sets the party). */
  party = NO_PARTY
  partyId: string | undefined
  /** The status answered, 0 until then. */
  status = 0

  constructor (route: number, requestId: string | undefined, observers: LifecycleObservers, routes: readonly string[]) {
    this.route = route
    this.requestId = requestId
    this.#observers = observers
    this.#routes = routes
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
    this.#observers.accessLog?.request(this.requestId, this.partyId, this.#routes[this.route] ?? 'other', status, ms)
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
  /** `route` label values by route number; the last is `other`, for unknown paths and wrong methods. */
  readonly routes: readonly string[]
  #inFlight = 0
  #idle: (() => void) | undefined
  readonly #checks: Array<() => string | undefined> = []

  constructor (observers: LifecycleObservers = {}, routes: readonly string[] = ['other']) {
    this.observers = observers
    this.routes = routes
  }

  /** Adds a condition of readiness a capability owns: it returns why the service cannot answer now (the audit log cannot be written), or undefined. */
  addReadinessCheck (check: () => string | undefined): void {
    this.#checks.push(check)
  }

  /** Why GET /readyz answers 503: not ready (starting, draining), or the first failing check; undefined when ready. */
  notReady (): string | undefined {
    if (!this.ready) return NOT_SERVING
    for (const check of this.#checks) {
      const why = check()
      if (why !== undefined) return why
    }
    return undefined
  }

  /** The route number of a label value; unknown ones are `other`. */
  route (label: string): number {
    const i = this.routes.indexOf(label)
    return i < 0 ? this.routes.length - 1 : i
  }

  /** The route number of unknown paths and wrong methods. */
  get otherRoute (): number {
    return this.routes.length - 1
  }

  /** Sets who records requests (the metrics capability, once per thread). */
  observe (observer: RequestObserver): void {
    this.observers.metrics = observer
  }

  get inFlight (): number {
    return this.#inFlight
  }

  /** Starts observing a request; call at the top of the handler, before any answer. */
  track (res: HttpResponse, route: number, requestId?: string): RequestScope {
    const scope = new RequestScope(route, requestId, this.observers, this.routes)
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

