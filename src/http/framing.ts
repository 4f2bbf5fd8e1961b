/**
 * Request framing that uWebSockets.js accepts but must not be trusted
 * (RFC 9112 §6.1, §6.3): uWS v20.30 frames a request with two Content-Length
 * fields by the first one and reads the rest of the body as the next request,
 * and treats any Transfer-Encoding (`gzip`, `chunked, chunked`) as chunked.
 * A proxy in front that frames the same bytes differently (the last
 * Content-Length, or the transfer codings as written) would then see one
 * request where we see two: request smuggling. Such a request is refused with
 * 400 and its connection closed, before anything else is looked at, and no
 * request behind it on the connection is answered (see `refuse`).
 *
 * What uWS refuses itself (Content-Length together with Transfer-Encoding, a
 * Content-Length that is not a plain number) never reaches a handler: uWS
 * closes the connection without an answer.
 *
 * Cost: one `req.forEach` per request with a module-level callback and
 * module-level counters, so nothing is allocated per request beyond the
 * header strings uWS hands over; signed requests reuse the gate's copy of the
 * headers instead (capturedFramingProblem).
 */
import type { HttpRequest, HttpResponse } from 'uWebSockets.js'
import { sendError } from './respond.js'

let contentLengths = 0
let transferEncodings = 0
let transferEncoding = ''

function visit (name: string, value: string): void {
  // uWS hands over lower-case names.
  if (name.length === 14 && name === 'content-length') contentLengths++
  else if (name.length === 17 && name === 'transfer-encoding') { transferEncodings++; transferEncoding = value }
}

/** Why the request's framing is refused, or undefined. Call inside the handler (HttpRequest dies when it returns). */
export function framingProblem (req: HttpRequest): string | undefined {
  contentLengths = 0
  transferEncodings = 0
  req.forEach(visit)
  return framingVerdict()
}

function framingVerdict (): string | undefined {
  if (contentLengths > 1) return 'the request has more than one Content-Length header field'
  if (transferEncodings > 1) return 'the request has more than one Transfer-Encoding header field'
  if (transferEncodings === 1 && transferEncoding.trim().toLowerCase() !== 'chunked') {
    return 'Transfer-Encoding must be chunked alone'
  }
  return undefined
}

/**
 * The same verdict from headers already copied out of uWS with repeated fields
 * joined by `, ` (the signature gate's capture), so a signed request pays no
 * second `forEach`. A single Content-Length holding a comma never reaches a
 * handler (uWS closes the connection), so a comma means two fields; a joined
 * Transfer-Encoding is not `chunked` alone, as two fields are refused anyway.
 */
export function capturedFramingProblem (headers: ReadonlyMap<string, string>): string | undefined {
  const length = headers.get('content-length')
  if (length !== undefined && length.includes(',')) return 'the request has more than one Content-Length header field'
  const coding = headers.get('transfer-encoding')
  if (coding !== undefined && coding.trim().toLowerCase() !== 'chunked') return 'Transfer-Encoding must be chunked alone'
  return undefined
}

/** As refuseBadFraming, for a request whose headers the signature gate already copied. */
export function refuseCapturedFraming (res: HttpResponse, captured: { readonly headers: ReadonlyMap<string, string> }, requestId?: string): boolean {
  const problem = capturedFramingProblem(captured.headers)
  if (problem === undefined) return false
  refuse(res, problem, requestId)
  return true
}

/** Answers 400 IDV_ERR_REQUEST_FRAMING and closes when the framing is refused; true when it did (the handler must then return). */
export function refuseBadFraming (res: HttpResponse, req: HttpRequest, requestId?: string): boolean {
  const problem = framingProblem(req)
  if (problem === undefined) return false
  refuse(res, problem, requestId)
  return true
}

/**
 * The 400, on the next turn of the event loop rather than in the handler.
 * uWS v20.30 goes on parsing the bytes of the same read after a handler has
 * answered with `Connection: close`, so a request pipelined behind this one
 * (the smuggled one) would be answered too. While this answer is still pending,
 * uWS closes the connection instead when it parses another request on it; so
 * the smuggled request is never served: either it arrives and the connection
 * is closed unanswered, or nothing follows and the 400 goes out, then the close.
 */
function refuse (res: HttpResponse, problem: string, requestId: string | undefined): void {
  let aborted = false
  res.onAborted(() => { aborted = true })
  setImmediate(() => {
    if (!aborted) res.cork(() => { sendError(res, 'IDV_ERR_REQUEST_FRAMING', problem, requestId, true) })
  })
}
