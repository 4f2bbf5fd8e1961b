/**
 * The capability seam: how a feature plugs into the process without the
 * process wiring knowing its name. A capability is one folder under src/ whose
 * index.ts exports one `Capability`; src/app/capabilities.ts lists them, and
 * that list is the only place the app layer names them.
 *
 * Lifecycle (the model is fastify's plugin lifecycle: each plugin owns its
 * setup and its teardown, torn down in reverse order of registration):
 *
 *   process(ctx)        main thread, once per process, in list order: make
 *                       what the server threads share (a worker pool, a
 *                       SharedArrayBuffer, a file of cluster state)
 *   thread(ctx, shared) every server thread, the main thread's included, in
 *                       list order: attach to what the process shares,
 *                       register routes, offer services to later capabilities
 *   serving(info)       main thread, once the public port listens (a metrics
 *                       port, say, that reports on it)
 *   reload()            SIGHUP: threads' parts, then the process parts
 *   close()             reverse list order: every thread's parts once it has
 *                       drained, then the process parts once all threads have
 *   supervise(ctx)      cluster mode only, in the supervisor process, which
 *                       serves nothing: look after what the members share
 *
 * A server thread gets its share through structured clone: `share()` runs once
 * per thread and may hand over MessagePorts (listed in `transfer`); the main
 * thread gets `local` instead, which may hold live objects.
 *
 * Metrics: the counter families a capability records into are declared on it
 * (`metrics`), and its labelled routes (`routes`), so the shared metrics block
 * is laid out from the list, the same in every thread; recording goes through
 * `ctx.counter(family)`, a no-op when metrics are off.
 */
import type { TransferListItem } from 'node:worker_threads'
import type { TemplatedApp } from 'uWebSockets.js'
import type { Config } from './config.js'
import type { Lifecycle } from './http/lifecycle.js'
import type { RequestIds } from './http/request-id.js'
import type { Logger } from './log.js'
import type { StorageCore } from './store/types.js'

/** A typed name for a service one capability offers another (fastify's decorators, typed). */
export interface ServiceKey<T> {
  readonly name: string
  /** Never set: carries the service's type. */
  readonly type?: T
}

export function serviceKey<T> (name: string): ServiceKey<T> {
  return { name }
}

/** Services offered by the capabilities before this one, in this thread or process. */
export interface Services {
  provide: <T>(key: ServiceKey<T>, value: T) => void
  /** The service, or undefined when no capability offers it (turned off by configuration). */
  use: <T>(key: ServiceKey<T>) => T | undefined
}

/** A counter family: one cell per combination of label values (times the party slots when `perParty`). */
export interface CounterFamily {
  /** Prometheus name, `idv_…_total`. */
  readonly name: string
  readonly help: string
  /** Labels and their closed lists of values (every value a request can cause is known at start). */
  readonly labels: ReadonlyArray<{ readonly name: string, readonly values: readonly string[] }>
  /** Also labelled by relying party (`party`: a bounded slot, recorded by the caller). */
  readonly perParty?: boolean
  /** Publish a party's whole row, zeros included, once any of its cells counts (ratios then always have a denominator). */
  readonly wholeRow?: boolean
  /** Cells published even at zero, so a series exists before the first event. */
  readonly alwaysPublished?: readonly number[]
}

/** One sample of a family computed on scrape. */
export interface Sample {
  readonly labels: Record<string, string | number>
  readonly value: number
  /** For histogram and summary parts (`_bucket`, `_sum`, `_count`). */
  readonly metricName?: string
}

/** A family computed when Prometheus scrapes: point-in-time values a capability owns (a pool's queue, say). */
export interface ScrapeFamily {
  readonly name: string
  readonly help: string
  readonly type: 'counter' | 'gauge' | 'histogram' | 'summary'
  values: () => Sample[] | Promise<Sample[]>
}

/** The process service of a metrics implementation that publishes scrape-time families. */
export interface ScrapeSource { add: (family: ScrapeFamily) => void }
export const SCRAPE = serviceKey<ScrapeSource>('scrape')

/** The hot path's handle on a counter family: an index computation and an addition. */
export interface Counter {
  /**
   * Adds `n` (default 1) to the cell of `party` (ignored unless perParty) and
   * `index`, the mixed-radix index of the label values (first label most significant).
   */
  add: (party: number, index: number, n?: number) => void
}

export const NO_COUNTER: Counter = Object.freeze({ add () {} })

/** What every capability declared, in list order: the layout of the metrics block. */
export interface Catalogue {
  /** `route` label values: every labelled route, then `other`. */
  readonly routes: readonly string[]
  readonly families: readonly CounterFamily[]
}

/** The service a metrics implementation offers: counters for declared families. */
export interface CounterSource { counter: (family: CounterFamily) => Counter }
export const COUNTERS = serviceKey<CounterSource>('counters')

export interface ProcessContext extends Services {
  readonly config: Config
  readonly log: Logger
  readonly store: StorageCore
  readonly hashKey: Uint8Array
  readonly catalogue: Catalogue
}

/** What one server thread receives of a process part. */
export interface Share<S> {
  readonly value: S
  readonly transfer?: readonly TransferListItem[]
}

export interface ProcessPart<S> {
  /** What the main thread's server uses. */
  readonly local?: S
  /** What one more server thread receives (structured-cloneable; called once per thread). */
  share?: () => Share<S>
  /** Once the public port listens; what it resolves with joins the `serving` log line (a metrics port, say). */
  serving?: (info: ServingInfo) => Promise<Record<string, unknown> | undefined> | Record<string, unknown> | undefined
  reload?: () => void
  close?: () => Promise<void> | void
}

export interface ServingInfo {
  /** The public port, once listening. */
  readonly port: number
  /** The main thread's serving state (readiness for probes). */
  readonly lifecycle: Lifecycle
}

export interface ThreadContext extends Services {
  readonly config: Config
  readonly log: Logger
  readonly store: StorageCore
  readonly hashKey: Uint8Array
  readonly app: TemplatedApp
  readonly lifecycle: Lifecycle
  readonly ids: RequestIds
  /** Whether this is the main thread's server (which owns the process parts). */
  readonly main: boolean
  readonly catalogue: Catalogue
  /** The metrics label index of a route a capability declared. */
  route: (path: string) => number
  /** A recorder for a counter family a capability declared (a no-op one when metrics are off). */
  counter: (family: CounterFamily) => Counter
}

export interface ThreadPart {
  reload?: () => void
  close?: () => Promise<void> | void
}

/** A route as the app must know it: for the metrics `route` label and the 405 answers (Allow). */
export interface RouteSpec {
  readonly method: 'GET' | 'POST' | 'DELETE' | 'PUT'
  readonly path: string
  /** Recorded under its own `route` label value (the /v1 routes); others count as `other`. */
  readonly labelled?: boolean
}

/** Cluster mode's supervisor (src/app/cluster.ts): serves nothing, looks after what its members share. */
export interface SuperviseContext {
  readonly config: Config
  readonly log: Logger
}

export interface SupervisePart {
  close?: () => Promise<void> | void
}

export interface Capability<S = undefined> {
  readonly name: string
  readonly routes?: readonly RouteSpec[]
  /** Counter families this capability records into (the metrics block is laid out from every capability's). */
  readonly metrics?: readonly CounterFamily[]
  process?: (ctx: ProcessContext) => Promise<ProcessPart<S>> | ProcessPart<S>
  thread?: (ctx: ThreadContext, shared: S | undefined) => Promise<ThreadPart | undefined> | ThreadPart | undefined
  /** In cluster mode's supervisor, while the members run (sweeping state they share, say); closed in reverse order. */
  supervise?: (ctx: SuperviseContext) => SupervisePart | undefined
}

/** A list of capabilities of any shared type (each checks its own). */
export type AnyCapability = Capability<any> // eslint-disable-line @typescript-eslint/no-explicit-any
