/**
 * The shared Merkle library's proofs (src/merkle) against an independent
 * RFC 6962 implementation (rfc6962-reference.ts, node:crypto only) and the
 * published Certificate Transparency test vectors (the leaves "", 00, 10,
 * 2021, 3031, 40414243, 5051525354555657, 606162…6f, whose roots and proofs
 * every CT implementation pins).
 */
import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { consistencyPath, inclusionPath, verifyConsistency } from '../../src/merkle/proofs.js'
import { RightEdge } from '../../src/merkle/right-edge.js'
import { leafHash, nodeHash, verifyInclusion } from '../../src/merkle/rfc6962.js'
import { mth, path, proof } from './rfc6962-reference.js'

const hex = (s: string): Buffer => Buffer.from(s, 'hex')
const CT_LEAVES = ['', '00', '10', '2021', '3031', '40414243', '5051525354555657', '606162636465666768696a6b6c6d6e6f'].map(hex)
const CT_ROOTS = [
  '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d', 'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
  'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77', 'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
  '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4', '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
  'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c', '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328'
]
const CT_INCLUSION: Array<[number, number, string[]]> = [
  [0, 8, ['96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7', '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e', '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4']],
  [5, 8, ['bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b', 'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0', 'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7']]
]
const CT_CONSISTENCY: Array<[number, number, string[]]> = [
  [1, 1, []],
  [1, 8, ['96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7', '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e', '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4']],
  [6, 8, ['0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a', 'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0', 'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7']],
  [2, 5, ['5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e', 'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b']]
]

/** MTH(D[lo:hi]) by brute force over the leaves: the source the project's proof code reads from. */
const rangeHashes = (leaves: readonly Buffer[]) => (lo: number, hi: number): Buffer => mth(leaves.slice(lo, hi))

describe('RFC 6962 proofs (src/merkle) against published vectors', () => {
  it('the right edge gives the published root of every size', () => {
    const edge = new RightEdge()
    CT_LEAVES.forEach((leaf, i) => {
      edge.append(leafHash(leaf))
      expect(edge.root().toString('hex')).toBe(CT_ROOTS[i])
      expect(mth(CT_LEAVES.slice(0, i + 1)).toString('hex')).toBe(CT_ROOTS[i])
    })
    expect(new RightEdge().root().toString('hex')).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855')
  })

  it('makes and checks the published inclusion proofs', () => {
    for (const [m, n, expected] of CT_INCLUSION) {
      const p = inclusionPath(m, n, rangeHashes(CT_LEAVES.slice(0, n)))
      expect(p.map((h) => h.toString('hex'))).toEqual(expected)
      expect(verifyInclusion(leafHash(CT_LEAVES[m]!), m, n, p, hex(CT_ROOTS[n - 1]!))).toBe(true)
    }
  })

  it('makes and checks the published consistency proofs', () => {
    for (const [m, n, expected] of CT_CONSISTENCY) {
      const p = consistencyPath(m, n, rangeHashes(CT_LEAVES.slice(0, n)))
      expect(p.map((h) => h.toString('hex'))).toEqual(expected)
      expect(verifyConsistency(m, n, p, hex(CT_ROOTS[m - 1]!), hex(CT_ROOTS[n - 1]!))).toBe(true)
    }
  })
})

describe('RFC 6962 proofs (src/merkle) against an independent implementation', () => {
  const leaves = Array.from({ length: 40 }, () => randomBytes(1 + Math.floor(Math.random() * 40)))

  it('agrees on roots, inclusion paths and consistency proofs for every size up to 40', () => {
    const edge = new RightEdge()
    for (let n = 1; n <= leaves.length; n++) {
      edge.append(leafHash(leaves[n - 1]!))
      const d = leaves.slice(0, n)
      const root = mth(d)
      expect(edge.root().equals(root)).toBe(true)
      for (let m = 0; m < n; m++) {
        const p = inclusionPath(m, n, rangeHashes(d))
        expect(p).toEqual(path(m, d))
        expect(verifyInclusion(leafHash(d[m]!), m, n, p, root)).toBe(true)
      }
      for (let m = 1; m <= n; m++) {
        const p = consistencyPath(m, n, rangeHashes(d))
        expect(p).toEqual(proof(m, d))
        expect(verifyConsistency(m, n, p, mth(d.slice(0, m)), root)).toBe(true)
      }
    }
  })

  it('refuses a consistency proof with a changed hash, a wrong size or a wrong root', () => {
    const d = leaves.slice(0, 37)
    const p = proof(13, d)
    const old = mth(d.slice(0, 13))
    const root = mth(d)
    expect(verifyConsistency(13, 37, p, old, root)).toBe(true)
    for (let i = 0; i < p.length; i++) {
      const bad = p.map((h, j) => j === i ? nodeHash(h, h) : h)
      expect(verifyConsistency(13, 37, bad, old, root)).toBe(false)
    }
    expect(verifyConsistency(14, 37, p, old, root)).toBe(false)
    expect(verifyConsistency(13, 37, p, root, root)).toBe(false)
    expect(verifyConsistency(13, 37, p.slice(1), old, root)).toBe(false)
    expect(verifyConsistency(13, 37, [...p, old], old, root)).toBe(false)
  })
})
