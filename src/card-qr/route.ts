/**
 * POST /v1/card/qr/verify: the string a relying party scanned from the QR
 * code of a chip ID card, `{"qr": "…"}`, verified against the register field
 * by field exactly as /v1/verify answers (the same Verifier, the party's
 * policy: its allowed attributes, its address matching, its answer shape).
 *
 * What the register cannot answer is said, not guessed: the old ID number is
 * not held by the index (`notChecked.oldIdNumber: "not_held"`), and a field
 * the party may not ask about is `"not_allowed"`. The body is read with a
 * limit; from there everything is synchronous, as on /v1/verify.
 */
import './codes.js'
import type { HttpRequest, HttpResponse, TemplatedApp } from 'uWebSockets.js'
import { ServiceError } from '../errors.js'
import { readBody } from '../http/body.js'
import { refuseBadFraming, refuseCapturedFraming } from '../http/framing.js'
import { CONTENT_TYPES, decodeBody, packr, requestMediaType, responseMediaType, type MediaType } from '../http/media.js'
import type { RequestIds } from '../http/request-id.js'
import { send, sendError, sendFailure } from '../http/respond.js'
import type { Lifecycle } from '../http/lifecycle.js'
import type { Logger } from '../log.js'
import { clip } from '../clip.js'
import type { AttributeName } from '../domain/record.js'
import type { Admission } from '../admission/index.js'
import type { Party } from '../parties/registry.js'
import { shapeAnswer } from '../parties/answer-shape.js'
import { encodeWithReceipt, type Receipt, type ReceiptSigner } from '../receipts/index.js'
import type { AuditRecord, AuditTrail } from '../audit/index.js'
import type { OutcomeRecorder, Verifier, VerifyOutcome } from '../verify/index.js'
import { parseCardQr, type CardQr } from './qr-code.js'

export const CARD_QR_PATH = '/v1/card/qr/verify'

export interface CardQrRouteDeps {
  readonly verifier: Verifier
  readonly ids: RequestIds
  readonly log: Logger
  readonly maxBodyBytes: number
  readonly lifecycle: Lifecycle
  readonly route: number
  readonly outcomes: OutcomeRecorder
  readonly admission: Admission | undefined
  readonly receipts: ReceiptSigner | undefined
  /** Records every answer before it is sent; undefined when the audit log is off. */
  readonly audit: AuditTrail | undefined
}

export type NotChecked = 'not_held' | 'not_allowed'

export interface CardQrAnswer extends VerifyOutcome {
  requestId: string
  /** Fields of the QR the answer says nothing about, and why. */
  notChecked: Partial<Record<'oldIdNumber' | AttributeName, NotChecked>>
}

export function registerCardQrRoute (app: TemplatedApp, deps: CardQrRouteDeps): void {
  app.post(CARD_QR_PATH, (res, req) => { handle(res, req, deps) })
}

/** The QR's fields as register attributes, in API order. */
function attributesOf (qr: CardQr): Array<readonly [AttributeName, string]> {
  const out: Array<readonly [AttributeName, string]> = [
    ['fullName', qr.fullName], ['dateOfBirth', qr.dateOfBirth], ['gender', qr.gender], ['placeOfResidence', qr.placeOfResidence]
  ]
  if (qr.cardIssueDate !== undefined) out.push(['cardIssueDate', qr.cardIssueDate])
  return out
}

/** Verifies a parsed QR for a party (undefined: unsigned, developer mode), after its policy admitted the attributes asked. */
export function answerQr (requestId: string, qr: CardQr, verifier: Verifier, party: Party | undefined, asked: ReadonlyArray<readonly [AttributeName, string]>, refused: readonly AttributeName[]): CardQrAnswer {
  const outcome = verifier.verify({ key: qr.key, attributes: asked }, party?.addressMatching)
  const notChecked: CardQrAnswer['notChecked'] = {}
  if (qr.oldIdNumber !== undefined) notChecked.oldIdNumber = 'not_held'
  for (const name of refused) notChecked[name] = 'not_allowed'
  return { requestId, ...outcome, notChecked }
}

function handle (res: HttpResponse, req: HttpRequest, deps: CardQrRouteDeps): void {
  const requestId = deps.ids.next()
  const scope = deps.lifecycle.track(res, deps.route, requestId)
  const signed = deps.admission?.capture(req)
  if (signed === undefined ? refuseBadFraming(res, req, requestId) : refuseCapturedFraming(res, signed, requestId)) return
  if (!deps.lifecycle.ready) { sendError(res, 'IDV_ERR_NOT_READY', 'the service is starting or shutting down', requestId, true); return }
  if (signed !== undefined) {
    const unsigned = deps.admission!.unsigned(signed)
    if (unsigned !== undefined) { sendFailure(res, unsigned, requestId, true); return }
  }
  const contentType = req.getHeader('content-type')
  const requestType = requestMediaType(contentType)
  const responseType = requestType === undefined ? undefined : responseMediaType(req.getHeader('accept'), requestType)
  const negotiation = requestType === undefined
    ? new ServiceError('IDV_ERR_UNSUPPORTED_MEDIA_TYPE', `Content-Type ${JSON.stringify(clip(contentType))} is not application/json or application/vnd.msgpack`)
    : responseType === undefined ? new ServiceError('IDV_ERR_NOT_ACCEPTABLE', 'Accept allows neither application/json nor application/vnd.msgpack') : undefined
  if (negotiation !== undefined && signed === undefined) { sendFailure(res, negotiation, requestId, true); return }
  const answerType: MediaType = responseType ?? 'json'
  const bodyType: MediaType = requestType ?? 'json'
  const end = deps.lifecycle.begin(scope)
  let aborted = false
  const fail = (err: unknown): void => {
    if (!(err instanceof ServiceError)) deps.log.error({ err, requestId }, 'card QR verification failed')
    if (!aborted) res.cork(() => { sendFailure(res, err, requestId) })
    end()
  }
  const reply = (answer: string | Uint8Array): void => {
    if (!aborted) res.cork(() => { send(res, 200, CONTENT_TYPES[answerType], answer, requestId) })
    end()
  }
  // As on /v1/verify: the answer leaves only once its audit entry is durable; if it cannot be, the 503 goes instead.
  const audited = (answer: string | Uint8Array, entry: (receipt: Receipt | undefined) => AuditRecord, receipt?: Receipt): void => {
    if (deps.audit === undefined) { reply(answer); return }
    deps.audit.record([entry(receipt)], () => { reply(answer) }, fail)
  }
  readBody(res, req.getHeader('content-length'), deps.maxBodyBytes, {
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
        if (typeof decoded !== 'object' || decoded === null || Array.isArray(decoded)) throw new ServiceError('IDV_ERR_INVALID_FIELD', 'body must be an object {"qr": "…"}')
        for (const name of Object.keys(decoded)) if (name !== 'qr') throw new ServiceError('IDV_ERR_INVALID_FIELD', `${clip(name)} is not a field of this request; send {"qr": "…"}`)
        const parsed = parseCardQr((decoded as { qr?: unknown }).qr)
        if (!parsed.ok) throw new ServiceError('IDV_ERR_INVALID_QR', parsed.detail)
        const all = attributesOf(parsed.qr)
        // The party's allowed attributes decide what is compared; the rest is reported as not allowed (none allowed: 403).
        const asked = party === undefined ? all : all.filter(([name]) => party.allowedAttributes.has(name))
        const refused = all.filter((a) => !asked.includes(a)).map(([name]) => name)
        const run = (): void => {
          const answer = answerQr(requestId, parsed.qr, deps.verifier, party, asked, refused)
          deps.outcomes.record(scope.party, answer)
          const entry = (receipt: Receipt | undefined): AuditRecord => qrEntry(requestId, party?.id ?? null, parsed.qr.key, asked, answer, deps.audit!, receipt)
          if (party === undefined) { audited(encode(answer, answerType), entry); return }
          const seen = shapeAnswer(party, answer)
          if (deps.receipts === undefined) { audited(encode(seen, answerType), entry); return }
          encodeWithReceipt(deps.receipts, seen, { requestId, partyId: party.id, pinHash: deps.verifier.pinHash(party.id, [parsed.qr.key]), attributes: asked.map(([name]) => name) }, answerType, (answer, receipt) => { audited(answer, entry, receipt) }, fail)
        }
        // Admitted by this node, then by the fleet when it shares nonces and quota (src/fleet-security).
        if (caller === undefined) run()
        else deps.admission!.admitted(caller, { endpoint: CARD_QR_PATH, attributes: (asked.length > 0 ? asked : all).map(([name]) => name) }, 1, run, fail)
      } catch (err) {
        fail(err)
      }
    },
    onTooLarge () {
      res.cork(() => { sendError(res, 'IDV_ERR_PAYLOAD_TOO_LARGE', `the body limit here is ${deps.maxBodyBytes} bytes`, requestId, true) })
      end()
    },
    onAborted () {
      aborted = true
      end()
    }
  })
}

/**
 * The audit entry of a QR verification, as /v1/verify's: the outcome in full
 * (not as shaped for an overall-only party), plus which QR fields were not
 * checked and why. The QR string itself (PIN, name, address) is never written.
 */
function qrEntry (requestId: string, partyId: string | null, key: number, asked: ReadonlyArray<readonly [AttributeName, string]>, answer: CardQrAnswer, audit: AuditTrail, receipt: Receipt | undefined): AuditRecord {
  const { match, citizen, attributes, notChecked } = answer
  const entry: { -readonly [K in keyof AuditRecord]: AuditRecord[K] } = {
    requestId, partyId, endpoint: CARD_QR_PATH, pinHash: audit.pinHash(key), attributes: asked.map(([name]) => name), results: { match, citizen, attributes, notChecked }
  }
  if (receipt !== undefined) entry.receiptLeafHash = audit.receiptLeafHash(receipt.leaf)
  return entry
}

function encode (answer: object, type: MediaType): string | Uint8Array {
  return type === 'msgpack' ? packr.pack(answer) : JSON.stringify(answer)
}
