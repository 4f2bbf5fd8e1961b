/**
 * What `idv receipt verify FILE [--jwks FILE]` does: checks a saved answer (or a
 * bare receipt) offline. FILE is the JSON answer as received, with its
 * `receipt` member; the JWKS is the file saved from GET /v1/keys (default: the
 * one the caller supplies, e.g. from the service's own key ring).
 *
 * A genuine receipt proves only what its leaf says, so every field the party
 * sees is compared with the leaf: the requestId, and the rest of the answer
 * with the leaf's `results` (for a batch, the item count and the SHA-256 of the
 * canonical JSON of `results`). An edited answer, or a made-up one carrying
 * another answer's receipt, is NOT VERIFIED with the first field that differs.
 */
import { createReadStream, readFileSync } from 'node:fs'
import { createInterface } from 'node:readline'
import { leafHashOfString, merkleRoot } from '../merkle/rfc6962.js'
import { canonicalJson, type JsonValue } from './canonical-json.js'
import type { Jwks } from './keys.js'
import { resultsDigest, verifyReceipt, type ReceiptCheck } from './receipt.js'

export interface ReceiptVerifyOptions {
  readonly file: string
  readonly jwksFile?: string | undefined
  /** Used when no jwksFile is given (the CLI passes the local service's key ring). */
  readonly defaultJwks?: (() => Jwks | undefined) | undefined
}

export interface ReceiptVerifyOutcome {
  readonly ok: boolean
  /** 0 verified, 1 did not verify, 2 could not check (unreadable file, no keys). */
  readonly exitCode: 0 | 1 | 2
  readonly message: string
  readonly check?: ReceiptCheck
}

function readJson (file: string): { ok: true, value: unknown } | { ok: false, message: string } {
  try {
    return { ok: true, value: JSON.parse(readFileSync(file, 'utf8')) }
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    return { ok: false, message: code !== undefined ? `cannot read ${file} (${code})` : `${file} is not JSON` }
  }
}

export function receiptVerifyCommand (o: ReceiptVerifyOptions): ReceiptVerifyOutcome {
  const doc = readJson(o.file)
  if (!doc.ok) return { ok: false, exitCode: 2, message: doc.message }
  let jwks: unknown
  if (o.jwksFile !== undefined) {
    const read = readJson(o.jwksFile)
    if (!read.ok) return { ok: false, exitCode: 2, message: read.message }
    jwks = read.value
  } else {
    jwks = o.defaultJwks?.()
    if (jwks === undefined) return { ok: false, exitCode: 2, message: 'no keys to check against: give --jwks FILE (saved from GET /v1/keys)' }
  }
  const answer = doc.value as Record<string, unknown> | null
  const receipt = typeof answer === 'object' && answer !== null && 'receipt' in answer ? answer.receipt : answer
  const check = verifyReceipt(receipt, jwks)
  if (!check.ok) return { ok: false, exitCode: 1, message: `NOT VERIFIED: ${check.reason}`, check }
  if (receipt !== answer && answer !== null) {
    const differs = answerDiffers(answer, check.leaf)
    if (differs !== undefined) return { ok: false, exitCode: 1, message: `NOT VERIFIED: ${differs}`, check }
  }
  return {
    ok: true,
    exitCode: 0,
    message: `verified: request ${String(check.leaf.requestId)} of party ${String(check.leaf.partyId)} at ${String(check.leaf.time)}, ` +
      `leaf ${check.index + 1} of ${check.size} under a root signed by ${check.kid} at ${check.time}`,
    check
  }
}

/** The first way the answer a party saw departs from what the receipt's leaf commits to; undefined when it does not. */
export function answerDiffers (answer: Record<string, unknown>, leaf: Record<string, unknown>): string | undefined {
  const { requestId, receipt: _, ...rest } = answer
  if (requestId !== leaf.requestId) return `the answer's requestId ${JSON.stringify(requestId)} is not the receipt's ${JSON.stringify(leaf.requestId)}`
  const committed = leaf.results as Record<string, unknown> | undefined
  // A batch commits to its results by count and digest (receipts/receipt.ts).
  if (Array.isArray(rest.results) && typeof committed?.sha256 === 'string') {
    if (Object.keys(rest).length !== 1) return `the answer has a field the receipt does not cover: ${Object.keys(rest).find((k) => k !== 'results') ?? ''}`
    if (rest.results.length !== committed.items) return `the answer has ${rest.results.length} results, the receipt ${String(committed.items)}`
    if (resultsDigest(rest.results) !== committed.sha256) return 'the answer\'s results are not the ones the receipt signed (their SHA-256 differs)'
    return undefined
  }
  return firstDifference(rest, committed, '')
}

/** Path of the first member where two JSON values differ, with both values. */
function firstDifference (seen: unknown, signed: unknown, path: string): string | undefined {
  if (isObject(seen) && isObject(signed)) {
    for (const key of new Set([...Object.keys(seen), ...Object.keys(signed)])) {
      const d = firstDifference(seen[key], signed[key], path === '' ? key : `${path}.${key}`)
      if (d !== undefined) return d
    }
    return undefined
  }
  if (Array.isArray(seen) && Array.isArray(signed) && seen.length === signed.length) {
    for (let i = 0; i < seen.length; i++) {
      const d = firstDifference(seen[i], signed[i], `${path}[${i}]`)
      if (d !== undefined) return d
    }
    return undefined
  }
  if (canonical(seen) === canonical(signed)) return undefined
  return `${path === '' ? 'the answer' : path} is ${canonical(seen) ?? 'absent'} in the answer but ${canonical(signed) ?? 'absent'} in the receipt`
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)
const canonical = (v: unknown): string | undefined => v === undefined ? undefined : canonicalJson(v as JsonValue)

export interface RowsVerifyOptions {
  /** The receipt records (one `{"receipt": …}` per line), as a stream or job gave them. */
  readonly file: string
  /** The answer records they sign for, one per line in row order (NDJSON as received). */
  readonly rowsFile: string
  readonly jwks: unknown
}

/**
 * `idv receipt verify RECEIPTS --rows RESULTS`: checks every segment receipt
 * (signature, inclusion of its leaf) and that the RFC 6962 root over the
 * segment's lines of RESULTS (each line's bytes a leaf) is the root the leaf
 * commits to; then that the receipts cover every line of RESULTS. Reads the
 * results once, line by line, holding one segment's leaf hashes at a time.
 */
export async function rowsReceiptVerify (o: RowsVerifyOptions): Promise<ReceiptVerifyOutcome> {
  const segments: Array<{ firstRow: number, rows: number, root: string, at: number }> = []
  let lineNo = 0
  for (const line of readFileSync(o.file, 'utf8').split('\n')) {
    lineNo++
    if (line === '') continue
    let record: { receipt?: unknown }
    try { record = JSON.parse(line) as { receipt?: unknown } } catch { return { ok: false, exitCode: 1, message: `NOT VERIFIED: line ${lineNo} of ${o.file} is not JSON` } }
    const check = verifyReceipt(record.receipt, o.jwks)
    if (!check.ok) return { ok: false, exitCode: 1, message: `NOT VERIFIED: receipt on line ${lineNo}: ${check.reason}`, check }
    const r = check.leaf.results as { firstRow?: unknown, rows?: unknown, root?: unknown } | undefined
    if (typeof r?.firstRow !== 'number' || typeof r.rows !== 'number' || typeof r.root !== 'string') return { ok: false, exitCode: 1, message: `NOT VERIFIED: the receipt on line ${lineNo} does not sign for a segment of rows` }
    segments.push({ firstRow: r.firstRow, rows: r.rows, root: r.root, at: lineNo })
  }
  segments.sort((a, b) => a.firstRow - b.firstRow)
  const lines = createInterface({ input: createReadStream(o.rowsFile, { encoding: 'utf8' }), crlfDelay: Infinity })
  let row = 0
  let s = 0
  let hashes: Buffer[] = []
  for await (const line of lines) {
    const seg = segments[s]
    if (seg === undefined || row < seg.firstRow) return { ok: false, exitCode: 1, message: `NOT VERIFIED: row ${row} of ${o.rowsFile} is covered by no receipt` }
    hashes.push(leafHashOfString(line))
    row++
    if (row === seg.firstRow + seg.rows) {
      if (merkleRoot(hashes).toString('base64url') !== seg.root) return { ok: false, exitCode: 1, message: `NOT VERIFIED: rows ${seg.firstRow}-${row - 1} are not the ones the receipt on line ${seg.at} signed (their Merkle root differs)` }
      hashes = []
      s++
    }
  }
  if (s < segments.length) return { ok: false, exitCode: 1, message: `NOT VERIFIED: ${o.rowsFile} ends at row ${row}, before the rows the receipt on line ${segments[s]!.at} signs for` }
  return { ok: true, exitCode: 0, message: `verified: ${row} rows under ${segments.length} receipts` }
}
