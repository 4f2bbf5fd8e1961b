/**
 * Writing responses on uWS: status lines encoded once, problems as RFC 9457
 * JSON, and large bodies sent with backpressure (tryEnd + onWritable) so a slow
 * reader of a 10,000-item batch answer cannot make the server buffer without bound.
 */
import type { HttpResponse } from 'uWebSockets.js'
import { noteResponse } from './lifecycle.js'
import { errorCatalogue as catalogue, ServiceError, type ErrorCode } from '../errors.js'
import { toProblem, type Problem } from '../problem.js'

const REASONS: Record<number, string> = {
  200: 'OK', 201: 'Created', 204: 'No Content', 206: 'Partial Content', 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed',
  406: 'Not Acceptable', 409: 'Conflict', 413: 'Content Too Large', 415: 'Unsupported Media Type', 416: 'Range Not Satisfiable', 422: 'Unprocessable Content', 429: 'Too Many Requests',
  500: 'Internal Server Error', 503: 'Service Unavailable'
}
const STATUS_LINES = new Map<number, string>(Object.entries(REASONS).map(([code, reason]) => [Number(code), `${code} ${reason}`]))

export function statusLine (status: number): string {
  return STATUS_LINES.get(status) ?? `${status} Unknown`
}

export const PROBLEM_JSON = 'application/problem+json'

/** Bodies above this are streamed with backpressure instead of copied into uWS at once. */
const LARGE_BODY = 64 * 1024

/**
 * Writes a whole response. Call inside a corked context (the top of a handler,
 * an onData callback, or res.cork()).
 */
export function send (res: HttpResponse, status: number, contentType: string, body: string | Uint8Array, requestId?: string, close = false): void {
  noteResponse(res, status)
  res.writeStatus(statusLine(status)).writeHeader('content-type', contentType).writeHeader('cache-control', 'no-store')
  if (requestId !== undefined) res.writeHeader('x-request-id', requestId)
  if (typeof body !== 'string' && body.byteLength > LARGE_BODY && !close) {
    sendWithBackpressure(res, body)
    return
  }
  res.end(body, close)
}

export function sendProblem (res: HttpResponse, problem: Problem, close = false, extraHeaders?: Readonly<Record<string, string>>): void {
  noteResponse(res, problem.status, problem.code)
  res.writeStatus(statusLine(problem.status)).writeHeader('content-type', PROBLEM_JSON).writeHeader('cache-control', 'no-store')
  if (problem.requestId !== undefined) res.writeHeader('x-request-id', problem.requestId)
  if (extraHeaders !== undefined) for (const [k, v] of Object.entries(extraHeaders)) res.writeHeader(k, v)
  res.end(JSON.stringify(problem), close)
}

export function sendError (res: HttpResponse, code: ErrorCode, detail?: string, requestId?: string, close = false): void {
  sendFailure(res, new ServiceError(code, detail), requestId, close)
}

/** Answers anything thrown: a ServiceError as its problem (with Retry-After when it has one), anything else as a 500 that leaks nothing. */
export function sendFailure (res: HttpResponse, err: unknown, requestId?: string, close = false): void {
  const retry = err instanceof ServiceError && err.retryAfterSeconds !== undefined ? { 'retry-after': String(err.retryAfterSeconds) } : undefined
  sendProblem(res, toProblem(err, requestId), close, retry)
}

/** Streams a body, resuming from onWritable when the socket's buffer is full. The caller must have registered onAborted. */
function sendWithBackpressure (res: HttpResponse, body: Uint8Array): void {
  const total = body.byteLength
  const start = res.getWriteOffset()
  const [ok, done] = res.tryEnd(body, total)
  if (ok || done) return
  res.onWritable((offset) => {
    const [ok2] = res.tryEnd(body.subarray(offset - start), total)
    return ok2
  })
}

/** The list served at GET /errors, so a problem's `type` (/errors#CODE) resolves to something useful. */
export function errorCatalogue (): string {
  return JSON.stringify(catalogue())
}
