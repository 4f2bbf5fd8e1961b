/**
 * RFC 6962 Merkle trees (as restated in RFC 9162 §2.1), so that any Certificate
 * Transparency style implementation can check our receipts:
 * leaf hash = SHA-256(0x00 ‖ leaf), node hash = SHA-256(0x01 ‖ left ‖ right),
 * and a tree of n leaves splits at the largest power of two below n (so sizes
 * that are not powers of two have a fixed, standard shape).
 *
 * Inclusion proofs list sibling hashes from the leaf upwards (RFC 6962 §2.1.1);
 * verification is the algorithm of RFC 9162 §2.1.3.2. Sizes and indexes are
 * handled with arithmetic, not 32-bit shifts, because a hostile receipt can
 * claim any size.
 */
import { hash } from 'node:crypto'

export const HASH_BYTES = 32
/** Proofs of trees up to 2^64 leaves are at most 64 hashes; anything longer is malformed. */
export const MAX_PROOF_LENGTH = 64

// One-shot crypto.hash: a third of createHash().update().digest()'s cost on messages this short.

export function leafHash (leaf: Uint8Array): Buffer {
  const data = Buffer.allocUnsafe(1 + leaf.length)
  data[0] = 0
  data.set(leaf, 1)
  return hash('sha256', data, 'buffer')
}

/** leafHash of a string's UTF-8 bytes (a receipt leaf), without encoding it first. */
export function leafHashOfString (leaf: string): Buffer {
  return hash('sha256', `\0${leaf}`, 'buffer')
}

export function nodeHash (left: Uint8Array, right: Uint8Array): Buffer {
  const data = Buffer.allocUnsafe(1 + left.length + right.length)
  data[0] = 1
  data.set(left, 1)
  data.set(right, 1 + left.length)
  return hash('sha256', data, 'buffer')
}

/** The largest power of two strictly below n (n ≥ 2). */
function split (n: number): number {
  let k = 1
  while (k * 2 < n) k *= 2
  return k
}

export interface MerkleTree {
  readonly root: Buffer
  /** proofs[i]: the inclusion path of leaf i, bottom-up. */
  readonly proofs: readonly Buffer[][]
}

/**
 * The root and every leaf's inclusion proof in one pass, O(n log n): each
 * subtree's hash is appended to the proofs of all leaves of its sibling, on
 * the way back up, which yields bottom-up order.
 */
export function buildTree (leafHashes: readonly Buffer[]): MerkleTree {
  const n = leafHashes.length
  if (n === 0) throw new RangeError('a tree needs at least one leaf')
  const proofs: Buffer[][] = Array.from({ length: n }, () => [])
  const subtree = (lo: number, hi: number): Buffer => {
    if (hi - lo === 1) return leafHashes[lo] as Buffer
    const mid = lo + split(hi - lo)
    const left = subtree(lo, mid)
    const right = subtree(mid, hi)
    for (let i = lo; i < mid; i++) (proofs[i] as Buffer[]).push(right)
    for (let i = mid; i < hi; i++) (proofs[i] as Buffer[]).push(left)
    return nodeHash(left, right)
  }
  return { root: subtree(0, n), proofs }
}

/** MTH of RFC 6962 §2.1 (empty tree: SHA-256 of nothing); the root alone, without the proofs buildTree keeps. */
export function merkleRoot (leafHashes: readonly Uint8Array[]): Buffer {
  if (leafHashes.length === 0) return hash('sha256', '', 'buffer')
  const subtree = (lo: number, hi: number): Uint8Array => {
    if (hi - lo === 1) return leafHashes[lo]!
    const mid = lo + split(hi - lo)
    return nodeHash(subtree(lo, mid), subtree(mid, hi))
  }
  return Buffer.from(subtree(0, leafHashes.length))
}

/**
 * The root implied by a leaf hash, its index, the tree size and the proof
 * (RFC 9162 §2.1.3.2), or undefined when the proof cannot belong to such a tree.
 */
export function rootFromInclusionProof (leaf: Uint8Array, index: number, size: number, proof: readonly Uint8Array[]): Buffer | undefined {
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(size) || index < 0 || index >= size) return undefined
  if (proof.length > MAX_PROOF_LENGTH) return undefined
  let fn = index
  let sn = size - 1
  let r: Buffer = Buffer.from(leaf)
  for (const p of proof) {
    if (p.length !== HASH_BYTES || sn === 0) return undefined
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHash(p, r)
      while (fn % 2 === 0 && fn !== 0) {
        fn = Math.floor(fn / 2)
        sn = Math.floor(sn / 2)
      }
    } else {
      r = nodeHash(r, p)
    }
    fn = Math.floor(fn / 2)
    sn = Math.floor(sn / 2)
  }
  return sn === 0 ? r : undefined
}

export function verifyInclusion (leaf: Uint8Array, index: number, size: number, proof: readonly Uint8Array[], root: Uint8Array): boolean {
  const r = rootFromInclusionProof(leaf, index, size, proof)
  return r !== undefined && r.equals(root)
}
