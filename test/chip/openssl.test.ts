/**
 * Interoperability: SODs produced by an independent CMS implementation
 * (`openssl cms -sign`) over an LDSSecurityObject encoded by the test helper,
 * signed with Document Signers from the test PKI. The library must accept
 * them exactly as it accepts its own. openssl is required: a missing binary
 * fails the test with a clear message rather than skipping it.
 */
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { loadTrustStore, REASONS, verifyChip, type TrustStore } from '../../src/chip/passive-auth/index.js'
import { AN, DUONG, createTestPki, encodeLdsSecurityObject, makeDataGroups, wrapSod, type KeyAlg, type TestCitizen, type TestPki } from 'chip-test-pki'

let pki: TestPki
let trust: TrustStore

beforeAll(() => {
  try {
    execFileSync('openssl', ['version'], { encoding: 'utf8' })
  } catch (err) {
    throw new Error(`openssl is required for the CMS interoperability test and was not found on PATH: ${(err as Error).message}`)
  }
  pki = createTestPki()
  trust = loadTrustStore(pki.trustDir, { crlFiles: pki.crlFile })
})

/** Signs the LDSSecurityObject for `citizen` with `openssl cms -sign`; returns the chip as read (0x77-wrapped SOD). */
function opensslChip (citizen: TestCitizen, alg: KeyAlg, md: 'sha256' | 'sha384' = 'sha256'): { sod: Uint8Array, dataGroups: Map<number, Uint8Array> } {
  const { dataGroups } = makeDataGroups({ citizen })
  const hashes = new Map([...dataGroups].map(([n, bytes]) => [n, createHash(md).update(bytes).digest()] as [number, Uint8Array]))
  const dir = pki.workDir
  const tag = `${alg}-${md}-${citizen.pin}`
  const ds = pki.ds[alg]
  writeFileSync(join(dir, `lds-${tag}.der`), encodeLdsSecurityObject(md, hashes))
  writeFileSync(join(dir, `ds-${tag}.pem`), ds.pem)
  writeFileSync(join(dir, `ds-${tag}.key`), ds.keys.privateKey.export({ type: 'pkcs8', format: 'pem' }))
  const pss = alg === 'rsa-pss' ? ['-keyopt', 'rsa_padding_mode:pss', '-keyopt', 'rsa_pss_saltlen:32', '-keyopt', `rsa_mgf1_md:${md}`] : []
  execFileSync('openssl', [
    'cms', '-sign', '-binary', '-nodetach', '-nosmimecap',
    '-in', join(dir, `lds-${tag}.der`),
    '-econtent_type', '2.23.136.1.1.1',
    '-md', md,
    '-signer', join(dir, `ds-${tag}.pem`),
    '-inkey', join(dir, `ds-${tag}.key`),
    ...pss,
    '-outform', 'DER', '-out', join(dir, `sod-${tag}.der`)
  ], { stdio: ['ignore', 'pipe', 'pipe'] })
  return { sod: wrapSod(new Uint8Array(readFileSync(join(dir, `sod-${tag}.der`)))), dataGroups }
}

describe('SODs signed by openssl cms', () => {
  it.each(['rsa', 'rsa-pss', 'ecdsa'] as const)('%s DS: valid, identity read', alg => {
    const r = verifyChip(opensslChip(AN, alg), trust)
    expect(r.valid, JSON.stringify(r.checks)).toBe(true)
    expect(r.identity).toMatchObject({ pin: AN.pin, fullName: 'Nguyễn Văn An', dateOfBirth: '1999-03-15', source: 'dg13' })
    if (alg === 'rsa-pss') expect(r.signatureAlgorithm).toBe('rsassa-pss(sha256,mgf1-sha256,salt32)')
  })

  it('SHA-384 for both the data groups and the signature', () => {
    const r = verifyChip(opensslChip(DUONG, 'ecdsa', 'sha384'), trust)
    expect(r.valid, JSON.stringify(r.checks)).toBe(true)
    expect(r.digestAlgorithm).toBe('sha384')
  })

  it('a tampered data group in an openssl-signed chip → DG_HASH_MISMATCH', () => {
    const chip = opensslChip(DUONG, 'rsa')
    const dg1 = (chip.dataGroups.get(1) as Uint8Array).slice()
    dg1[dg1.length - 1] = 0x3c ^ 0x01
    chip.dataGroups.set(1, dg1)
    expect(verifyChip(chip, trust).reason).toBe(REASONS.DG_HASH_MISMATCH)
  })

  it('the bare (unwrapped) openssl output is accepted too', () => {
    const chip = opensslChip(AN, 'ecdsa')
    const bare = chip.sod.subarray(chip.sod[1] === 0x82 ? 4 : chip.sod[1] === 0x81 ? 3 : 2)
    expect(verifyChip({ ...chip, sod: bare }, trust).valid).toBe(true)
  })
})
