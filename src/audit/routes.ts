/**
 * The audit log's routes.
 *
 * Public, like GET /v1/keys (a checkpoint is meant to be checked by anyone
 * with the public key): GET /v1/audit/checkpoint (the signed note, text),
 * /v1/audit/key (its verifier key), /v1/audit/proof/inclusion?index&size and
 * /v1/audit/proof/consistency?first&second (hashes only, no entry).
 *
 * Signed by a registered party: GET /v1/audit/citizens/{pin}/accesses (a
 * party with the citizen-portal or auditor role; every look, allowed or not,
 * is itself an audit entry, recorded before the answer) and
 * GET /v1/audit/party/usage?from&to[&party] (a party's own counts by day;
 * another party's only for an auditor).
 */
import type { HttpRequest, HttpResponse, TemplatedApp } from 'uWebSockets.js'
import { ServiceError } from '../errors.js'
import { refuseBadFraming, refuseCapturedFraming } from '../http/framing.js'
import type { Lifecycle } from '../http/lifecycle.js'
import type { RequestIds } from '../http/request-id.js'
import { send, sendFailure } from '../http/respond.js'
import type { Logger } from '../log.js'
import { pinToKey } from '../domain/pin.js'
import type { Admission, Caller } from '../admission/index.js'
import './codes.js'
import type { AuditRecord } from './entry.js'
import type { AuditReader, HistoryCursor } from './reader.js'
import type { AuditTrail } from './trail.js'

export interface AuditRouteDeps {
  readonly reader: AuditReader
  readonly trail: AuditTrail
  readonly verifierKey: string
  readonly admission: Admission | undefined
  readonly ids: RequestIds
  readonly lifecycle: Lifecycle
  readonly log: Logger
  /** Display names of parties, for a citizen's history. */
  readonly partyName: (id: string) => string | undefined
}

export const HISTORY_ROLES = ['citizen-portal', 'auditor'] as const
const EMPTY = new Uint8Array(0)
const MAX_PAGE = 200
const DEFAULT_PAGE = 50
const DAY = /^\d{4}-\d{2}-\d{2}$/

export function registerAuditRoutes (app: TemplatedApp, deps: AuditRouteDeps): void {
  app.get('/v1/audit/checkpoint', (res, req) => {
    if (refuseBadFraming(res, req)) return
    const note = deps.reader.checkpoint()
    if (note === undefined) { sendFailure(res, new ServiceError('IDV_ERR_AUDIT_NOT_KEPT', 'no checkpoint yet: the log is empty')); return }
    send(res, 200, 'text/plain; charset=utf-8', note)
  })
  app.get('/v1/audit/key', (res, req) => {
    if (!refuseBadFraming(res, req)) send(res, 200, 'text/plain; charset=utf-8', `${deps.verifierKey}\n`)
  })
  app.get('/v1/audit/proof/inclusion', (res, req) => {
    if (refuseBadFraming(res, req)) return
    const q = new URLSearchParams(req.getQuery() ?? '')
    const index = count(q.get('index'), 'index')
    const size = count(q.get('size'), 'size')
    if (index instanceof ServiceError || size instanceof ServiceError) { sendFailure(res, index instanceof ServiceError ? index : size); return }
    const proof = index < size ? deps.reader.inclusion(index, size) : undefined
    if (proof === undefined) { sendFailure(res, new ServiceError('IDV_ERR_AUDIT_NOT_KEPT', `no entry ${index} in a kept tree of ${size}`)); return }
    send(res, 200, 'application/json', JSON.stringify({ index, size, leafHash: proof.leafHash.toString('base64'), path: proof.path.map((h) => h.toString('base64')) }))
  })
  app.get('/v1/audit/proof/consistency', (res, req) => {
    if (refuseBadFraming(res, req)) return
    const q = new URLSearchParams(req.getQuery() ?? '')
    const first = count(q.get('first'), 'first')
    const second = count(q.get('second'), 'second')
    if (first instanceof ServiceError || second instanceof ServiceError) { sendFailure(res, first instanceof ServiceError ? first : second); return }
    const path = first > 0 && first <= second ? deps.reader.consistency(first, second) : undefined
    if (path === undefined) { sendFailure(res, new ServiceError('IDV_ERR_AUDIT_NOT_KEPT', `no consistency proof from ${first} to ${second} in the kept tree`)); return }
    send(res, 200, 'application/json', JSON.stringify({ first, second, path: path.map((h) => h.toString('base64')) }))
  })
  app.get('/v1/audit/citizens/:pin/accesses', (res, req) => { history(res, req, deps) })
  app.get('/v1/audit/party/usage', (res, req) => { usage(res, req, deps) })
}

function count (v: string | null, name: string): number | ServiceError {
  if (v === null || !/^\d{1,16}$/.test(v) || !Number.isSafeInteger(Number(v))) return new ServiceError('IDV_ERR_INVALID_FIELD', `${name} must be a non-negative integer`)
  return Number(v)
}

/** Who is asking: the signed caller, or undefined on the developer-only unsigned service; throws 401/403 ServiceErrors. */
function caller (deps: AuditRouteDeps, signed: ReturnType<Admission['capture']> | undefined): Caller | undefined {
  if (signed === undefined) return undefined
  const unsigned = deps.admission!.unsigned(signed)
  if (unsigned !== undefined) throw unsigned
  return deps.admission!.authenticate(signed, EMPTY)
}

function history (res: HttpResponse, req: HttpRequest, deps: AuditRouteDeps): void {
  const requestId = deps.ids.next()
  deps.lifecycle.track(res, deps.lifecycle.otherRoute, requestId)
  const signed = deps.admission?.capture(req)
  if (signed === undefined ? refuseBadFraming(res, req, requestId) : refuseCapturedFraming(res, signed, requestId)) return
  const pin = req.getParameter(0) ?? ''
  const q = new URLSearchParams(req.getQuery() ?? '')
  let who: Caller | undefined
  try {
    who = caller(deps, signed)
  } catch (err) {
    sendFailure(res, err, requestId)
    return
  }
  const key = pinToKey(pin)
  if (key < 0) { sendFailure(res, new ServiceError('IDV_ERR_INVALID_PIN', 'the path names no valid PIN'), requestId); return }
  const party = who?.party
  const allowed = party === undefined || HISTORY_ROLES.some((r) => party.roles.has(r))
  const pinHash = deps.trail.pinHash(key)
  let answer: string | ServiceError
  if (!allowed) {
    answer = new ServiceError('IDV_ERR_ROLE_FORBIDDEN', `party ${party.id} needs the citizen-portal or auditor role to read a citizen's history`)
  } else {
    try {
      answer = historyPage(deps, pinHash, q)
    } catch (err) {
      deps.log.error({ err, requestId }, 'reading a citizen history failed')
      answer = new ServiceError('IDV_ERR_INTERNAL', 'the history could not be read')
    }
  }
  // The look itself is recorded (allowed or refused) before anything is answered.
  const entry: AuditRecord = {
    requestId, partyId: party?.id ?? null, endpoint: '/v1/audit/citizens', pinHash, attributes: [], results: { allowed, ...(answer instanceof ServiceError ? { error: answer.code } : {}) }
  }
  let aborted = false
  const end = deps.lifecycle.begin()
  res.onAborted(() => { aborted = true; end() })
  deps.trail.record([entry], () => {
    if (!aborted) res.cork(() => { if (answer instanceof ServiceError) sendFailure(res, answer, requestId); else send(res, 200, 'application/json', answer, requestId) })
    end()
  }, (err) => {
    if (!aborted) res.cork(() => { sendFailure(res, err, requestId) })
    end()
  })
}

function historyPage (deps: AuditRouteDeps, pinHash: string, q: URLSearchParams): string | ServiceError {
  const limitText = q.get('limit')
  const limit = limitText === null ? DEFAULT_PAGE : Number(limitText)
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE) return new ServiceError('IDV_ERR_INVALID_FIELD', `limit must be an integer from 1 to ${MAX_PAGE}`)
  let cursor: HistoryCursor | undefined
  const c = q.get('cursor')
  if (c !== null) {
    try {
      const v = JSON.parse(Buffer.from(c, 'base64url').toString('utf8')) as unknown
      if (typeof v !== 'object' || v === null || Array.isArray(v) || Object.values(v).some((n) => !Number.isSafeInteger(n) || (n as number) < 0)) throw new Error('bad')
      cursor = v as HistoryCursor
    } catch {
      return new ServiceError('IDV_ERR_INVALID_FIELD', 'cursor is not one this service gave out')
    }
  }
  const page = deps.reader.history(Buffer.from(pinHash, 'base64url'), cursor, limit)
  const accesses = page.entries.map((e) => ({
    time: e.time,
    node: e.node,
    party: e.partyId === null ? null : { id: e.partyId, name: deps.partyName(e.partyId) ?? e.partyId },
    endpoint: e.endpoint,
    attributes: e.attributes,
    results: e.results
  }))
  return JSON.stringify({ accesses, next: page.next === undefined ? null : Buffer.from(JSON.stringify(page.next)).toString('base64url') })
}

function usage (res: HttpResponse, req: HttpRequest, deps: AuditRouteDeps): void {
  const requestId = deps.ids.next()
  deps.lifecycle.track(res, deps.lifecycle.otherRoute, requestId)
  const signed = deps.admission?.capture(req)
  if (signed === undefined ? refuseBadFraming(res, req, requestId) : refuseCapturedFraming(res, signed, requestId)) return
  const q = new URLSearchParams(req.getQuery() ?? '')
  try {
    const who = caller(deps, signed)
    const from = q.get('from') ?? ''
    const to = q.get('to') ?? ''
    if (!DAY.test(from) || !DAY.test(to) || from > to) throw new ServiceError('IDV_ERR_INVALID_FIELD', 'from and to must be days (YYYY-MM-DD), from not after to')
    const asked = q.get('party') ?? who?.party.id
    if (asked === undefined) throw new ServiceError('IDV_ERR_INVALID_FIELD', 'party is required on the unsigned service')
    if (who !== undefined && asked !== who.party.id && !who.party.roles.has('auditor')) {
      throw new ServiceError('IDV_ERR_ROLE_FORBIDDEN', `party ${who.party.id} may read only its own usage (another party's needs the auditor role)`)
    }
    const days = deps.reader.usage(asked, from, to).map((d) => ({ ...d, noMatchRatio: d.requests === 0 ? 0 : d.noMatch / d.requests }))
    const requests = days.reduce((n, d) => n + d.requests, 0)
    const noMatch = days.reduce((n, d) => n + d.noMatch, 0)
    send(res, 200, 'application/json', JSON.stringify({ party: asked, from, to, requests, noMatch, noMatchRatio: requests === 0 ? 0 : noMatch / requests, days }), requestId)
  } catch (err) {
    if (!(err instanceof ServiceError)) deps.log.error({ err, requestId }, 'audit usage failed')
    sendFailure(res, err, requestId)
  }
}
