/**
 * Admission in front of every /v1 route: who is asking (an RFC 9421 signature
 * by a registered key, fresh and not replayed), may they ask this (endpoint,
 * attributes, batch size) and may they ask now (rate and daily quota).
 *
 * One Admission per server thread. The party registry is read by each thread from the
 * file (and re-read when it changes); the nonce memory and the rate buckets live
 * in SharedArrayBuffers that every thread of the process attaches to or, in
 * cluster mode, in an LMDB environment every process opens (cluster-state.ts),
 * so a replay or a burst is caught whichever thread or process it reaches.
 *
 * Failures are thrown as ServiceErrors (401/403/429/503 with stable codes), so a
 * route handles them like any other bad request.
 */
import type { HttpRequest } from 'uWebSockets.js'
import { ServiceError } from '../errors.js'
import type { Logger } from '../log.js'
import type { Failure } from '../errors.js'
import { nonceRefusal, RequestVerifier, SIGNATURE_MISSING_DETAIL, type NonceMemory, type SignedRequestInput } from '../signatures/message-signature.js'
import { PartyFileError, PartyRegistry, type Party } from '../parties/registry.js'
import { authorize, type PolicyRequest } from '../parties/policy.js'
import { ClusterState } from './cluster-state.js'
import { RateLimiter, type RateDecision, type RateLimiterHandle } from './rate-limiter.js'
import { ReplayGuard, type RememberResult, type ReplayGuardHandle } from './replay-guard.js'
import { ConfigError } from '../errors.js'

export interface AdmissionOptions {
  readonly partiesFile: string
  readonly windowSeconds: number
  readonly nonceSlots: number
  /** Cluster mode: the LMDB environment every process of the node shares; absent: SharedArrayBuffers for this process's threads. */
  readonly nodeStatePath?: string | undefined
  readonly log: Logger
}

/** What another thread needs to share this gate's nonce memory and rate buckets (in cluster mode each thread opens the path itself). */
export type AdmissionHandle =
  | { readonly replay: ReplayGuardHandle, readonly rate: RateLimiterHandle }
  | { readonly nodeStatePath: string }

/** A party whose request verified, with the nonce it signed. */
export interface Caller {
  readonly party: Party
  readonly nonce: string
  readonly nonceExpiresAt: number
}

/**
 * Where a gate keeps nonces and rate buckets. Threads (SharedArrayBuffers): the
 * verifier remembers the nonce, `admit` takes from the bucket. Cluster (LMDB):
 * `admit` does both in one transaction, so the nonce is remembered after the
 * policy check; a replay of a refused request is refused either way.
 */
interface SharedState {
  /** For the verifier; absent when `admit` remembers nonces itself. */
  readonly nonces: NonceMemory | undefined
  admit (caller: Caller, quota: number): Exclude<RememberResult, 'fresh'> | RateDecision
  /** Takes `rows` tokens and quota units at once (streamed rows), both or neither. */
  take (party: Party, rows: number): RateDecision
  readonly handle: AdmissionHandle
  close (): void
}

/**
 * A check beyond this node, after its own gate admitted a request (a fleet's
 * shared nonces and quota: src/fleet-security). Asynchronous: it answers
 * `done(undefined)` to admit or `done(refusal)`, exactly once, never throwing.
 */
export interface FleetCheck {
  check (caller: Caller, quota: number, done: (refusal: ServiceError | undefined) => void): void
}

/** What the signature check needs of a request, copied out of uWS before the handler returns. */
export interface CapturedRequest {
  readonly method: string
  readonly path: string
  readonly authority: string
  readonly headers: ReadonlyMap<string, string>
}

export class Admission {
  readonly #registry: PartyRegistry
  readonly #verifier: RequestVerifier
  readonly #state: SharedState
  #fleet: FleetCheck | undefined

  private constructor (options: AdmissionOptions, state: SharedState) {
    this.#registry = loadRegistry(options.partiesFile)
    this.#state = state
    this.#verifier = new RequestVerifier({ resolveKey: this.#registry.resolveKey, nonces: state.nonces, windowSeconds: options.windowSeconds })
    this.#registry.watch((result) => {
      if (result.ok) options.log.info({ parties: result.parties }, 'relying-party registry reloaded')
      else options.log.error({ problems: result.problems }, 'relying-party registry not reloaded: the file is invalid, the previous registry stays in force')
    })
  }

  /** Fresh shared state for a process's threads to attach to (the node's LMDB environment in cluster mode). */
  static createState (options: Pick<AdmissionOptions, 'nonceSlots' | 'nodeStatePath'>): AdmissionHandle {
    if (options.nodeStatePath !== undefined) return { nodeStatePath: options.nodeStatePath }
    return { replay: ReplayGuard.create({ slots: options.nonceSlots }).shareHandle(), rate: RateLimiter.create().shareHandle() }
  }

  /** An Admission with fresh shared state (the first thread), or the node's (cluster mode). */
  static create (options: AdmissionOptions): Admission {
    if (options.nodeStatePath !== undefined) return Admission.attach(options, { nodeStatePath: options.nodeStatePath })
    return new Admission(options, threadState(ReplayGuard.create({ slots: options.nonceSlots }), RateLimiter.create()))
  }

  /** An Admission sharing another's nonce memory and rate buckets (further threads). */
  static attach (options: AdmissionOptions, handle: AdmissionHandle): Admission {
    if ('nodeStatePath' in handle) return new Admission(options, nodeState(handle.nodeStatePath, options.nonceSlots))
    return new Admission(options, threadState(ReplayGuard.fromHandle(handle.replay), RateLimiter.fromHandle(handle.rate)))
  }

  shareHandle (): AdmissionHandle {
    return this.#state.handle
  }

  /** Copies what the signature may cover; call inside the uWS handler (HttpRequest dies when it returns). */
  capture (req: HttpRequest): CapturedRequest {
    const headers = new Map<string, string>()
    // uWS gives lowercase names; repeated fields are joined as RFC 9421 §2.1 says.
    req.forEach((name, value) => {
      const seen = headers.get(name)
      headers.set(name, seen === undefined ? value : `${seen}, ${value}`)
    })
    const query = req.getQuery()
    return {
      method: req.getMethod().toUpperCase(),
      path: query === undefined || query === '' ? req.getUrl() : `${req.getUrl()}?${query}`,
      authority: headers.get('host') ?? '',
      headers
    }
  }

  /**
   * The 401 for a request that carries no signature at all, known from its
   * headers alone: a route answers it before reading the body (and before any
   * 400, 406, 415 or 503 about the route), so a stranger learns nothing of it.
   */
  unsigned (captured: CapturedRequest): ServiceError | undefined {
    if (captured.headers.has('signature-input') && captured.headers.has('signature')) return undefined
    return new ServiceError('IDV_ERR_SIGNATURE_MISSING', SIGNATURE_MISSING_DETAIL)
  }

  /** The party that signed the request; throws 401 (or 403 for a disabled party, 503 when nonce memory is full). */
  authenticate (captured: CapturedRequest, body: Uint8Array): Caller {
    const input: SignedRequestInput = {
      method: captured.method,
      path: captured.path,
      authority: captured.authority,
      scheme: 'http',
      headers: (name) => captured.headers.get(name),
      body
    }
    const result = this.#verifier.verify(input)
    if (!result.ok) throw rejection(result)
    const party = this.#registry.get(result.partyId)
    if (party === undefined) throw new ServiceError('IDV_ERR_UNKNOWN_KEY', 'the key\'s party was removed') // a reload raced this request
    return { party, nonce: result.nonce, nonceExpiresAt: result.nonceExpiresAt }
  }

  /** Checks the party may ask this, then takes one request from its rate and `quota` units from its daily quota. */
  admit (caller: Caller, request: PolicyRequest, quota = 1): void {
    const allowed = authorize(caller.party, request)
    if (!allowed.ok) throw rejection(allowed)
    const decision = this.#state.admit(caller, quota)
    if (typeof decision === 'string') throw rejection(nonceRefusal(decision))
    if (!decision.ok) throw new ServiceError(decision.code, decision.detail, decision.retryAfterSeconds)
  }

  /**
   * `admit`, then the fleet's check when the node runs one (useFleetCheck),
   * then `next`. A refusal by this node throws, as `admit` does; the fleet's
   * arrives through `fail`, as does anything `next` throws once called later.
   * Without a fleet check `next` runs at once, inside the caller's uWS callback
   * (still corked); with one it runs after a NATS round trip, so the route must
   * already write through `res.cork` and have its onAborted in place.
   */
  admitted (caller: Caller, request: PolicyRequest, quota: number, next: () => void, fail: (err: unknown) => void): void {
    this.admit(caller, request, quota)
    this.fleetChecked(caller, quota, next, fail)
  }

  /**
   * The fleet's part of `admitted` alone, for a route that ran `admit` itself
   * (a stream's or job's head: its rows draw on the quota as they go).
   */
  fleetChecked (caller: Caller, quota: number, next: () => void, fail: (err: unknown) => void): void {
    const fleet = this.#fleet
    if (fleet === undefined) { next(); return }
    fleet.check(caller, quota, (refusal) => {
      if (refusal !== undefined) { fail(refusal); return }
      try {
        next()
      } catch (err) {
        fail(err)
      }
    })
  }

  /** Installs the fleet-wide check `admitted` runs after this node's (one per gate; src/fleet-security). */
  useFleetCheck (check: FleetCheck): void {
    this.#fleet = check
  }

  /**
   * Counts streamed rows against the party's budget: `rows` tokens from its
   * rate bucket and `rows` units of its daily quota, both or neither. A refusal
   * is a value (the stream waits for the bucket to refill, or ends on quota).
   */
  takeRows (party: Party, rows: number): RateDecision {
    return this.#state.take(party, rows)
  }

  /** The party as the registry holds it now (undefined once removed): a job runs under its creator's current policy. */
  party (id: string): Party | undefined {
    return this.#registry.get(id)
  }

  /** Re-reads the registry now (SIGHUP); a broken file keeps the previous one. */
  reload (): ReturnType<PartyRegistry['reload']> {
    return this.#registry.reload()
  }

  close (): void {
    this.#registry.close()
    this.#state.close()
  }
}

function threadState (replay: ReplayGuard, rate: RateLimiter): SharedState {
  return {
    nonces: replay,
    admit: (caller, quota) => rate.consume(caller.party.id, caller.party.rate, { quota }),
    take: (party, rows) => rate.consume(party.id, party.rate, { tokens: rows, quota: rows }),
    handle: { replay: replay.shareHandle(), rate: rate.shareHandle() },
    close: () => {}
  }
}

function nodeState (path: string, slots: number): SharedState {
  const state = ClusterState.open(path, { slots })
  return {
    nonces: undefined,
    admit: (caller, quota) => state.rememberAndConsume(caller.party.id, caller.nonce, caller.nonceExpiresAt, caller.party.rate, { quota }),
    take: (party, rows) => state.consume(party.id, party.rate, { tokens: rows, quota: rows }),
    handle: { nodeStatePath: path },
    // lmdb-js shares one environment per path within a process; closing it as the thread stops is enough.
    close: () => { void state.close() }
  }
}

function rejection (failure: Failure): ServiceError {
  // Nonce memory full is transient: the window slides and frees slots within a second.
  return new ServiceError(failure.code, failure.detail, failure.code === 'IDV_ERR_REPLAY_CAPACITY' ? 1 : undefined)
}

function loadRegistry (file: string): PartyRegistry {
  try {
    return PartyRegistry.load(file)
  } catch (err) {
    if (err instanceof PartyFileError) {
      throw new ConfigError([`${err.message}\n  (create one with \`idv party add\`, or set IDV_AUTH=none for local experiments on loopback)`])
    }
    throw err
  }
}
