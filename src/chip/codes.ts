/**
 * Stable failure codes of chip verification's service (the pool and its
 * trust store), added to the one error registry (src/errors.ts). The verdicts
 * of passive authentication are reason codes in answers, not errors.
 */
import { defineErrorCodes } from '../errors.js'

export const CHIP_ERROR_CODES = defineErrorCodes({
  IDV_ERR_OVERLOADED: { status: 503, title: 'Service overloaded', fix: 'The crypto pool is full; retry after the time in Retry-After.' },
  IDV_ERR_CHIP_NOT_CONFIGURED: { status: 503, title: 'Chip verification not configured', fix: 'The operator must set IDV_CSCA_DIR to a directory of CSCA certificates.' }
}, { retrySoon: ['IDV_ERR_OVERLOADED'] })

type ChipCodes = typeof CHIP_ERROR_CODES
declare module '../errors.js' {
  interface ErrorCodeRegistry extends ChipCodes {}
}
