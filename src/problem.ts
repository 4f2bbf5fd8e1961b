/**
 * RFC 9457 problem details. `type` is a relative URI naming the code; GET /errors
 * on the service lists every code, and README "Error codes" documents them.
 */
import { clip } from './clip.js'
import { errorSpec, ServiceError, type ErrorCode } from './errors.js'

/** Longest detail at all: a backstop for an echo a call site forgot to clip. */
const MAX_DETAIL_CHARS = 1000

export interface Problem {
  type: string
  title: string
  status: number
  code: ErrorCode
  detail?: string
  requestId?: string
}

export function problemFor (code: ErrorCode, detail?: string, requestId?: string): Problem {
  const entry = errorSpec(code)
  const p: Problem = { type: `/errors#${code}`, title: entry.title, status: entry.status, code }
  if (detail !== undefined) p.detail = clip(detail, MAX_DETAIL_CHARS)
  if (requestId !== undefined) p.requestId = requestId
  return p
}

/** Maps anything thrown to a problem; unknown errors become a 500 that leaks nothing. */
export function toProblem (err: unknown, requestId?: string): Problem {
  if (err instanceof ServiceError) return problemFor(err.code, err.detail, requestId)
  return problemFor('IDV_ERR_INTERNAL', undefined, requestId)
}
