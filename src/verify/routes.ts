/**
 * POST /v1/verify and POST /v1/verify/batch: the hot path.
 *
 * Headers are read before the handler returns (uWS requests are stack-allocated),
 * the body is collected with a limit, and from there everything is synchronous:
 * signature check, decode, validate, policy and rate, one store read per item,
 * keyed-hash compares, answer (on a fleet node, after the fleet's nonce and
 * quota check: one NATS round trip, src/fleet-security). Unsigned answers are written inside uWS's data
 * callback with no Promise; a signed answer waits for its receipt, which is
 * signed with the others of the same event-loop turn.
 */
import type { HttpRequest, HttpResponse, TemplatedApp } from 'uWebSockets.js'
import { ServiceError } from '../errors.js'
import { readBody } from '../http/body.js'
import { refuseBadFraming, refuseCapturedFraming } from '../http/framing.js'
import { CONTENT_TYPES, decodeBody, packr, requestMediaType, responseMediaType, type MediaType } from '../http/media.js'
import type { RequestIds } from '../http/request-id.js'
import { send, sendError, sendFailure } from '../http/respond.js'
import { problemFor, type Problem } from '../problem.js'
import { clip } from '../clip.js'
import type { Verifier, VerifyOutcome } from './verifier.js'
import { parseVerifyRequest } from './verify-request.js'
import type { Logger } from '../log.js'
import type { Lifecycle, RequestScope } from '../http/lifecycle.js'
import type { Admission } from '../admission/index.js'
import type { OutcomeRecorder } from './outcomes.js'
import { shapeAnswer } from '../parties/answer-shape.js'
import { pinToKey } from '../domain/pin.js'
import { encodeWithReceipt, receiptLeafHash, resultsDigest, type Receipt, type ReceiptSigner } from '../receipts/index.js'
import type { AuditRecord, AuditTrail } from '../audit/index.js'
import type { AddressMatching } from '../addresses/index.js'

export interface VerifyRouteDeps {
  readonly verifier: Verifier
  readonly ids: RequestIds
  readonly log: Logger
  readonly limits: { readonly maxBodyBytes: number, readonly maxBatchBodyBytes: number, readonly maxBatchItems: number }
  readonly lifecycle: Lifecycle
  /** The routes' numbers for metrics labels (ThreadContext.route). */
  readonly routes: { readonly single: number, readonly batch: number }
  readonly outcomes: OutcomeRecorder
  /** Relying-party authentication; undefined under the developer-only IDV_AUTH=none. */
  readonly admission: Admission | undefined
  /** Signs answers to parties; undefined when receipts are off. */
  readonly receipts: ReceiptSigner | undefined
  /** Records every answer before it is sent; undefined when the audit log is off. */
  readonly audit: AuditTrail | undefined
}

/** Batch items verified between yields to the event loop, so one big batch never stalls other clients. */
const BATCH_SLICE = 250

export function registerVerifyRoutes (app: TemplatedApp, deps: VerifyRouteDeps): void {
  app.post('/v1/verify', (res, req) => { handle(res, req, deps, false) })
  app.post('/v1/verify/batch', (res, req) => { handle(res, req, deps, true) })
}

function handle (res: HttpResponse, req: HttpRequest, deps: VerifyRouteDeps, batch: boolean): void {
  const requestId = deps.ids.next()
  const scope = deps.lifecycle.track(res, batch ? deps.routes.batch : deps.routes.single, requestId)
  // Framing first: with two Content-Lengths nobody knows where this request ends (src/http/framing.ts).
  const signed = deps.admission?.capture(req)
  if (signed === undefined ? refuseBadFraming(res, req, requestId) : refuseCapturedFraming(res, signed, requestId)) return
  if (!deps.lifecycle.ready) { sendError(res, 'IDV_ERR_NOT_READY', 'the service is starting or shutting down', requestId, true); return }
  if (signed !== undefined) {
    // Authentication before anything about the route: an unsigned request gets its 401 now.
    const unsigned = deps.admission!.unsigned(signed)
    if (unsigned !== undefined) { sendFailure(res, unsigned, requestId, true); return }
  }
  const contentType = req.getHeader('content-type')
  const requestType = requestMediaType(contentType)
  const responseType = requestType === undefined ? undefined : responseMediaType(req.getHeader('accept'), requestType)
  // Unsigned (IDV_AUTH=none): refused at once, unread. Signed: refused once the signature verified (below).
  const negotiation = requestType === undefined
    ? new ServiceError('IDV_ERR_UNSUPPORTED_MEDIA_TYPE', `Content-Type ${JSON.stringify(clip(contentType))} is not application/json or application/vnd.msgpack`)
    : responseType === undefined ? new ServiceError('IDV_ERR_NOT_ACCEPTABLE', 'Accept allows neither application/json nor application/vnd.msgpack') : undefined
  if (negotiation !== undefined && signed === undefined) { sendFailure(res, negotiation, requestId, true); return }
  const answerType: MediaType = responseType ?? 'json' // used only once negotiation passed
  const bodyType: MediaType = requestType ?? 'json'
  const limit = batch ? deps.limits.maxBatchBodyBytes : deps.limits.maxBodyBytes
  const end = deps.lifecycle.begin(scope)
  let aborted = false
  const fail = (err: unknown): void => {
    if (!(err instanceof ServiceError)) deps.log.error({ err, requestId }, 'verify failed')
    if (!aborted) res.cork(() => { sendFailure(res, err, requestId) })
    end()
  }
  const reply = (answer: string | Uint8Array): void => {
    if (!aborted) res.cork(() => { send(res, 200, CONTENT_TYPES[answerType], answer, requestId) })
    end()
  }
  // An answer leaves only once its audit entries are durable (src/audit); if they cannot be, the 503 goes instead.
  const audited = (answer: string | Uint8Array, entries: (receipt: Receipt | undefined) => AuditRecord[], receipt?: Receipt): void => {
    if (deps.audit === undefined) { reply(answer); return }
    deps.audit.record(entries(receipt), () => { reply(answer) }, fail)
  }
  readBody(res, req.getHeader('content-length'), limit, {
    onBody (body) {
      if (deps.lifecycle.stopped) {
        res.cork(() => { sendError(res, 'IDV_ERR_NOT_READY', 'the service shut down before this request was complete', requestId, true) })
        end()
        return
      }
      try {
        const caller = signed === undefined ? undefined : deps.admission!.authenticate(signed, body)
        const party = caller?.party
        if (party !== undefined) scope.setParty(party.id)
        if (negotiation !== undefined) throw negotiation
        const decoded = decodeBody(body, bodyType)
        if (batch) {
          const items = batchItems(decoded, deps)
          const run = (): void => {
            verifyBatch(items, deps, () => aborted, scope, party?.addressMatching).then((results) => {
              if (results === undefined) { end(); return } // the client went away
              const entries = (receipt: Receipt | undefined): AuditRecord[] => batchEntries(items, results, requestId, party?.id ?? null, deps.audit!, receipt)
              if (party === undefined) { audited(encodeBatch(results, requestId, answerType), entries); return }
              const seen = results.map((r) => 'error' in r ? r : shapeAnswer(party, r))
              if (deps.receipts === undefined) { audited(encodeAnswer({ requestId, results: seen }, answerType), entries); return }
              encodeWithReceipt(deps.receipts, { requestId, results: seen }, {
                requestId,
                partyId: party.id,
                pinHash: deps.verifier.pinHash(party.id, itemKeys(items)),
                attributes: [...askedAttributes(items)],
                results: { items: seen.length, sha256: resultsDigest(seen) }
              }, answerType, (answer, receipt) => { audited(answer, entries, receipt) }, fail)
            }).catch(fail)
          }
          // Admitted by this node, then by the fleet when it shares nonces and quota (src/fleet-security).
          if (caller === undefined) run()
          else deps.admission!.admitted(caller, { endpoint: '/v1/verify/batch', attributes: askedAttributes(items), batchItems: items.length }, items.length, run, fail)
          return
        }
        const request = parseVerifyRequest(decoded)
        if (request instanceof ServiceError) throw request
        const attributes = request.attributes.map(([name]) => name)
        if (caller === undefined) {
          const outcome = deps.verifier.verify(request)
          deps.outcomes.record(scope.party, outcome)
          audited(encodeOne(outcome, requestId, answerType), () => [oneEntry(requestId, null, request.key, attributes, outcome, deps.audit!, undefined)])
          return
        }
        // Admitted by this node, then by the fleet when it shares nonces and quota (src/fleet-security): maybe a NATS round trip later.
        deps.admission!.admitted(caller, { endpoint: '/v1/verify', attributes }, 1, () => {
          const outcome = deps.verifier.verify(request, caller.party.addressMatching)
          deps.outcomes.record(scope.party, outcome)
          const seen = shapeAnswer(caller.party, { requestId, ...outcome })
          const entries = (receipt: Receipt | undefined): AuditRecord[] => [oneEntry(requestId, caller.party.id, request.key, attributes, outcome, deps.audit!, receipt === undefined ? undefined : receiptLeafHash(receipt))]
          if (deps.receipts === undefined) { audited(encodeAnswer(seen, answerType), entries); return }
          encodeWithReceipt(deps.receipts, seen, { requestId, partyId: caller.party.id, pinHash: deps.verifier.pinHash(caller.party.id, [request.key]), attributes }, answerType, (answer, receipt) => { audited(answer, entries, receipt) }, fail)
        }, fail)
      } catch (err) {
        fail(err)
      }
    },
    onTooLarge () {
      res.cork(() => { sendError(res, 'IDV_ERR_PAYLOAD_TOO_LARGE', `the body limit here is ${limit} bytes`, requestId, true) })
      end()
    },
    onAborted () {
      aborted = true // verification has no side effects to undo
      end()
    }
  })
}

/** The audit entry of one verification: the outcome in full (an overall-only party's answer hides which attribute differed; the log does not). */
function oneEntry (requestId: string, partyId: string | null, key: number, attributes: string[], outcome: VerifyOutcome, audit: AuditTrail, leafHash: string | undefined, item?: number): AuditRecord {
  const entry: { -readonly [K in keyof AuditRecord]: AuditRecord[K] } = {
    requestId, partyId, endpoint: item === undefined ? '/v1/verify' : '/v1/verify/batch', pinHash: audit.pinHash(key), attributes, results: outcome as unknown as Record<string, unknown>
  }
  if (item !== undefined) entry.item = item
  if (leafHash !== undefined) entry.receiptLeafHash = leafHash
  return entry
}

/** One entry per batch item: its outcome, or the code of its error (an item without a valid PIN names no citizen). */
function batchEntries (items: readonly unknown[], results: readonly BatchResult[], requestId: string, partyId: string | null, audit: AuditTrail, receipt: Receipt | undefined): AuditRecord[] {
  const keys = itemKeys(items)
  // One receipt covers the whole batch: its leaf hash is the batch signer's, read once.
  const leafHash = receipt === undefined ? undefined : receiptLeafHash(receipt)
  return results.map((r, i) => {
    if (!('error' in r)) {
      const attrs = (items[i] as { attributes: Record<string, unknown> }).attributes
      return oneEntry(requestId, partyId, keys[i]!, Object.keys(attrs), r, audit, leafHash, i)
    }
    const key = keys[i]!
    const entry: { -readonly [K in keyof AuditRecord]: AuditRecord[K] } = {
      requestId, partyId, endpoint: '/v1/verify/batch', item: i, pinHash: key >= 0 ? audit.pinHash(key) : null, attributes: [], results: { error: r.error.code }
    }
    if (leafHash !== undefined) entry.receiptLeafHash = leafHash
    return entry
  })
}

/** The unsigned path's answer, by concatenation for JSON (the hot path of IDV_AUTH=none). */
function encodeOne (outcome: VerifyOutcome, requestId: string, type: MediaType): string | Uint8Array {
  if (type === 'msgpack') return packr.pack({ requestId, ...outcome })
  return `{"requestId":"${requestId}",${outcomeJsonFields(outcome)}}`
}

function encodeAnswer (answer: object, type: MediaType): string | Uint8Array {
  return type === 'msgpack' ? packr.pack(answer) : JSON.stringify(answer)
}

type BatchResult = VerifyOutcome | { error: Problem }

/** The items array of a batch body, checked for shape and size (items themselves are checked one by one). */
function batchItems (decoded: unknown, deps: VerifyRouteDeps): unknown[] {
  if (typeof decoded !== 'object' || decoded === null || !Array.isArray((decoded as { items?: unknown }).items)) {
    throw new ServiceError('IDV_ERR_INVALID_FIELD', 'body must be an object with an items array')
  }
  const items = (decoded as { items: unknown[] }).items
  if (items.length === 0) throw new ServiceError('IDV_ERR_INVALID_FIELD', 'items is empty')
  if (items.length > deps.limits.maxBatchItems) throw new ServiceError('IDV_ERR_TOO_MANY_ITEMS', `a batch holds at most ${deps.limits.maxBatchItems} items, this one has ${items.length}`)
  return items
}

/** Every attribute name any item asks about (for the party's policy; invalid items are reported per item later). */
function askedAttributes (items: readonly unknown[]): Set<string> {
  const names = new Set<string>()
  for (const item of items) {
    const attrs = (item as { attributes?: unknown } | null)?.attributes
    if (typeof attrs === 'object' && attrs !== null && !Array.isArray(attrs)) for (const name of Object.keys(attrs)) names.add(name)
  }
  return names
}

/** The PIN keys of a batch in order (-1 for an item without a valid PIN), for the receipt's PIN hash. */
function itemKeys (items: readonly unknown[]): number[] {
  return items.map((item) => {
    const pin = (item as { pin?: unknown } | null)?.pin
    return typeof pin === 'string' ? pinToKey(pin) : -1
  })
}

/**
 * Verifies a batch in slices, yielding to the event loop between them, so a
 * 10,000-item batch (tens of thousands of keyed hashes) never stalls other
 * clients or health probes. Resolves undefined when the client went away.
 */
async function verifyBatch (items: readonly unknown[], deps: VerifyRouteDeps, isAborted: () => boolean, scope: RequestScope, addressMatching: AddressMatching = 'reorganisation-aware'): Promise<BatchResult[] | undefined> {
  const results: BatchResult[] = new Array(items.length)
  for (let start = 0; start < items.length; start += BATCH_SLICE) {
    if (start > 0) {
      await new Promise((resolve) => setImmediate(resolve))
      if (isAborted()) return undefined
      if (deps.lifecycle.stopped) throw new ServiceError('IDV_ERR_NOT_READY', 'the service shut down before this batch was complete')
    }
    for (let i = start; i < Math.min(items.length, start + BATCH_SLICE); i++) {
      const request = parseVerifyRequest(items[i], `items[${i}].`)
      if (request instanceof ServiceError) { results[i] = { error: problemFor(request.code, request.detail) }; continue }
      const outcome = deps.verifier.verify(request, addressMatching)
      deps.outcomes.record(scope.party, outcome)
      results[i] = outcome
    }
  }
  return results
}

function encodeBatch (results: BatchResult[], requestId: string, type: MediaType): string | Uint8Array {
  if (type === 'msgpack') return packr.pack({ requestId, results })
  const parts = new Array<string>(results.length)
  for (let i = 0; i < results.length; i++) {
    const r = results[i]!
    parts[i] = 'error' in r ? `{"error":${JSON.stringify(r.error)}}` : `{${outcomeJsonFields(r)}}`
  }
  return Buffer.from(`{"requestId":"${requestId}","results":[${parts.join(',')}]}`)
}

/** JSON of an outcome by concatenation: every string in it comes from a fixed set, so nothing needs escaping. */
export function outcomeJsonFields (o: VerifyOutcome): string {
  let attrs = ''
  for (const name in o.attributes) {
    attrs += `${attrs === '' ? '' : ','}"${name}":"${o.attributes[name as keyof typeof o.attributes]!}"`
  }
  return `"match":${o.match},"citizen":"${o.citizen}","attributes":{${attrs}}`
}
