/**
 * MTH(D[lo:hi]) of the log's tree from the stored complete-subtree hashes:
 * a power-of-two range is one stored hash, any other splits at its largest
 * power of two, as RFC 6962 §2.1 defines the tree. This is the source the
 * shared proof code (src/merkle/proofs.ts) reads from.
 */
import { nodeHash } from '../merkle/rfc6962.js'
import { splitPoint, type SubtreeHashes } from '../merkle/proofs.js'

/** A hash the proof needs was removed by retention (or never indexed). */
export class MissingHashError extends Error {
  constructor (level: number, index: number) {
    super(`the hash of subtree ${index} at level ${level} is not kept`)
    this.name = 'MissingHashError'
  }
}

export function subtreeHashes (stored: (level: number, index: number) => Buffer | undefined): SubtreeHashes {
  const mth = (lo: number, hi: number): Buffer => {
    const n = hi - lo
    if (isPowerOfTwo(n)) {
      const level = Math.log2(n)
      const index = lo / n
      const h = Number.isInteger(index) ? stored(level, index) : undefined
      if (h === undefined) throw new MissingHashError(level, index)
      return h
    }
    const k = splitPoint(n)
    return nodeHash(mth(lo, lo + k), mth(lo + k, hi))
  }
  return mth
}

function isPowerOfTwo (n: number): boolean {
  return n > 0 && Number.isInteger(Math.log2(n))
}
