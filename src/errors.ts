/**
 * The one registry of coded errors, as fastify's lib/errors.js keeps one: every
 * failure a client can see, with a stable code (IDV_ERR_*), an HTTP status, a
 * title and a fix. Codes are never renamed once shipped; README "Error codes"
 * lists them, and test/unit/errors.test.ts keeps README and the registry in step.
 *
 * The codes every part of the service can answer with are defined here. A
 * capability or library defines its own with `defineErrorCodes` in the module
 * that raises them, and adds them to the `ErrorCodeRegistry` type by module
 * augmentation (`declare module '../errors.js'`), so this file never imports
 * the code that extends it and every code stays checked at compile time.
 */

export interface ErrorSpec {
  readonly status: number
  readonly title: string
  readonly fix: string
}

const CORE_CODES = {
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
  IDV_ERR_DUPLICATE_KEY: { status: 400, title: 'Duplicate key in the body', fix: 'An object (JSON) or map (MessagePack) names the key in detail twice; send each key once.' },
  IDV_ERR_REQUEST_FRAMING: { status: 400, title: 'Ambiguous request framing', fix: 'Send one Content-Length, or Transfer-Encoding: chunked alone, never both and never twice; the connection is closed.' },
  IDV_ERR_INTERNAL: { status: 500, title: 'Internal error', fix: 'A bug: report the requestId to the operators.' }
} as const satisfies Record<string, ErrorSpec>

type CoreCodes = typeof CORE_CODES
/** Every code, core and added (module augmentation adds members). */
export interface ErrorCodeRegistry extends CoreCodes {}
export type ErrorCode = keyof ErrorCodeRegistry & string

const registry = new Map<string, ErrorSpec>(Object.entries(CORE_CODES))
/** Codes that answer 503 and so carry Retry-After by default. */
const RETRY_SOON = new Set<string>(['IDV_ERR_NOT_READY'])

/**
 * Adds codes to the registry (once per module; a code defined twice with
 * another meaning is a bug and throws at start-up). `retrySoon` codes carry
 * `Retry-After: 1` unless the thrower says otherwise.
 */
export function defineErrorCodes<T extends Record<string, ErrorSpec>> (codes: T, options: { retrySoon?: ReadonlyArray<keyof T & string> } = {}): T {
  for (const [code, spec] of Object.entries(codes)) {
    const known = registry.get(code)
    if (known !== undefined && (known.status !== spec.status || known.title !== spec.title)) throw new Error(`error code ${code} is defined twice`)
    registry.set(code, spec)
  }
  for (const code of options.retrySoon ?? []) RETRY_SOON.add(code)
  return codes
}

/** The status, title and fix of a code. */
export function errorSpec (code: ErrorCode): ErrorSpec {
  const spec = registry.get(code)
  if (spec === undefined) throw new Error(`error code ${code} was never defined (its module was not loaded)`)
  return spec
}

/** Every code defined so far, in definition order. */
export function errorCodes (): string[] {
  return [...registry.keys()]
}

/** Every code with its status, title and fix (GET /errors, README). */
export function errorCatalogue (): Array<{ code: string } & ErrorSpec> {
  return [...registry].map(([code, e]) => ({ code, status: e.status, title: e.title, fix: e.fix }))
}

/** A refusal as a value, where a check reports rather than throws: code for machines, detail for the developer. */
export interface Failure<C extends ErrorCode = ErrorCode> {
  readonly ok: false
  readonly code: C
  readonly detail: string
}

export function failure<C extends ErrorCode> (code: C, detail: string): Failure<C> {
  return { ok: false, code, detail }
}

/** A failure with a stable code; becomes an RFC 9457 problem response. */
export class ServiceError extends Error {
  readonly code: ErrorCode
  readonly status: number
  readonly detail: string | undefined
  /** Sent as Retry-After (429, 503). */
  readonly retryAfterSeconds: number | undefined

  constructor (code: ErrorCode, detail?: string, retryAfterSeconds?: number) {
    const spec = errorSpec(code)
    super(detail ?? spec.title)
    this.name = 'ServiceError'
    this.code = code
    this.status = spec.status
    this.detail = detail
    this.retryAfterSeconds = retryAfterSeconds ?? (RETRY_SOON.has(code) ? 1 : undefined)
  }
}

/** A problem with what a command-line user asked for (a missing file, a URL given as a path), reported as it is: one line, exit 2. */
export class UsageError extends Error {
  constructor (message: string) {
    super(message)
    this.name = 'UsageError'
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
