/**
 * Signed answers without a signature per answer. Answers completed in the same
 * event-loop turn become the leaves of one RFC 6962 Merkle tree; its root is
 * signed once (compact JWS, EdDSA) and every answer carries a receipt:
 *
 *   { v: 1, leaf, index, path, signedRoot }
 *
 * - leaf: the canonical JSON (RFC 8785) of { v, requestId, partyId, time,
 *   pinHash, attributes, results }, carried as the exact string that was
 *   hashed, so a verifier hashes bytes and never re-canonicalises;
 * - index, path: the leaf's position and inclusion proof (base64url hashes,
 *   bottom-up, RFC 6962 §2.1.1);
 * - signedRoot: JWS with header { alg: "EdDSA", kid, typ: "idv-receipt-root" }
 *   and payload { root: base64url, size, time }.
 *
 * To check one: SHA-256(0x00 ‖ leaf) with the path must give `root` for a tree
 * of `size` leaves (RFC 9162 §2.1.3.2), and the JWS must verify with the key
 * named by kid in the service's JWKS (GET /v1/keys).
 *
 * Batching: the first answer of a turn schedules a flush with setImmediate,
 * which runs once the current turn's I/O callbacks are done, so a lone answer
 * waits for no timer and a busy turn shares one signature among all its answers
 * (up to maxBatch, beyond which a batch is flushed at once).
 */
import { hash } from 'node:crypto'
import { canonicalJson, type JsonValue } from './canonical-json.js'
import { signCompact, strictBase64url, verifyCompact } from './jws.js'
import type { ReceiptKeyRing, SigningKeyPair } from './keys.js'
import { buildTree, HASH_BYTES, leafHash, leafHashOfString, MAX_PROOF_LENGTH, verifyInclusion } from '../merkle/rfc6962.js'

export const RECEIPT_TYP = 'idv-receipt-root'
const MAX_LEAF_CHARS = 1 << 20

/** What one answer commits to. */
export interface ReceiptLeaf {
  readonly requestId: string
  readonly partyId: string
  /** RFC 3339, UTC. */
  readonly time: string
  /** A keyed hash of the PIN (base64url), never the PIN. */
  readonly pinHash: string
  /** The attributes asked about. */
  readonly attributes: readonly string[]
  /** The answer as sent (match, citizen, per-attribute results as the party saw them). */
  readonly results: JsonValue
}

export interface Receipt {
  readonly v: 1
  readonly leaf: string
  readonly index: number
  readonly path: readonly string[]
  readonly signedRoot: string
}

/** The digest a batch receipt commits to: base64url SHA-256 of the canonical JSON of the results array. */
export function resultsDigest (results: unknown): string {
  return hash('sha256', canonicalJson(results), 'base64url')
}

/**
 * The leaf's bytes: canonical JSON with a format version, written member by
 * member in RFC 8785 order (attributes, partyId, pinHash, requestId, results,
 * time, v): exactly canonicalJson({ v: 1, ...leaf }), which
 * test/receipts/receipt.test.ts checks, without building and sorting a wrapper
 * object per answer. `resultsJson` is canonicalJson(leaf.results) when the
 * caller already has it.
 */
export function encodeLeaf (leaf: ReceiptLeaf, resultsJson = canonicalJson(leaf.results)): string {
  return `{"attributes":${canonicalJson(leaf.attributes)},"partyId":${canonicalJson(leaf.partyId)},"pinHash":${canonicalJson(leaf.pinHash)},` +
    `"requestId":${canonicalJson(leaf.requestId)},"results":${resultsJson},"time":${canonicalJson(leaf.time)},"v":1}`
}

/** Leaf hashes computed while signing, so the audit log need not hash each leaf again. */
const leafHashes = new WeakMap<Receipt, Buffer>()

/** RFC 6962 leaf hash of a receipt's leaf (base64url): the one its batch computed, or computed now. */
export function receiptLeafHash (receipt: Receipt): string {
  return (leafHashes.get(receipt) ?? leafHashOfString(receipt.leaf)).toString('base64url')
}

export interface ReceiptSignerOptions {
  /** The key ring (its current key signs) or a function giving the signing key. */
  readonly keys: ReceiptKeyRing | (() => SigningKeyPair)
  /** Most leaves under one root. Default 4096. */
  readonly maxBatch?: number
  readonly now?: () => number
}

interface Pending {
  readonly leaf: string
  readonly resolve: (r: Receipt) => void
  readonly reject: (e: Error) => void
}

export class ReceiptSigner {
  readonly #key: () => SigningKeyPair
  readonly #maxBatch: number
  readonly #now: () => number
  #pending: Pending[] = []
  #scheduled = false
  /** Counters for metrics and the benchmark. */
  readonly stats = { batches: 0, leaves: 0 }

  constructor (options: ReceiptSignerOptions) {
    const keys = options.keys
    this.#key = typeof keys === 'function' ? keys : () => keys.current
    this.#maxBatch = options.maxBatch ?? 4096
    this.#now = options.now ?? Date.now
  }

  /** The receipt of one answer, once its batch is signed. */
  async sign (leaf: ReceiptLeaf | string): Promise<Receipt> {
    return await new Promise<Receipt>((resolve, reject) => { this.add(typeof leaf === 'string' ? leaf : encodeLeaf(leaf), resolve, reject) })
  }

  /** Like sign, with callbacks: the hot path creates no Promise per answer. If `resolve` throws, `reject` gets the error. */
  add (leaf: string, resolve: (r: Receipt) => void, reject: (e: Error) => void): void {
    this.#pending.push({ leaf, resolve, reject })
    if (this.#pending.length >= this.#maxBatch) this.flush()
    else if (!this.#scheduled) {
      this.#scheduled = true
      setImmediate(() => this.flush())
    }
  }

  /** Signs every pending leaf under one root now. */
  flush (): void {
    this.#scheduled = false
    const batch = this.#pending
    if (batch.length === 0) return
    this.#pending = []
    let receipts: Receipt[]
    try {
      const hashes: Buffer[] = batch.map((p) => leafHashOfString(p.leaf))
      const tree = buildTree(hashes)
      const key = this.#key()
      const signedRoot = signCompact(
        { alg: 'EdDSA', kid: key.kid, typ: RECEIPT_TYP },
        { root: tree.root.toString('base64url'), size: batch.length, time: new Date(this.#now()).toISOString() },
        key.privateKey
      )
      // Interior hashes are shared by many proofs: encode each once.
      const encoded = new Map<Buffer, string>()
      const b64 = (h: Buffer): string => {
        let s = encoded.get(h)
        if (s === undefined) { s = h.toString('base64url'); encoded.set(h, s) }
        return s
      }
      receipts = batch.map((p, index) => {
        const receipt: Receipt = { v: 1, leaf: p.leaf, index, path: (tree.proofs[index] ?? []).map(b64), signedRoot }
        leafHashes.set(receipt, hashes[index]!)
        return receipt
      })
    } catch (err) {
      for (const p of batch) p.reject(err instanceof Error ? err : new Error(String(err)))
      return
    }
    this.stats.batches++
    this.stats.leaves += batch.length
    // Each answer on its own: a callback that throws fails its own answer, never the others of the batch.
    batch.forEach((p, index) => {
      try {
        p.resolve(receipts[index]!)
      } catch (err) {
        p.reject(err instanceof Error ? err : new Error(String(err)))
      }
    })
  }
}

/**
 * The receipt as JSON, written by concatenation: exactly JSON.stringify(receipt)
 * (same members, same order), since path elements and the JWS are base64url
 * and dots, which JSON never escapes. Only the leaf needs JSON.stringify.
 */
export function receiptJson (r: Receipt): string {
  return `{"v":1,"leaf":${JSON.stringify(r.leaf)},"index":${r.index},"path":[${r.path.length === 0 ? '' : `"${r.path.join('","')}"`}],"signedRoot":"${r.signedRoot}"}`
}

export type ReceiptCheck =
  | { readonly ok: true, readonly kid: string, readonly time: string, readonly size: number, readonly index: number, readonly root: string, readonly leaf: Record<string, unknown> }
  | { readonly ok: false, readonly reason: string }

function bad (reason: string): ReceiptCheck {
  return { ok: false, reason }
}

/** Checks a receipt offline against the service's JWKS; never throws. */
export function verifyReceipt (receipt: unknown, jwks: unknown): ReceiptCheck {
  if (typeof receipt !== 'object' || receipt === null) return bad('the receipt is not an object')
  const r = receipt as Record<string, unknown>
  if (r.v !== 1) return bad('unknown receipt version')
  if (typeof r.leaf !== 'string' || r.leaf.length > MAX_LEAF_CHARS) return bad('the receipt has no leaf string')
  if (typeof r.index !== 'number' || !Number.isSafeInteger(r.index) || r.index < 0) return bad('the receipt index is not a non-negative integer')
  if (!Array.isArray(r.path) || r.path.length > MAX_PROOF_LENGTH) return bad('the receipt path is not a list of at most 64 hashes')
  const path: Buffer[] = []
  for (const p of r.path) {
    const h = typeof p === 'string' ? strictBase64url(p) : undefined
    if (h === undefined || h.length !== HASH_BYTES) return bad('a path element is not a base64url SHA-256 hash')
    path.push(h)
  }
  const jws = verifyCompact(r.signedRoot, jwks)
  if (!jws.ok) return bad(jws.reason)
  if (jws.header.typ !== RECEIPT_TYP) return bad(`the JWS typ is not ${RECEIPT_TYP}`)
  const { root, size, time } = jws.payload
  const rootBytes = typeof root === 'string' ? strictBase64url(root) : undefined
  if (rootBytes === undefined || rootBytes.length !== HASH_BYTES) return bad('the signed root is not a base64url SHA-256 hash')
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 1) return bad('the signed size is not a positive integer')
  if (typeof time !== 'string') return bad('the signed root has no time')
  if (!verifyInclusion(leafHash(Buffer.from(r.leaf, 'utf8')), r.index, size, path, rootBytes)) {
    return bad('the leaf and path do not lead to the signed root')
  }
  let leaf: unknown
  try {
    leaf = JSON.parse(r.leaf)
  } catch {
    return bad('the leaf is not JSON')
  }
  if (typeof leaf !== 'object' || leaf === null || Array.isArray(leaf)) return bad('the leaf is not a JSON object')
  return { ok: true, kid: jws.kid, time, size, index: r.index, root: root as string, leaf: leaf as Record<string, unknown> }
}
