/**
 * Per-party authorisation once the signature has verified: endpoint, attributes
 * and batch size (all 403). What a party may see of an answer is
 * answer-shape.ts.
 */
import { failure, type Failure } from '../errors.js'
import './codes.js'
import type { Party } from './schema.js'
import { clip } from '../clip.js'

export interface PolicyRequest {
  readonly endpoint: string
  /** Attribute names asked (every item of a batch together). */
  readonly attributes?: Iterable<string>
  /** Items in a batch request. */
  readonly batchItems?: number
}

export function authorize (party: Party, req: PolicyRequest): { readonly ok: true } | Failure {
  if (party.status !== 'active') return failure('IDV_ERR_PARTY_DISABLED', `party ${party.id} is disabled`)
  if (!party.allowedEndpoints.has(req.endpoint)) return failure('IDV_ERR_ENDPOINT_FORBIDDEN', `party ${party.id} may not call ${req.endpoint}`)
  if (req.attributes !== undefined) {
    for (const a of req.attributes) {
      if (!party.allowedAttributes.has(a)) return failure('IDV_ERR_ATTRIBUTE_FORBIDDEN', `party ${party.id} may not ask about ${clip(a)}`)
    }
  }
  if (req.batchItems !== undefined && req.batchItems > party.maxBatchItems) {
    return failure('IDV_ERR_BATCH_TOO_LARGE', `party ${party.id} may send at most ${party.maxBatchItems} items per batch`)
  }
  return { ok: true }
}
