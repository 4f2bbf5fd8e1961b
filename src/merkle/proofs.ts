/**
 * RFC 6962 proofs over a tree too large to hold: inclusion paths (§2.1.1) and
 * consistency proofs (§2.1.2) computed from a `SubtreeHashes` source, which
 * answers MTH(D[lo:hi]) for the subtrees the recursion asks about, and the
 * consistency check of RFC 9162 §2.1.4.2. The right edge (right-edge.ts)
 * and a store of complete subtree hashes (src/audit) make such a source.
 *
 * The recursions are the RFC's own PATH and SUBPROOF: a tree of n leaves
 * splits at k, the largest power of two below n, so every subtree asked for
 * starts at a multiple of its own largest power of two.
 */
import { HASH_BYTES, MAX_PROOF_LENGTH, nodeHash } from './rfc6962.js'

/** MTH(D[lo:hi]) of the tree the proof is about (lo < hi). */
export type SubtreeHashes = (lo: number, hi: number) => Buffer

/** The largest power of two strictly below n (n ≥ 2). */
export function splitPoint (n: number): number {
  let k = 1
  while (k * 2 < n) k *= 2
  return k
}

/** PATH(m, D[0:n]): the inclusion proof of leaf m in a tree of n leaves, bottom-up. */
export function inclusionPath (m: number, n: number, hashes: SubtreeHashes): Buffer[] {
  if (!(Number.isSafeInteger(m) && Number.isSafeInteger(n) && m >= 0 && m < n)) throw new RangeError(`no leaf ${m} in a tree of ${n}`)
  const path: Buffer[] = []
  const walk = (m: number, lo: number, hi: number): void => {
    if (hi - lo === 1) return
    const k = splitPoint(hi - lo)
    if (m < k) { walk(m, lo, lo + k); path.push(hashes(lo + k, hi)) } else { walk(m - k, lo + k, hi); path.push(hashes(lo, lo + k)) }
  }
  walk(m, 0, n)
  return path
}

/** PROOF(m, D[0:n]): the consistency proof of the tree of m leaves with the tree of n (0 < m ≤ n). */
export function consistencyPath (m: number, n: number, hashes: SubtreeHashes): Buffer[] {
  if (!(Number.isSafeInteger(m) && Number.isSafeInteger(n) && m > 0 && m <= n)) throw new RangeError(`no consistency proof from ${m} to ${n}`)
  const proof: Buffer[] = []
  const sub = (m: number, lo: number, hi: number, complete: boolean): void => {
    const n = hi - lo
    if (m === n) { if (!complete) proof.push(hashes(lo, hi)); return }
    const k = splitPoint(n)
    if (m <= k) { sub(m, lo, lo + k, complete); proof.push(hashes(lo + k, hi)) } else { sub(m - k, lo + k, hi, false); proof.push(hashes(lo, lo + k)) }
  }
  sub(m, 0, n, true)
  return proof
}

/**
 * RFC 9162 §2.1.4.2: whether `proof` shows the tree of `first` leaves (root
 * `firstRoot`) is a prefix of the tree of `second` leaves (root `secondRoot`).
 */
export function verifyConsistency (first: number, second: number, proof: readonly Uint8Array[], firstRoot: Uint8Array, secondRoot: Uint8Array): boolean {
  if (!(Number.isSafeInteger(first) && Number.isSafeInteger(second) && first > 0 && first <= second)) return false
  if (proof.length > MAX_PROOF_LENGTH || proof.some((p) => p.length !== HASH_BYTES)) return false
  if (first === second) return proof.length === 0 && Buffer.from(firstRoot).equals(secondRoot)
  if (proof.length === 0) return false
  // A first tree of a power-of-two size is itself a node of the second: the proof starts from its root.
  const path = isPowerOfTwo(first) ? [firstRoot, ...proof] : [...proof]
  let fn = first - 1
  let sn = second - 1
  while (fn % 2 === 1) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2) }
  let fr: Buffer = Buffer.from(path[0]!)
  let sr: Buffer = fr
  for (const c of path.slice(1)) {
    if (sn === 0) return false
    if (fn % 2 === 1 || fn === sn) {
      fr = nodeHash(c, fr)
      sr = nodeHash(c, sr)
      if (fn % 2 === 0) while (fn % 2 === 0 && fn !== 0) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2) }
    } else {
      sr = nodeHash(sr, c)
    }
    fn = Math.floor(fn / 2)
    sn = Math.floor(sn / 2)
  }
  return sn === 0 && fr.equals(firstRoot) && sr.equals(secondRoot)
}

function isPowerOfTwo (n: number): boolean {
  let k = 1
  while (k < n) k *= 2
  return k === n
}
