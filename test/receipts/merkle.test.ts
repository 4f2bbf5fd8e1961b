/**
 * The Merkle tree against a literal transcription of RFC 6962 §2.1 (MTH and
 * PATH as recursive definitions) for every size 1..40, the Certificate
 * Transparency reference roots, and proof verification refusing every change.
 */
import { createHash } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { buildTree, leafHash, merkleRoot, nodeHash, rootFromInclusionProof, verifyInclusion } from '../../src/merkle/rfc6962.js'

const sha = (...parts: Uint8Array[]): Buffer => { const h = createHash('sha256'); for (const p of parts) h.update(p); return h.digest() }

/** RFC 6962 §2.1, word for word: k is the largest power of two smaller than n. */
function mth (d: Buffer[]): Buffer {
  const n = d.length
  if (n === 0) return sha()
  if (n === 1) return sha(Buffer.from([0]), d[0] as Buffer)
  let k = 1
  while (k * 2 < n) k *= 2
  return sha(Buffer.from([1]), mth(d.slice(0, k)), mth(d.slice(k)))
}

/** RFC 6962 §2.1.1 PATH(m, D[n]). */
function path (m: number, d: Buffer[]): Buffer[] {
  const n = d.length
  if (n === 1) return []
  let k = 1
  while (k * 2 < n) k *= 2
  return m < k ? [...path(m, d.slice(0, k)), mth(d.slice(k))] : [...path(m - k, d.slice(k)), mth(d.slice(0, k))]
}

const leaves = (n: number): Buffer[] => Array.from({ length: n }, (_, i) => Buffer.from(`answer ${i}`))

describe('RFC 6962 Merkle tree', () => {
  it('matches the Certificate Transparency reference roots for 1..8 leaves', () => {
    const data = ['', '00', '10', '2021', '3031', '40414243', '5051525354555657', '606162636465666768696a6b6c6d6e6f'].map((h) => Buffer.from(h, 'hex'))
    const roots = [
      '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
      'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
      'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
      'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
      '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4',
      '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
      'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
      '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328'
    ]
    for (let n = 1; n <= 8; n++) expect(merkleRoot(data.slice(0, n).map(leafHash)).toString('hex')).toBe(roots[n - 1])
    expect(merkleRoot([]).toString('hex')).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855')
  })

  it('root and every proof equal the RFC definitions for sizes 1..40', () => {
    for (let n = 1; n <= 40; n++) {
      const d = leaves(n)
      const tree = buildTree(d.map(leafHash))
      expect(tree.root.equals(mth(d)), `root of ${n}`).toBe(true)
      for (let m = 0; m < n; m++) {
        const expected = path(m, d)
        expect(tree.proofs[m]?.map((h) => h.toString('hex')), `path ${m} of ${n}`).toEqual(expected.map((h) => h.toString('hex')))
        expect(verifyInclusion(leafHash(d[m] as Buffer), m, n, tree.proofs[m] as Buffer[], tree.root)).toBe(true)
      }
    }
  })

  it('refuses a wrong index, an index past the size, a changed byte anywhere, a short or long path', () => {
    for (const n of [1, 2, 3, 5, 7, 8, 13, 32, 33]) {
      const d = leaves(n)
      const tree = buildTree(d.map(leafHash))
      for (let m = 0; m < n; m++) {
        const leaf = leafHash(d[m] as Buffer)
        const proof = tree.proofs[m] as Buffer[]
        if (n > 1) expect(verifyInclusion(leaf, (m + 1) % n, n, proof, tree.root)).toBe(false)
        // A proof can fit more than one size (leaf 0 of 3 and of 4 share a path shape), which is
        // why the size is inside the signed root; an index at or past the size never verifies.
        expect(verifyInclusion(leaf, m, m, proof, tree.root)).toBe(false)
        expect(verifyInclusion(leaf, m, n, [...proof, Buffer.alloc(32)], tree.root)).toBe(false)
        if (proof.length > 0) expect(verifyInclusion(leaf, m, n, proof.slice(1), tree.root)).toBe(false)
        for (let j = 0; j < proof.length; j++) {
          const changed = proof.map((p) => Buffer.from(p))
          const target = changed[j] as Buffer
          target[m % 32] = (target[m % 32] as number) ^ 0x01
          expect(verifyInclusion(leaf, m, n, changed, tree.root)).toBe(false)
        }
        const badRoot = Buffer.from(tree.root)
        badRoot[31] = (badRoot[31] as number) ^ 0x80
        expect(verifyInclusion(leaf, m, n, proof, badRoot)).toBe(false)
      }
    }
  })

  it('refuses nonsense without throwing', () => {
    const h = leafHash(Buffer.from('x'))
    expect(rootFromInclusionProof(h, -1, 1, [])).toBeUndefined()
    expect(rootFromInclusionProof(h, 0, 0, [])).toBeUndefined()
    expect(rootFromInclusionProof(h, 1.5, 4, [])).toBeUndefined()
    expect(rootFromInclusionProof(h, 0, 2 ** 60, [])).toBeUndefined()
    expect(rootFromInclusionProof(h, 0, 2, [Buffer.alloc(31)])).toBeUndefined()
    expect(rootFromInclusionProof(h, 0, 2, Array.from({ length: 65 }, () => Buffer.alloc(32)))).toBeUndefined()
    // Large sizes work with arithmetic, not 32-bit shifts.
    expect(rootFromInclusionProof(h, 2 ** 40, 2 ** 40 + 1, [Buffer.alloc(32)])?.equals(nodeHash(Buffer.alloc(32), h))).toBe(true)
  })
})
