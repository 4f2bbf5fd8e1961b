/**
 * Errors with stable codes.
 *
 * Callers branch on `err.code`, never on messages, so codes are never renamed once
 * shipped. Normal outcomes (a missing key) are values, not errors; these classes
 * are for misuse (bad arguments, writes on a read-only view) and for damage on disk
 * that recovery must not paper over.
 */

export const ERROR_CODES = {
  /** An argument is out of range (key not an integer in [0, 2^40), value too long, ...). */
  INVALID_ARGUMENT: 'NFI_ERR_INVALID_ARGUMENT',
  /** Another live process holds the directory's write lock. */
  LOCKED: 'NFI_ERR_LOCKED',
  /** A log record before the log's tail fails its checksum or structure checks. */
  LOG_CORRUPT: 'NFI_ERR_LOG_CORRUPT',
  /** A segment file fails its checksum or structure checks. */
  SEGMENT_CORRUPT: 'NFI_ERR_SEGMENT_CORRUPT',
  /** The engine was closed. */
  CLOSED: 'NFI_ERR_CLOSED',
  /** A write was attempted through a read-only open or a shared view. */
  READ_ONLY: 'NFI_ERR_READ_ONLY',
  /** A write or fsync failed; the engine refuses further writes (the file state is unknown). */
  WRITE_FAILED: 'NFI_ERR_WRITE_FAILED'
} as const

export type ErrorCode = typeof ERROR_CODES[keyof typeof ERROR_CODES]

export class NativeFreeIndexError extends Error {
  readonly code: ErrorCode

  constructor (code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'NativeFreeIndexError'
    this.code = code
  }
}

export function invalidArgument (message: string): NativeFreeIndexError {
  return new NativeFreeIndexError(ERROR_CODES.INVALID_ARGUMENT, message)
}
