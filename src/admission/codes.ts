/**
 * Stable failure codes of admission's limits (rate, daily quota), added to the
 * one error registry (src/errors.ts).
 */
import { defineErrorCodes } from '../errors.js'

export const ADMISSION_ERROR_CODES = defineErrorCodes({
  IDV_ERR_RATE_LIMITED: { status: 429, title: 'Rate limit reached', fix: 'Slow down; retry after the time in Retry-After.' },
  IDV_ERR_QUOTA_EXCEEDED: { status: 429, title: 'Daily quota used up', fix: 'The daily quota is used up; retry after the time in Retry-After (the next quota day).' }
})

type AdmissionCodes = typeof ADMISSION_ERROR_CODES
declare module '../errors.js' {
  interface ErrorCodeRegistry extends AdmissionCodes {}
}
