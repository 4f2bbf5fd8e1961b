/**
 * Receipts on answers. The receipt's leaf commits to the request id, the party,
 * the time, a keyed hash of the PIN(s), the attributes asked and the results as
 * the party saw them; for a batch the results are committed by digest (SHA-256
 * of the canonical JSON of `results`), so the leaf stays small and the answer is
 * not carried twice.
 */
import type { JsonValue } from './canonical-json.js'
import { packr, type MediaType } from '../http/media.js'
import { encodeLeaf, receiptJson, type Receipt, type ReceiptSigner } from './receipt.js'

export interface AnswerFacts {
  readonly requestId: string
  readonly partyId: string
  /** Keyed hash of the PIN, or of the batch's PINs in order. */
  readonly pinHash: string
  readonly attributes: readonly string[]
  /** What the leaf commits to as results; default: the answer without its requestId. */
  readonly results?: JsonValue
}

/**
 * Encodes `answer` with its receipt as the last member, and calls `done` (with
 * the receipt, for the audit log) once the receipt's batch is signed; `fail` if signing failed. Callbacks rather
 * than a Promise: this runs once per signed answer.
 */
export function encodeWithReceipt (
  signer: ReceiptSigner, answer: object, facts: AnswerFacts, type: MediaType,
  done: (encoded: string | Uint8Array, receipt: Receipt) => void, fail: (err: Error) => void
): void {
  let results = facts.results
  if (results === undefined) {
    const { requestId: _, ...rest } = answer as Record<string, unknown>
    results = rest as JsonValue
  }
  const leaf = encodeLeaf({ requestId: facts.requestId, partyId: facts.partyId, time: new Date().toISOString(), pinHash: facts.pinHash, attributes: facts.attributes, results })
  signer.add(leaf, (receipt) => {
    // JSON: the answer's own serialisation with the receipt spliced in before its closing brace.
    if (type === 'msgpack') { done(packr.pack({ ...answer, receipt }), receipt); return }
    const json = JSON.stringify(answer)
    done(`${json.length === 2 ? '{' : `${json.slice(0, -1)},`}"receipt":${receiptJson(receipt)}}`, receipt)
  }, fail)
}
