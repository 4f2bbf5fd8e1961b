/**
 * Every failure a client can see, with a stable code (IDV_ERR_*), an HTTP status
 * and a title. Codes are never renamed once shipped; README "Error codes" lists
 * them, and test/unit/errors.test.ts keeps README and this table in step.
 */
import { AUTH_ERROR_CODES } from './auth/codes.js'

export const ERROR_CODES = {
  IDV_ERR_MALFORMED_BODY: { status: 400, title: 'Malformed request body', fix: 'Send valid JSON or MessagePack matching the Content-Type header.' },
  IDV_ERR_INVALID_FIELD: { status: 400, title: 'Invalid field', fix: 'Check the field named in detail against the API description (/openapi.json).' },
  IDV_ERR_INVALID_PIN: { status: 400, title: 'Invalid personal identification number', fix: 'A PIN is 12 digits: a known 3-digit province code, a century/gender digit, 2 birth-year digits, 6 digits.' },
  IDV_ERR_UNKNOWN_ATTRIBUTE: { status: 400, title: 'Unknown attribute', fix: 'Ask only about fullName, dateOfBirth, gender, placeOfOrigin, placeOfResidence, cardIssueDate, cardExpiryDate.' },
  IDV_ERR_NO_ATTRIBUTES: { status: 400, title: 'No attributes to verify', fix: 'Supply at least one attribute.' },
  IDV_ERR_TOO_MANY_ITEMS: { status: 400, title: 'Too many batch items', fix: 'Split the batch; the limit is in detail.' },
  IDV_ERR_NOT_FOUND: { status: 404, title: 'Not found', fix: 'Check the path; see /openapi.json.' },
  IDV_ERR_METHOD_NOT_ALLOWED: { status: 405, title: 'Method not allowed', fix: 'Use the method the Allow header lists.' },
  IDV_ERR_NOT_ACCEPTABLE: { status: 406, title: 'Not acceptable', fix: 'Accept application/json or application/vnd.msgpack.' },
  IDV_ERR_PAYLOAD_TOO_LARGE: { status: 413, title: 'Payload too large', fix: 'Send a smaller body; the limit is in detail (batches allow more than single requests).' },
  IDV_ERR_UNSUPPORTED_MEDIA_TYPE: { status: 415, title: 'Unsupported media type', fix: 'Send Content-Type application/json or application/vnd.msgpack.' },
  IDV_ERR_NOT_READY: { status: 503, title: 'Service not ready', fix: 'Retry after the time in Retry-After.' },
  IDV_ERR_OVERLOADED: { status: 503, title: 'Service overloaded', fix: 'The crypto pool is full; retry after the time in Retry-After.' },
  IDV_ERR_CHIP_NOT_CONFIGURED: { status: 503, title: 'Chip verification not configured', fix: 'The operator must set IDV_CSCA_DIR to a directory of CSCA certificates.' },
  IDV_ERR_DUPLICATE_KEY: { status: 400, title: 'Duplicate key in the body', fix: 'An object (JSON) or map (MessagePack) names the key in detail twice; send each key once.' },
  IDV_ERR_REQUEST_FRAMING: { status: 400, title: 'Ambiguous request framing', fix: 'Send one Content-Length, or Transfer-Encoding: chunked alone, never both and never twice; the connection is closed.' },
  IDV_ERR_INTERNAL: { status: 500, title: 'Internal error', fix: 'A bug: report the requestId to the operators.' },
  // Relying-party authentication (401), authorisation (403) and limits (429, 503).
  ...AUTH_ERROR_CODES
} as const satisfies Record<string, { status: number, title: string, fix: string }>

export type ErrorCode = keyof typeof ERROR_CODES

/** A failure with a stable code; becomes an RFC 9457 problem response. */
export class ServiceError extends Error {
  readonly code: ErrorCode
  readonly status: number
  readonly detail: string | undefined
  /** Sent as Retry-After (429, 503). */
  readonly retryAfterSeconds: number | undefined

  constructor (code: ErrorCode, detail?: string, retryAfterSeconds?: number) {
    super(detail ?? ERROR_CODES[code].title)
    this.name = 'ServiceError'
    this.code = code
    this.status = ERROR_CODES[code].status
    this.detail = detail
    this.retryAfterSeconds = retryAfterSeconds ?? (code === 'IDV_ERR_NOT_READY' || code === 'IDV_ERR_OVERLOADED' ? 1 : undefined)
  }
}

/** A port the service was told to use cannot be bound: a setup problem, reported in one line (exit 2). */
export class ListenError extends Error {
  constructor (message: string) {
    super(message)
    this.name = 'ListenError'
  }
}

/** Thrown at start-up for bad configuration; lists every problem at once. */
export class ConfigError extends Error {
  readonly problems: readonly string[]
  constructor (problems: readonly string[]) {
    super(`invalid configuration:\n  - ${problems.join('\n  - ')}`)
    this.name = 'ConfigError'
    this.problems = problems
  }
}
