/**
 * `idv check`'s exit codes, by what the service said: an operator's script
 * retries on 3 (connection lost, or the service cannot answer now), backs off
 * on 5 and calls a person on 4 or 1.
 */
import { describe, expect, it } from 'vitest'
import { exitCodeFor } from '../../src/client/check.js'

describe('idv check exit codes', () => {
  it('5 for rate and quota, by code or status', () => {
    expect(exitCodeFor('IDV_ERR_QUOTA_EXCEEDED')).toBe(5)
    expect(exitCodeFor('IDV_ERR_RATE_LIMITED')).toBe(5)
    expect(exitCodeFor('IDV_ERR_RATE_LIMITED', 429)).toBe(5)
  })

  it('4 for authentication and policy refusals', () => {
    expect(exitCodeFor('IDV_ERR_SIGNATURE_INVALID', 401)).toBe(4)
    expect(exitCodeFor('IDV_ERR_ATTRIBUTE_FORBIDDEN', 403)).toBe(4)
  })

  it('3 when the service ends a stream or refuses because it cannot answer now, as for a lost connection', () => {
    for (const code of ['IDV_ERR_NOT_READY', 'IDV_ERR_AUDIT_UNAVAILABLE', 'IDV_ERR_OVERLOADED', 'IDV_ERR_FLEET_UNAVAILABLE']) expect(exitCodeFor(code)).toBe(3)
    expect(exitCodeFor(undefined, 503)).toBe(3)
  })

  it('1 for the input and anything else', () => {
    expect(exitCodeFor('IDV_ERR_STREAM_FRAMING')).toBe(1)
    expect(exitCodeFor('IDV_ERR_INVALID_FIELD', 400)).toBe(1)
    expect(exitCodeFor(undefined)).toBe(1)
  })
})
