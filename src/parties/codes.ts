/**
 * Stable failure codes of a party's policy (what it may ask), added to the one
 * error registry (src/errors.ts).
 */
import { defineErrorCodes } from '../errors.js'

export const POLICY_ERROR_CODES = defineErrorCodes({
  IDV_ERR_ENDPOINT_FORBIDDEN: { status: 403, title: 'Endpoint not allowed', fix: 'Your party may not call this endpoint; ask the operator to allow it.' },
  IDV_ERR_ATTRIBUTE_FORBIDDEN: { status: 403, title: 'Attribute not allowed', fix: 'Your party may not ask about the attribute named in detail; ask only about allowed attributes.' },
  IDV_ERR_BATCH_TOO_LARGE: { status: 403, title: 'Batch over the party limit', fix: 'Your party may send at most the number of items in detail per batch; split it.' }
})

type PolicyCodes = typeof POLICY_ERROR_CODES
declare module '../errors.js' {
  interface ErrorCodeRegistry extends PolicyCodes {}
}
