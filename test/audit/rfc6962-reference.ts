/**
 * An independent RFC 6962 §2.1 implementation for the tests: written from the
 * RFC's definitions, over the whole list of leaves, using only node:crypto and
 * nothing of src/. MTH, PATH and PROOF are the RFC's recursions word for word,
 * so agreement with the project's code (which computes from stored subtree
 * hashes, a right edge and the RFC 9162 verification loops) is evidence both
 * follow the RFC.
 */
import { createHash } from 'node:crypto'

const sha256 = (...parts: Uint8Array[]): Buffer => {
  const h = createHash('sha256')
  for (const p of parts) h.update(p)
  return h.digest()
}

/** k: the largest power of two smaller than n (n > 1). */
function largestPowerOfTwoBelow (n: number): number {
  let k = 1
  while (k << 1 < n) k <<= 1
  return k
}

/** MTH(D[n]) of RFC 6962 §2.1. */
export function mth (d: readonly Uint8Array[]): Buffer {
  const n = d.length
  if (n === 0) return sha256(new Uint8Array(0))
  if (n === 1) return sha256(Buffer.from([0x00]), d[0]!)
  const k = largestPowerOfTwoBelow(n)
  return sha256(Buffer.from([0x01]), mth(d.slice(0, k)), mth(d.slice(k)))
}

/** PATH(m, D[n]) of RFC 6962 §2.1.1. */
export function path (m: number, d: readonly Uint8Array[]): Buffer[] {
  const n = d.length
  if (n === 1) return []
  const k = largestPowerOfTwoBelow(n)
  if (m < k) return [...path(m, d.slice(0, k)), mth(d.slice(k))]
  return [...path(m - k, d.slice(k)), mth(d.slice(0, k))]
}

/** PROOF(m, D[n]) of RFC 6962 §2.1.2. */
export function proof (m: number, d: readonly Uint8Array[]): Buffer[] {
  return subproof(m, d, true)
}

function subproof (m: number, d: readonly Uint8Array[], b: boolean): Buffer[] {
  const n = d.length
  if (m === n) return b ? [] : [mth(d)]
  const k = largestPowerOfTwoBelow(n)
  if (m <= k) return [...subproof(m, d.slice(0, k), b), mth(d.slice(k))]
  return [...subproof(m - k, d.slice(k), false), mth(d.slice(0, k))]
}
