/**
 * One audit entry: one answer (a verification, one item of a batch, one chip
 * check) or one look at a citizen's history. Stored as the UTF-8 JSON below,
 * members in this order; those bytes are the RFC 6962 leaf, so anyone can
 * re-hash a log without our code. No plaintext personal data: the citizen is
 * a keyed hash of the PIN (`pinHash`, HMAC with the node's hash key, so only
 * the operator can find a citizen's entries, and a stolen log reveals no PIN).
 */

/** What a route records; the log adds `time` and `node`. */
export interface AuditRecord {
  readonly requestId: string
  /** The relying party that asked; null on the developer-only unsigned service. */
  readonly partyId: string | null
  readonly endpoint: string
  /** The item's position in a batch request. */
  readonly item?: number
  /** Keyed hash of the PIN asked about (base64url, 128 bits); null when there was none (an invalid item, a chip that did not verify). */
  readonly pinHash: string | null
  /** Attribute names asked about. */
  readonly attributes: readonly string[]
  /** The answer as given: match, citizen state and per-attribute results, or the item's error code, or the chip verdict. */
  readonly results: Readonly<Record<string, unknown>>
  /** SHA-256 leaf hash (base64url) of the receipt the answer carried, when it carried one. */
  readonly receiptLeafHash?: string
}

export interface AuditEntry extends AuditRecord {
  /** RFC 3339 UTC, milliseconds. */
  readonly time: string
  readonly node: string
}

/** The leaf bytes of an entry. */
export function encodeEntry (time: string, node: string, r: AuditRecord): Buffer {
  const entry: Record<string, unknown> = { time, node, requestId: r.requestId, partyId: r.partyId, endpoint: r.endpoint }
  if (r.item !== undefined) entry.item = r.item
  entry.pinHash = r.pinHash
  entry.attributes = r.attributes
  entry.results = r.results
  if (r.receiptLeafHash !== undefined) entry.receiptLeafHash = r.receiptLeafHash
  return Buffer.from(JSON.stringify(entry), 'utf8')
}

/** Parses an entry's bytes; undefined when they are not an entry (a corrupt log). */
export function decodeEntry (bytes: Uint8Array): AuditEntry | undefined {
  let v: unknown
  try {
    v = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'))
  } catch {
    return undefined
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined
  const e = v as Record<string, unknown>
  if (typeof e.time !== 'string' || typeof e.node !== 'string' || typeof e.requestId !== 'string' || typeof e.endpoint !== 'string') return undefined
  if (!(e.partyId === null || typeof e.partyId === 'string') || !(e.pinHash === null || typeof e.pinHash === 'string')) return undefined
  if (!Array.isArray(e.attributes) || typeof e.results !== 'object' || e.results === null) return undefined
  return e as unknown as AuditEntry
}

/** Whether an entry's answer was a no-match (for a party's usage report). */
export function isNoMatch (results: Readonly<Record<string, unknown>>): boolean {
  return results.match === false
}
