/**
 * The audit entries of streamed and job rows (docs/design/audit.md): one per
 * row, as for a batch item: endpoint, item = the row's number in the file,
 * the keyed PIN hash (null for a row without a valid PIN), the attributes
 * asked and the outcome in full (or the row's error code). A job's rows also
 * carry their segment receipt's leaf hash; a stream's rows cannot (a row is
 * sent before its segment, whose Merkle root covers rows not yet verified,
 * can be signed), and are tied to their receipt by the receipt's request id
 * `<stream request id>#<first row>` and row range instead.
 */
import type { AuditRecord, AuditTrail } from '../audit/index.js'
import type { RowResult } from './rows.js'

export interface RowsAt {
  readonly requestId: string
  readonly partyId: string | null
  readonly endpoint: '/v1/verify/stream' | '/v1/jobs'
  /** The number of the first row. */
  readonly firstRow: number
  /** The leaf hash (base64url) of the receipt that signs for these rows, when there is one. */
  readonly receiptLeafHash?: string
}

export function rowEntries (audit: AuditTrail, rows: readonly RowResult[], at: RowsAt): AuditRecord[] {
  const entries = new Array<AuditRecord>(rows.length)
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i]!
    const entry: { -readonly [K in keyof AuditRecord]: AuditRecord[K] } = {
      requestId: at.requestId,
      partyId: at.partyId,
      endpoint: at.endpoint,
      item: at.firstRow + i,
      pinHash: row.key >= 0 ? audit.pinHash(row.key) : null,
      attributes: row.attributes,
      results: row.results
    }
    if (at.receiptLeafHash !== undefined) entry.receiptLeafHash = at.receiptLeafHash
    entries[i] = entry
  }
  return entries
}
