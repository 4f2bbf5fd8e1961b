/**
 * Receipts for streamed rows: one per segment of rows (and one for the last,
 * shorter segment), not one per row. A segment's receipt is an ordinary
 * receipt (src/receipts: the leaf is signed under an RFC 6962 Merkle root with
 * the answers of the same event-loop turn) whose leaf commits to the segment:
 *
 *   results: { firstRow, rows, root }
 *
 * where `root` is the RFC 6962 Merkle root over the segment's records, each
 * leaf being the exact bytes of one record as sent (the NDJSON line without
 * its newline, or one MessagePack value), in row order; `pinHash` covers the
 * segment's PINs in order and `attributes` the attributes its rows asked.
 * `idv receipt verify RECEIPTS --rows RESULTS` recomputes the root from a
 * results file (src/receipts/receipt-cli.ts).
 */
import { leafHash, leafHashOfString, merkleRoot } from '../merkle/rfc6962.js'
import { receiptJson, type Receipt, type ReceiptSigner } from '../receipts/index.js'
import type { Verifier } from '../verify/index.js'
import type { RowResult } from './rows.js'

export interface SegmentFacts {
  readonly firstRow: number
  readonly rows: number
  readonly root: string
}

export class SegmentReceipts {
  readonly #signer: ReceiptSigner
  readonly #verifier: Verifier
  readonly #partyId: string
  readonly #requestId: string
  readonly #rows: number
  #first: number
  #hashes: Uint8Array[] = []
  #keys: number[] = []

  /** `firstRow`: the number of the first row (a resumed stream continues the numbering of the file). */
  constructor (o: { signer: ReceiptSigner, verifier: Verifier, partyId: string, requestId: string, rowsPerSegment: number, firstRow: number }) {
    this.#signer = o.signer
    this.#verifier = o.verifier
    this.#partyId = o.partyId
    this.#requestId = o.requestId
    this.#rows = o.rowsPerSegment
    this.#first = o.firstRow
  }

  /** Adds a row; returns the segment's receipt (to come) when this row completes one. */
  add (row: RowResult): Promise<Receipt> | undefined {
    this.#hashes.push(typeof row.record === 'string' ? leafHashOfString(row.record) : leafHash(row.record))
    this.#keys.push(row.key)
    return this.#hashes.length >= this.#rows ? this.close() : undefined
  }

  get open (): number {
    return this.#hashes.length
  }

  /** Closes the open segment (the last one may be short); undefined when it is empty. */
  close (): Promise<Receipt> | undefined {
    if (this.#hashes.length === 0) return undefined
    const facts: SegmentFacts = { firstRow: this.#first, rows: this.#hashes.length, root: merkleRoot(this.#hashes).toString('base64url') }
    const pinHash = this.#verifier.pinHash(this.#partyId, this.#keys)
    this.#first += this.#hashes.length
    this.#hashes = []
    this.#keys = []
    return this.#signer.sign({
      requestId: `${this.#requestId}#${facts.firstRow}`,
      partyId: this.#partyId,
      time: new Date().toISOString(),
      pinHash,
      attributes: [],
      results: { ...facts }
    })
  }
}

/** The record that carries a segment's receipt in a stream or a job's receipts file (one JSON line). */
export function receiptRecord (r: Receipt): string {
  return `{"receipt":${receiptJson(r)}}`
}
