/**
 * Receipts on answers. The receipt's leaf commits to the request id, the party,
 * the time, a keyed hash of the PIN(s), the attributes asked and the results as
 * the party saw them; for a batch the results are committed by digest (SHA-256
 * of the canonical JSON of `results`), so the leaf stays small and the answer is
 * not carried twice.
 */
import { hash } from 'node:crypto'
import { canonicalJson, type JsonValue } from '../receipts/canonical-json.js'
import { encodeLeaf, type ReceiptSigner } from '../receipts/receipt.js'

export interface AnswerFacts {
  readonly requestId: string
  readonly partyId: string
  /** Keyed hash of the PIN, or of the batch's PINs in order. */
  readonly pinHash: string
  readonly attributes: readonly string[]
  /** What the leaf commits to as results; default: the answer without its requestId. */
  readonly results?: JsonValue
}

/** The answer with its receipt, once the receipt's batch is signed. */
export async function withReceipt (signer: ReceiptSigner, answer: object, facts: AnswerFacts): Promise<Record<string, unknown>> {
  const { requestId: _, ...rest } = answer as Record<string, unknown>
  const receipt = await signer.sign(encodeLeaf({
    requestId: facts.requestId,
    partyId: facts.partyId,
    time: new Date().toISOString(),
    pinHash: facts.pinHash,
    attributes: facts.attributes,
    results: facts.results ?? (rest as JsonValue)
  }))
  return { ...answer, receipt }
}

/** The digest a batch receipt commits to: base64url SHA-256 of the canonical JSON of the results array. */
export function resultsDigest (results: unknown): string {
  return hash('sha256', canonicalJson(results), 'base64url')
}
