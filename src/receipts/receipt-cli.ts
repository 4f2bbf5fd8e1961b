/**
 * What `idv receipt verify FILE [--jwks FILE]` does: checks a saved answer (or a
 * bare receipt) offline. FILE is the JSON answer as received, with its
 * `receipt` member; the JWKS is the file saved from GET /v1/keys (default: the
 * one the caller supplies, e.g. from the service's own key ring). When the
 * answer carries a requestId it must be the leaf's, so a receipt cannot be
 * passed off as another answer's.
 */
import { readFileSync } from 'node:fs'
import type { Jwks } from './keys.js'
import { verifyReceipt, type ReceiptCheck } from './receipt.js'

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
  if (receipt !== answer && typeof answer?.requestId === 'string' && answer.requestId !== check.leaf.requestId) {
    return { ok: false, exitCode: 1, message: `NOT VERIFIED: the answer's requestId ${answer.requestId} is not the receipt's ${String(check.leaf.requestId)}`, check }
  }
  return {
    ok: true,
    exitCode: 0,
    message: `verified: request ${String(check.leaf.requestId)} of party ${String(check.leaf.partyId)} at ${String(check.leaf.time)}, ` +
      `leaf ${check.index + 1} of ${check.size} under a root signed by ${check.kid} at ${check.time}`,
    check
  }
}
