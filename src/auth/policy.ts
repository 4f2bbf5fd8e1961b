/**
 * Per-party authorisation once the signature has verified: endpoint, attributes
 * and batch size (all 403), and what an overall-only party may see of an
 * answer. Per-attribute results let a caller enumerate a birth date one guess at
 * a time, so some parties get only the overall `match`, as Aadhaar does.
 */
import { authFailure, type AuthFailure } from './codes.js'
import type { Party } from './party-schema.js'
import { clip } from '../clip.js'

export interface PolicyRequest {
  readonly endpoint: string
  /** Attribute names asked (every item of a batch together). */
  readonly attributes?: Iterable<string>
  /** Items in a batch request. */
  readonly batchItems?: number
}

export function authorize (party: Party, req: PolicyRequest): { readonly ok: true } | AuthFailure {
  if (party.status !== 'active') return authFailure('IDV_ERR_PARTY_DISABLED', `party ${party.id} is disabled`)
  if (!party.allowedEndpoints.has(req.endpoint)) return authFailure('IDV_ERR_ENDPOINT_FORBIDDEN', `party ${party.id} may not call ${req.endpoint}`)
  if (req.attributes !== undefined) {
    for (const a of req.attributes) {
      if (!party.allowedAttributes.has(a)) return authFailure('IDV_ERR_ATTRIBUTE_FORBIDDEN', `party ${party.id} may not ask about ${clip(a)}`)
    }
  }
  if (req.batchItems !== undefined && req.batchItems > party.maxBatchItems) {
    return authFailure('IDV_ERR_BATCH_TOO_LARGE', `party ${party.id} may send at most ${party.maxBatchItems} items per batch`)
  }
  return { ok: true }
}

/** The answer an overall-only party receives: `match` (and the request id), nothing per attribute. */
export function answerFor<A extends { match: boolean, requestId?: string }> (party: Party, answer: A): A | { match: boolean, requestId?: string } {
  if (party.resultDetail === 'per-attribute') return answer
  return answer.requestId === undefined ? { match: answer.match } : { requestId: answer.requestId, match: answer.match }
}
