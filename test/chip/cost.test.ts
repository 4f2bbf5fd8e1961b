/**
 * Cost of one verification per signature algorithm, next to the raw
 * crypto.verify and hashing work it cannot avoid. Opt-in (CHIP_BENCH=1):
 * timings on a shared machine are information, not assertions.
 *
 *   CHIP_BENCH=1 npx vitest run test/chip/cost.test.ts
 */
import { createHash, verify } from 'node:crypto'
import { describe, it } from 'vitest'
import { loadTrustStore, verifyChip } from '../../src/chip/index.js'
import { parseDg13 } from '../../src/chip/dg13.js'
import { AN, createTestPki, makeChip, signBytes, type KeyAlg } from '../helpers/chip-pki.js'
import { constants } from 'node:crypto'

const N = Number(process.env.CHIP_BENCH_N ?? 2000)

function perCall (f: () => unknown): number {
  for (let i = 0; i < Math.min(500, N); i++) f()
  const t = performance.now()
  for (let i = 0; i < N; i++) f()
  return (performance.now() - t) / N * 1000
}

describe.runIf(process.env.CHIP_BENCH === '1')('verification cost', () => {
  it('per chip vs raw crypto', () => {
    const pki = createTestPki()
    const trust = loadTrustStore(pki.trustDir, { crlFiles: pki.crlFile })
    const rows: string[] = []
    for (const alg of ['rsa', 'rsa-pss', 'ecdsa'] as KeyAlg[]) {
      const ds = pki.ds[alg]
      const full = makeChip({ citizen: AN, ds })
      const noDg13 = makeChip({ citizen: AN, ds, dataGroups: [1, 2] })
      const data = new Uint8Array(220) // signed attributes are ~200 bytes
      const sig = signBytes(ds.keys, data)
      const key = alg === 'rsa-pss' ? { key: ds.keys.publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 } : ds.keys.publicKey
      const raw = perCall(() => verify('sha256', data, key, sig))
      const hashes = perCall(() => { for (const dg of full.dataGroups.values()) createHash('sha256').update(dg).digest() })
      rows.push([alg.padEnd(8), perCall(() => verifyChip(full, trust)).toFixed(1).padStart(8), perCall(() => verifyChip(noDg13, trust)).toFixed(1).padStart(10),
        raw.toFixed(1).padStart(8), hashes.toFixed(1).padStart(8)].join(' '))
    }
    const dg13 = makeChip({ citizen: AN, ds: pki.ds.ecdsa }).dataGroups.get(13) as Uint8Array
    console.log(['alg      chip µs  noDG13 µs  verify µs  DG hashes µs', ...rows, `parseDg13 alone: ${perCall(() => parseDg13(dg13)).toFixed(1)} µs`].join('\n'))
  }, 300_000)
})
