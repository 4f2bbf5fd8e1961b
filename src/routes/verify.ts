/**
 * POST /v1/verify and POST /v1/verify/batch: the hot path.
 *
 * Headers are read before the handler returns (uWS requests are stack-allocated),
 * the body is collected with a limit, and from there everything is synchronous:
 * decode, validate, one store read per item, keyed-hash compares, answer. So the
 * answer is written inside uWS's data callback, corked, with no Promise per request.
 */
import type { HttpRequest, HttpResponse, TemplatedApp } from 'uWebSockets.js'
import { ServiceError } from '../errors.js'
import { readBody } from '../http/body.js'
import { CONTENT_TYPES, decodeBody, packr, requestMediaType, responseMediaType, type MediaType } from '../http/media.js'
import type { RequestIds } from '../http/request-id.js'
import { send, sendError, sendProblem } from '../http/respond.js'
import { problemFor, toProblem, type Problem } from '../problem.js'
import type { Verifier, VerifyOutcome } from '../domain/verifier.js'
import { parseVerifyRequest } from '../domain/verify-request.js'
import type { Logger } from '../log.js'

export interface VerifyRouteDeps {
  readonly verifier: Verifier
  readonly ids: RequestIds
  readonly log: Logger
  readonly limits: { readonly maxBodyBytes: number, readonly maxBatchBodyBytes: number, readonly maxBatchItems: number }
  /** False while starting or draining: answer 503. */
  isReady (): boolean
}

export function registerVerifyRoutes (app: TemplatedApp, deps: VerifyRouteDeps): void {
  app.post('/v1/verify', (res, req) => { handle(res, req, deps, false) })
  app.post('/v1/verify/batch', (res, req) => { handle(res, req, deps, true) })
}

function handle (res: HttpResponse, req: HttpRequest, deps: VerifyRouteDeps, batch: boolean): void {
  const requestId = deps.ids.next()
  if (!deps.isReady()) { sendError(res, 'IDV_ERR_NOT_READY', 'the service is starting or shutting down', requestId, true); return }
  const contentType = req.getHeader('content-type')
  const requestType = requestMediaType(contentType)
  if (requestType === undefined) {
    sendError(res, 'IDV_ERR_UNSUPPORTED_MEDIA_TYPE', `Content-Type ${JSON.stringify(contentType.slice(0, 100))} is not application/json or application/vnd.msgpack`, requestId, true)
    return
  }
  const responseType = responseMediaType(req.getHeader('accept'), requestType)
  if (responseType === undefined) { sendError(res, 'IDV_ERR_NOT_ACCEPTABLE', 'Accept allows neither application/json nor application/vnd.msgpack', requestId, true); return }
  const limit = batch ? deps.limits.maxBatchBodyBytes : deps.limits.maxBodyBytes
  readBody(res, req.getHeader('content-length'), limit, {
    onBody (body) {
      res.cork(() => {
        try {
          const decoded = decodeBody(body, requestType)
          const answer = batch ? answerBatch(decoded, deps, requestId, responseType) : answerOne(decoded, deps, requestId, responseType)
          send(res, 200, CONTENT_TYPES[responseType], answer, requestId)
        } catch (err) {
          if (!(err instanceof ServiceError)) deps.log.error({ err, requestId }, 'verify failed')
          sendProblem(res, toProblem(err, requestId))
        }
      })
    },
    onTooLarge () {
      res.cork(() => { sendError(res, 'IDV_ERR_PAYLOAD_TOO_LARGE', `the body limit here is ${limit} bytes`, requestId, true) })
    },
    onAborted () { /* nothing to undo: verification has no side effects */ }
  })
}

function answerOne (decoded: unknown, deps: VerifyRouteDeps, requestId: string, type: MediaType): string | Uint8Array {
  const request = parseVerifyRequest(decoded)
  if (request instanceof ServiceError) throw request
  const outcome = deps.verifier.verify(request)
  if (type === 'msgpack') return packr.pack({ requestId, ...outcome })
  return `{"requestId":"${requestId}",${outcomeJsonFields(outcome)}}`
}

function answerBatch (decoded: unknown, deps: VerifyRouteDeps, requestId: string, type: MediaType): string | Uint8Array {
  if (typeof decoded !== 'object' || decoded === null || !Array.isArray((decoded as { items?: unknown }).items)) {
    throw new ServiceError('IDV_ERR_INVALID_FIELD', 'body must be an object with an items array')
  }
  const items = (decoded as { items: unknown[] }).items
  if (items.length === 0) throw new ServiceError('IDV_ERR_INVALID_FIELD', 'items is empty')
  if (items.length > deps.limits.maxBatchItems) throw new ServiceError('IDV_ERR_TOO_MANY_ITEMS', `a batch holds at most ${deps.limits.maxBatchItems} items, this one has ${items.length}`)
  const results: Array<VerifyOutcome | { error: Problem }> = new Array(items.length)
  for (let i = 0; i < items.length; i++) {
    const request = parseVerifyRequest(items[i], `items[${i}].`)
    results[i] = request instanceof ServiceError ? { error: problemFor(request.code, request.detail) } : deps.verifier.verify(request)
  }
  if (type === 'msgpack') return packr.pack({ requestId, results })
  const parts = new Array<string>(results.length)
  for (let i = 0; i < results.length; i++) {
    const r = results[i]!
    parts[i] = 'error' in r ? `{"error":${JSON.stringify(r.error)}}` : `{${outcomeJsonFields(r)}}`
  }
  return Buffer.from(`{"requestId":"${requestId}","results":[${parts.join(',')}]}`)
}

/** JSON of an outcome by concatenation: every string in it comes from a fixed set, so nothing needs escaping. */
function outcomeJsonFields (o: VerifyOutcome): string {
  let attrs = ''
  for (const name in o.attributes) {
    attrs += `${attrs === '' ? '' : ','}"${name}":"${o.attributes[name as keyof typeof o.attributes]!}"`
  }
  return `"match":${o.match},"citizen":"${o.citizen}","attributes":{${attrs}}`
}
