/**
 * The fleet check's failure code, added to the one error registry (src/errors.ts).
 * A replayed nonce and a used-up quota keep the codes a single node answers
 * (IDV_ERR_REPLAY, IDV_ERR_QUOTA_EXCEEDED): a party sees the same refusal
 * whichever node it reaches.
 */
import { defineErrorCodes } from '../errors.js'

export const FLEET_SECURITY_ERROR_CODES = defineErrorCodes({
  IDV_ERR_FLEET_UNAVAILABLE: {
    status: 503,
    title: 'Fleet security state unavailable',
    fix: 'This node cannot reach NATS to check the nonce and quota fleet-wide, so it refuses rather than risk a replay; retry after the time in Retry-After (another node may answer), signing the request anew.'
  }
}, { retrySoon: ['IDV_ERR_FLEET_UNAVAILABLE'] })

type FleetSecurityCodes = typeof FLEET_SECURITY_ERROR_CODES
declare module '../errors.js' {
  interface ErrorCodeRegistry extends FleetSecurityCodes {}
}
