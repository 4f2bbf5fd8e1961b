/**
 * POST /v1/chip/verify: passive authentication of a CCCD chip (ICAO 9303) on
 * the crypto pool, then the chip's identity matched against the register exactly
 * as /v1/verify does. The answer says whether the chip is genuine (each check
 * with a stable reason code) and whether the register agrees; it repeats neither
 * the chip's data nor the register's.
 */
import './codes.js'
import type { HttpResponse, HttpRequest, TemplatedApp } from 'uWebSockets.js'
import type { ChipIdentity, ChipResult } from './passive-auth/types.js'
import { ChipPoolError } from './pool.js'
import type { ChipSubmitter } from './relay.js'
import { parseChipRequest } from './chip-request.js'
import { pinToKey } from '../domain/pin.js'
import type { AttributeName } from '../domain/record.js'
import type { Verifier, VerifyOutcome } from '../verify/index.js'
import { ServiceError } from '../errors.js'
import { readBody } from '../http/body.js'
import { CONTENT_TYPES, decodeBody, packr, requestMediaType, responseMediaType, type MediaType } from '../http/media.js'
import { refuseBadFraming, refuseCapturedFraming } from '../http/framing.js'
import { clip } from '../clip.js'
import type { RequestIds } from '../http/request-id.js'
import { send, sendError, sendFailure } from '../http/respond.js'
import type { Logger } from '../log.js'
import type { Lifecycle } from '../http/lifecycle.js'
import type { Counter } from '../capability.js'
import { verdictIndex } from './pool-metrics.js'
import type { Admission } from '../admission/index.js'
import type { Party } from '../parties/registry.js'
import { encodeWithReceipt, type Receipt, type ReceiptSigner } from '../receipts/index.js'
import type { AuditRecord, AuditTrail } from '../audit/index.js'

export interface ChipRouteDeps {
  readonly verifier: Verifier
  /** The crypto pool, or a relay to it from a server thread; undefined when no CSCA trust store is configured. */
  readonly pool: ChipSubmitter | undefined
  readonly ids: RequestIds
  readonly log: Logger
  readonly maxBodyBytes: number
  readonly lifecycle: Lifecycle
  /** The route's number for metrics labels (ThreadContext.route). */
  readonly route: number
  /** Chip verdicts by reason (pool-metrics.ts). */
  readonly verdicts: Counter
  /** Relying-party authentication; undefined under the developer-only IDV_AUTH=none. */
  readonly admission: Admission | undefined
  /** Signs answers to parties; undefined when receipts are off. */
  readonly receipts: ReceiptSigner | undefined
  /** Records every answer before it is sent; undefined when the audit log is off. */
  readonly audit: AuditTrail | undefined
}

export interface ChipAnswer {
  requestId: string
  /** The chip is genuine and the register holds an active citizen whose attributes all match. */
  match: boolean
  valid: boolean
  reason?: string
  checks: ChipResult['checks']
  signatureAlgorithm?: string
  digestAlgorithm?: string
  /** The register's answer for the chip's identity (only `match` for an overall-only party); null when the chip is not valid. */
  registry: VerifyOutcome | { match: boolean } | null
}

export function registerChipRoutes (app: TemplatedApp, deps: ChipRouteDeps): void {
  app.post('/v1/chip/verify', (res, req) => { handle(res, req, deps) })
}

function handle (res: HttpResponse, req: HttpRequest, deps: ChipRouteDeps): void {
  const requestId = deps.ids.next()
  const scope = deps.lifecycle.track(res, deps.route, requestId)
  const signed = deps.admission?.capture(req)
  if (signed === undefined ? refuseBadFraming(res, req, requestId) : refuseCapturedFraming(res, signed, requestId)) return
  if (!deps.lifecycle.ready) { sendError(res, 'IDV_ERR_NOT_READY', 'the service is starting or shutting down', requestId, true); return }
  // Authentication comes first: a stranger learns neither that chips are not configured nor what the route accepts.
  if (signed !== undefined) {
    const unsigned = deps.admission!.unsigned(signed)
    if (unsigned !== undefined) { sendFailure(res, unsigned, requestId, true); return }
  }
  const contentType = req.getHeader('content-type')
  const requestType = requestMediaType(contentType)
  const responseType = requestType === undefined ? undefined : responseMediaType(req.getHeader('accept'), requestType)
  const refusal = requestType === undefined
    ? new ServiceError('IDV_ERR_UNSUPPORTED_MEDIA_TYPE', `Content-Type ${JSON.stringify(clip(contentType))} is not application/json or application/vnd.msgpack`)
    : responseType === undefined ? new ServiceError('IDV_ERR_NOT_ACCEPTABLE', 'Accept allows neither application/json nor application/vnd.msgpack') : undefined
  // Unsigned (IDV_AUTH=none): refused at once, unread. Signed: once the signature verified.
  if (signed === undefined) {
    if (deps.pool === undefined) { sendError(res, 'IDV_ERR_CHIP_NOT_CONFIGURED', 'set IDV_CSCA_DIR to a directory of CSCA certificates', requestId, true); return }
    if (refusal !== undefined) { sendFailure(res, refusal, requestId, true); return }
  }
  const bodyType: MediaType = requestType ?? 'json'
  const answerType: MediaType = responseType ?? 'json' // used only once negotiation passed
  let aborted = false
  const end = deps.lifecycle.begin(scope)
  const answer = (write: () => void): void => {
    if (!aborted) res.cork(write)
    end()
  }
  readBody(res, req.getHeader('content-length'), deps.maxBodyBytes, {
    onBody (body) {
      if (deps.lifecycle.stopped) {
        answer(() => { sendError(res, 'IDV_ERR_NOT_READY', 'the service shut down before this request was complete', requestId, true) })
        return
      }
      let party: Party | undefined
      const fail = (err: unknown): void => { answer(() => { sendFailure(res, err, requestId) }) }
      try {
        const caller = signed === undefined ? undefined : deps.admission!.authenticate(signed, body)
        party = caller?.party
        if (party !== undefined) scope.setParty(party.id)
        if (refusal !== undefined) throw refusal
        const item = parseChipRequest(decodeBody(body, bodyType, true))
        if (item instanceof ServiceError) throw item
        // Admitted by this node, then by the fleet when it shares nonces and quota (src/fleet-security).
        if (caller === undefined) submit(item, party)
        else deps.admission!.admitted(caller, { endpoint: '/v1/chip/verify' }, 1, () => { submit(item, party) }, fail)
      } catch (err) {
        fail(err)
      }
    },
    onTooLarge () {
      answer(() => { sendError(res, 'IDV_ERR_PAYLOAD_TOO_LARGE', `the body limit here is ${deps.maxBodyBytes} bytes`, requestId, true) })
    },
    onAborted () {
      aborted = true
      end()
    }
  })

  /** Verifies an admitted chip in the pool and answers. */
  function submit (item: Exclude<ReturnType<typeof parseChipRequest>, ServiceError>, party: Party | undefined): void {
    if (deps.pool === undefined) throw new ServiceError('IDV_ERR_CHIP_NOT_CONFIGURED', 'set IDV_CSCA_DIR to a directory of CSCA certificates')
    const pending = deps.pool.submit(item)
    if (pending === undefined) {
      answer(() => { sendError(res, 'IDV_ERR_OVERLOADED', 'chip verification is at capacity', requestId) })
      return
    }
    pending.then(async (result) => {
      deps.verdicts.add(scope.party, verdictIndex(result.valid ? undefined : result.reason ?? 'other'))
      const reply = buildAnswer(requestId, result, deps.verifier, party)
      let receipt: Receipt | undefined
      const encoded = party === undefined || deps.receipts === undefined
        ? (answerType === 'msgpack' ? packr.pack(reply) : JSON.stringify(reply))
        : await new Promise<string | Uint8Array>((resolve, reject) => {
          const pin = result.valid ? result.identity?.pin : undefined
          const facts = { requestId, partyId: party.id, pinHash: deps.verifier.pinHash(party.id, pin === undefined ? [] : [pinToKey(pin)]), attributes: ['chip'] }
          encodeWithReceipt(deps.receipts!, reply, facts, answerType, (e, r) => { receipt = r; resolve(e) }, reject)
        })
      // Sent only once its audit entry is durable (src/audit); if it cannot be, the 503 goes instead.
      const refused = deps.audit === undefined
        ? undefined
        : await new Promise<ServiceError | undefined>((resolve) => { deps.audit!.record([chipEntry(requestId, party?.id ?? null, result, reply, deps.audit!, receipt)], () => { resolve(undefined) }, resolve) })
      if (refused !== undefined) { answer(() => { sendFailure(res, refused, requestId) }); return }
      answer(() => { send(res, 200, CONTENT_TYPES[answerType], encoded, requestId) })
    }).catch((err: unknown) => {
      const code = err instanceof ChipPoolError ? err.code : undefined
      // A server thread learns that the main thread's pool is full only from its answer.
      if (code === 'IDV_ERR_OVERLOADED') { answer(() => { sendError(res, 'IDV_ERR_OVERLOADED', 'chip verification is at capacity', requestId) }); return }
      deps.log.error({ err, requestId, code }, 'chip verification failed')
      // A trust store that cannot load fails closed, as an operator problem rather than a bug.
      if (code === 'IDV_ERR_TRUST_STORE') answer(() => { sendError(res, 'IDV_ERR_CHIP_NOT_CONFIGURED', 'the CSCA trust store cannot be loaded (see the service log)', requestId) })
      else answer(() => { sendError(res, 'IDV_ERR_INTERNAL', 'chip verification failed; the worker was replaced', requestId) })
    })
  }
}

/** The audit entry of a chip check: the verdict and the register's answer, about the chip's citizen when the chip verified. */
function chipEntry (requestId: string, partyId: string | null, result: ChipResult, answer: ChipAnswer, audit: AuditTrail, receipt: Receipt | undefined): AuditRecord {
  const pin = result.valid ? result.identity?.pin : undefined
  const key = pin === undefined ? -1 : pinToKey(pin)
  const results: Record<string, unknown> = { match: answer.match, valid: result.valid }
  if (result.reason !== undefined) results.reason = result.reason
  if (answer.registry !== null) results.registry = answer.registry
  const entry: { -readonly [K in keyof AuditRecord]: AuditRecord[K] } = { requestId, partyId, endpoint: '/v1/chip/verify', pinHash: key >= 0 ? audit.pinHash(key) : null, attributes: ['chip'], results }
  if (receipt !== undefined) entry.receiptLeafHash = audit.receiptLeafHash(receipt.leaf)
  return entry
}

/** The answer to a chip: the verdict, each check, and the register match (also the Fastify baseline's answer). */
export function buildAnswer (requestId: string, result: ChipResult, verifier: Verifier, party: Party | undefined): ChipAnswer {
  const outcome = result.valid && result.identity !== undefined ? matchRegistry(result.identity, verifier) : null
  // An overall-only party learns whether the register agrees, not which attribute differs.
  const registry = outcome === null || party === undefined || party.resultDetail === 'per-attribute' ? outcome : { match: outcome.match }
  const a: ChipAnswer = { requestId, match: outcome?.match ?? false, valid: result.valid, checks: result.checks, registry }
  if (result.reason !== undefined) a.reason = result.reason
  if (result.signatureAlgorithm !== undefined) a.signatureAlgorithm = result.signatureAlgorithm
  if (result.digestAlgorithm !== undefined) a.digestAlgorithm = result.digestAlgorithm
  return a
}

/**
 * The chip's identity against the register. The MRZ name has no diacritics, so
 * without a verified DG13 the name can at best be `match_without_diacritics`.
 */
function matchRegistry (id: ChipIdentity, verifier: Verifier): VerifyOutcome {
  const attributes: Array<readonly [AttributeName, string]> = [
    ['fullName', id.fullName ?? id.mrzName],
    ['dateOfBirth', id.dateOfBirth],
    ['gender', id.gender]
  ]
  if (id.expiryDate !== undefined) attributes.push(['cardExpiryDate', id.expiryDate])
  return verifier.verify({ key: pinToKey(id.pin), attributes })
}
