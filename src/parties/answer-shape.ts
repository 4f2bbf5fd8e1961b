/**
 * What a party may see of an answer. Per-attribute results let a caller
 * enumerate a birth date one guess at a time, so some parties (`overall-only`
 * in the registry) get only the overall `match`, as Aadhaar does.
 */
import type { Party } from './schema.js'

/** The answer an overall-only party receives: `match` (and the request id), nothing per attribute. */
export function shapeAnswer<A extends { match: boolean, requestId?: string }> (party: Party, answer: A): A | { match: boolean, requestId?: string } {
  if (party.resultDetail === 'per-attribute') return answer
  return answer.requestId === undefined ? { match: answer.match } : { requestId: answer.requestId, match: answer.match }
}
