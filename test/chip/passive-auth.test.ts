/**
 * Passive authentication end to end: chips built by chip-test-pki/src/index.ts,
 * verified against a trust store loaded from a temp directory. One PKI for
 * the whole file (RSA key generation is the slow part).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import * as asn1js from 'asn1js'
import * as pkijs from 'pkijs'
import { beforeAll, describe, expect, it } from 'vitest'
import { loadTrustStore, REASONS, TrustStoreError, verifyChip, verifyChips, type ChipResult, type TrustStore } from '../../src/chip/passive-auth/index.js'
import { AN, DUONG, createTestPki, icaoCheckDigit, makeChip, makeDg13, toPem, type KeyAlg, type TestPki } from 'chip-test-pki'

let pki: TestPki
let trust: TrustStore

beforeAll(() => {
  pki = createTestPki()
  trust = loadTrustStore(pki.trustDir, { crlFiles: pki.crlFile })
})

function check (r: ChipResult, name: string): ChipResult['checks'][number] | undefined {
  return r.checks.find(c => c.check === name)
}

/** The chip is rejected for `reason`, reported on `checkName`. */
function expectRejected (r: ChipResult, checkName: string, reason: string): void {
  expect(r.valid).toBe(false)
  expect(r.identity).toBeUndefined()
  expect(check(r, checkName), JSON.stringify(r.checks)).toMatchObject({ ok: false, reason })
}

describe('valid chips', () => {
  it.each([
    ['rsa', 'sha256WithRSAEncryption'],
    ['rsa-pss', 'rsassa-pss(sha256,mgf1-sha256,salt32)'],
    ['ecdsa', 'ecdsa-with-SHA256']
  ] as const)('%s DS: valid, identity from DG13 with diacritics', (alg, sigName) => {
    const r = verifyChip(makeChip({ citizen: AN, ds: pki.ds[alg as KeyAlg] }), trust)
    expect(r.valid, JSON.stringify(r.checks)).toBe(true)
    expect(r.reason).toBeUndefined()
    expect(r.checks.map(c => c.check)).toEqual(['sod_parse', 'dg_hash', 'sod_signature', 'ds_certificate', 'mrz', 'dg13'])
    expect(r.checks.every(c => c.ok)).toBe(true)
    expect(r.signatureAlgorithm).toBe(sigName)
    expect(r.digestAlgorithm).toBe('sha256')
    expect(r.identity).toEqual({
      pin: '001099012345',
      documentNumber: '099012345',
      mrzName: 'NGUYEN VAN AN',
      fullName: 'Nguyễn Văn An',
      dateOfBirth: '1999-03-15',
      gender: 'male',
      expiryDate: '2039-03-15',
      nationality: 'VNM',
      source: 'dg13'
    })
  })

  it.each(['sha384', 'sha512'] as const)('ECDSA and RSA-PSS with %s for the DGs and the signature', hash => {
    for (const alg of ['ecdsa', 'rsa-pss', 'rsa'] as const) {
      const r = verifyChip(makeChip({ citizen: DUONG, ds: pki.ds[alg], ldsHash: hash, signerHash: hash }), trust)
      expect(r.valid, `${alg} ${JSON.stringify(r.checks)}`).toBe(true)
      expect(r.digestAlgorithm).toBe(hash)
    }
  })

  it('woman born in the 2000s: century and gender from the PIN G digit', () => {
    const r = verifyChip(makeChip({ citizen: DUONG, ds: pki.ds.ecdsa }), trust)
    expect(r.identity).toMatchObject({ pin: '079301004567', fullName: 'Trần Thị Thùy Dương', dateOfBirth: '2001-11-30', gender: 'female', mrzName: 'TRAN THI THUY DUONG' })
  })

  it('accepts a bare ContentInfo (no 0x77 wrapper)', () => {
    expect(verifyChip(makeChip({ citizen: AN, ds: pki.ds.rsa, wrap: false }), trust).valid).toBe(true)
  })

  it('without DG13 the identity comes from the MRZ alone', () => {
    const r = verifyChip(makeChip({ citizen: AN, ds: pki.ds.ecdsa, dataGroups: [1, 2] }), trust)
    expect(r.valid).toBe(true)
    expect(r.checks.some(c => c.check === 'dg13')).toBe(false)
    expect(r.identity).toMatchObject({ source: 'mrz', dateOfBirth: '1999-03-15', gender: 'male' })
    expect(r.identity?.fullName).toBeUndefined()
  })

  it('DG1 alone, with DG14/DG15 listed in the SOD but not read, is valid', () => {
    const chip = makeChip({ citizen: AN, ds: pki.ds.ecdsa, dataGroups: [1, 2, 13, 14, 15] })
    for (const n of [2, 13, 14, 15]) chip.dataGroups.delete(n)
    expect(verifyChip(chip, trust).valid).toBe(true)
  })

  it('DG14 and DG15 supplied and listed are hashed too', () => {
    const r = verifyChip(makeChip({ citizen: AN, ds: pki.ds.ecdsa, dataGroups: [1, 2, 13, 14, 15] }), trust)
    expect(r.valid).toBe(true)
    expect(check(r, 'dg_hash')?.detail).toBe('DG1, DG2, DG13, DG14, DG15')
  })

  it('readDg13: false still hash-checks DG13 but takes the identity from the MRZ', () => {
    const r = verifyChip(makeChip({ citizen: AN, ds: pki.ds.ecdsa }), trust, { readDg13: false })
    expect(r.valid).toBe(true)
    expect(check(r, 'dg_hash')?.detail).toContain('DG13')
    expect(r.checks.some(c => c.check === 'dg13')).toBe(false)
    expect(r.identity).toMatchObject({ source: 'mrz', pin: AN.pin })
    expectRejected(verifyChip(makeChip({ citizen: AN, ds: pki.ds.ecdsa, tamperDg: 13 }), trust, { readDg13: false }), 'dg_hash', REASONS.DG_HASH_MISMATCH)
  })

  it('card without expiry: expiryDate absent', () => {
    const r = verifyChip(makeChip({ citizen: { ...AN, expiry: null }, ds: pki.ds.ecdsa }), trust)
    expect(r.valid, JSON.stringify(r.checks)).toBe(true)
    expect(r.identity?.expiryDate).toBeUndefined()
  })

  it('no signingTime: DS validity is checked at options.now', () => {
    const chip = makeChip({ citizen: AN, ds: pki.ds.ecdsa, signingTime: null })
    expect(verifyChip(chip, trust, { now: new Date(Date.UTC(2030, 0, 1)) }).valid).toBe(true)
    expectRejected(verifyChip(chip, trust, { now: new Date(Date.UTC(2041, 0, 1)) }), 'ds_certificate', REASONS.DS_EXPIRED)
  })

  it('the result survives structured clone unchanged', () => {
    const r = verifyChip(makeChip({ citizen: AN, ds: pki.ds.rsa }), trust)
    expect(structuredClone(r)).toEqual(r)
  })

  it('verifyChips answers a batch in order', () => {
    const good = makeChip({ citizen: AN, ds: pki.ds.ecdsa })
    const bad = makeChip({ citizen: AN, ds: pki.ds.ecdsa, tamperSignature: true })
    expect(verifyChips([good, bad, good], trust).map(r => r.valid)).toEqual([true, false, true])
  })

  it('caches DS verdicts: a second chip from the same DS is a cache hit', () => {
    const local = loadTrustStore(pki.trustDir)
    verifyChip(makeChip({ citizen: AN, ds: pki.ds.ecdsa }), local)
    verifyChip(makeChip({ citizen: DUONG, ds: pki.ds.ecdsa }), local)
    expect(local.cacheStats).toMatchObject({ size: 1, hits: 1, misses: 1 })
  })
})

describe('data group integrity', () => {
  it.each([1, 2, 13])('tampered DG%i → DG_HASH_MISMATCH', n => {
    const r = verifyChip(makeChip({ citizen: AN, ds: pki.ds.rsa, tamperDg: n }), trust)
    expectRejected(r, 'dg_hash', REASONS.DG_HASH_MISMATCH)
    expect(check(r, 'dg_hash')?.detail).toBe(`hash mismatch: DG${n}`)
    // The signature and the chain are still fine: the answer says exactly what is wrong.
    expect(check(r, 'sod_signature')?.ok).toBe(true)
    expect(check(r, 'ds_certificate')?.ok).toBe(true)
  })

  it('tampered DG13 is not parsed: no dg13 check, no identity', () => {
    const r = verifyChip(makeChip({ citizen: AN, ds: pki.ds.rsa, tamperDg: 13 }), trust)
    expect(check(r, 'dg13')).toBeUndefined()
  })

  it('DG in the request but absent from the SOD → DG_MISSING_FROM_SOD', () => {
    const r = verifyChip(makeChip({ citizen: AN, ds: pki.ds.ecdsa, dataGroups: [1, 2, 13, 14], omitFromSod: [14] }), trust)
    expectRejected(r, 'dg_hash', REASONS.DG_MISSING_FROM_SOD)
    expect(check(r, 'dg_hash')?.detail).toContain('DG14')
  })

  it('no DG1 → DG1_REQUIRED', () => {
    const chip = makeChip({ citizen: AN, ds: pki.ds.ecdsa })
    chip.dataGroups.delete(1)
    const r = verifyChip(chip, trust)
    expectRejected(r, 'dg_hash', REASONS.DG1_REQUIRED)
    expect(check(r, 'mrz')).toBeUndefined()
  })

  it('DG under the wrong number (DG2 bytes as DG13) → MALFORMED_DG', () => {
    const chip = makeChip({ citizen: AN, ds: pki.ds.ecdsa })
    chip.dataGroups.set(13, chip.dataGroups.get(2) as Uint8Array)
    expectRejected(verifyChip(chip, trust), 'dg_hash', REASONS.MALFORMED_DG)
  })

  it('data group number outside 1..16 or empty bytes → MALFORMED_DG', () => {
    const chip = makeChip({ citizen: AN, ds: pki.ds.ecdsa })
    chip.dataGroups.set(17, new Uint8Array([0x71, 0]))
    expectRejected(verifyChip(chip, trust), 'dg_hash', REASONS.MALFORMED_DG)
    const chip2 = makeChip({ citizen: AN, ds: pki.ds.ecdsa })
    chip2.dataGroups.set(2, new Uint8Array())
    expectRejected(verifyChip(chip2, trust), 'dg_hash', REASONS.MALFORMED_DG)
  })

  it('oversized data group → MALFORMED_DG, not hashed', () => {
    const chip = makeChip({ citizen: AN, ds: pki.ds.ecdsa })
    expectRejected(verifyChip(chip, trust, { maxDataGroupBytes: 1000 }), 'dg_hash', REASONS.MALFORMED_DG)
  })
})

describe('SOD signature', () => {
  it.each(['rsa', 'rsa-pss', 'ecdsa'] as const)('tampered %s signature → SOD_SIGNATURE_INVALID', alg => {
    const r = verifyChip(makeChip({ citizen: AN, ds: pki.ds[alg], tamperSignature: true }), trust)
    expectRejected(r, 'sod_signature', REASONS.SOD_SIGNATURE_INVALID)
    expect(check(r, 'dg_hash')?.ok).toBe(true)
  })

  it('messageDigest attribute that is not the hash of the LDSSecurityObject → MESSAGE_DIGEST_MISMATCH', () => {
    expectRejected(verifyChip(makeChip({ citizen: AN, ds: pki.ds.ecdsa, badMessageDigest: true }), trust), 'sod_signature', REASONS.MESSAGE_DIGEST_MISMATCH)
  })

  it('contentType attribute other than the LDS OID → MESSAGE_DIGEST_MISMATCH', () => {
    expectRejected(verifyChip(makeChip({ citizen: AN, ds: pki.ds.ecdsa, contentTypeAttr: '1.2.840.113549.1.7.1' }), trust), 'sod_signature', REASONS.MESSAGE_DIGEST_MISMATCH)
  })

  it('RSA-PSS signature relabelled as PKCS#1 v1.5 → SOD_SIGNATURE_INVALID', () => {
    const pss = makeChip({ citizen: AN, ds: pki.ds['rsa-pss'] })
    expect(verifyChip(pss, trust).valid).toBe(true)
    expectRejected(verifyChip({ ...pss, sod: relabelAsPkcs1(pss.sod) }, trust), 'sod_signature', REASONS.SOD_SIGNATURE_INVALID)
  })

  it('an ECDSA DS key with an RSA signature algorithm → SOD_SIGNATURE_INVALID (key mismatch)', () => {
    const ec = makeChip({ citizen: AN, ds: pki.ds.ecdsa })
    const r = verifyChip({ ...ec, sod: relabelAsPkcs1(ec.sod) }, trust)
    expectRejected(r, 'sod_signature', REASONS.SOD_SIGNATURE_INVALID)
    expect(check(r, 'sod_signature')?.detail).toContain('cannot make')
  })

  it.each([
    ['LDSSecurityObject', { ldsHash: 'sha1' as const }, 'dg_hash'],
    ['SignerInfo', { signerHash: 'sha1' as const }, 'sod_signature']
  ])('SHA-1 in the %s → UNSUPPORTED_ALGORITHM', (_where, opts, checkName) => {
    const r = verifyChip(makeChip({ citizen: AN, ds: pki.ds.rsa, ...opts }), trust)
    expectRejected(r, checkName, REASONS.UNSUPPORTED_ALGORITHM)
    expect(check(r, checkName)?.detail).toContain('sha1')
  })
})

describe('Document Signer certificate', () => {
  it('DS signed by an untrusted CSCA with the same name → DS_NOT_TRUSTED', () => {
    const r = verifyChip(makeChip({ citizen: AN, ds: pki.rogueDs }), trust)
    expectRejected(r, 'ds_certificate', REASONS.DS_NOT_TRUSTED)
    // The SOD itself is consistent with its (untrusted) DS: reported separately.
    expect(check(r, 'sod_signature')?.ok).toBe(true)
  })

  it('DS expired at signing time → DS_EXPIRED', () => {
    expectRejected(verifyChip(makeChip({ citizen: AN, ds: pki.expiredDs }), trust), 'ds_certificate', REASONS.DS_EXPIRED)
  })

  it('DS not yet valid at signing time → DS_NOT_YET_VALID', () => {
    expectRejected(verifyChip(makeChip({ citizen: AN, ds: pki.futureDs }), trust), 'ds_certificate', REASONS.DS_NOT_YET_VALID)
  })

  it('DS key usage without digitalSignature → DS_KEY_USAGE', () => {
    expectRejected(verifyChip(makeChip({ citizen: AN, ds: pki.keyEnciphermentDs }), trust), 'ds_certificate', REASONS.DS_KEY_USAGE)
  })

  it('DS on the CRL → DS_REVOKED; without the CRL it passes', () => {
    const chip = makeChip({ citizen: AN, ds: pki.revokedDs })
    expectRejected(verifyChip(chip, trust), 'ds_certificate', REASONS.DS_REVOKED)
    expect(verifyChip(chip, loadTrustStore(pki.trustDir)).valid).toBe(true)
  })

  it('SOD without a DS certificate → DS_NOT_TRUSTED', () => {
    expectRejected(verifyChip(makeChip({ citizen: AN, ds: pki.ds.ecdsa, includeCertificate: false }), trust), 'ds_certificate', REASONS.DS_NOT_TRUSTED)
  })
})

describe('MRZ and DG13 consistency', () => {
  it('MRZ with a wrong check digit (signed as such) → MRZ_CHECK_DIGIT', () => {
    const r = verifyChip(makeChip({ citizen: AN, ds: pki.ds.ecdsa, mrz: m => m.slice(0, 14) + String((Number(m[14]) + 1) % 10) + m.slice(15) }), trust)
    expectRejected(r, 'mrz', REASONS.MRZ_CHECK_DIGIT)
    expect(check(r, 'dg_hash')?.ok).toBe(true)
  })

  it('document number that is not the last 9 PIN digits (check digits right) → MRZ_PIN_MISMATCH', () => {
    const r = verifyChip(makeChip({ citizen: AN, ds: pki.ds.ecdsa, mrz: m => withDocNumber(m, '099012399'), dataGroups: [1, 2] }), trust)
    expectRejected(r, 'mrz', REASONS.MRZ_PIN_MISMATCH)
  })

  it('DG13 (verified) for a different person than the MRZ → DG13_MRZ_MISMATCH', () => {
    const r = verifyChip(makeChip({ citizen: AN, ds: pki.ds.ecdsa, dg13: makeDg13(DUONG) }), trust)
    expectRejected(r, 'dg13', REASONS.DG13_MRZ_MISMATCH)
    expect(check(r, 'dg13')?.detail).toContain('PIN')
  })

  it('DG13 in the alternative (flat, PrintableString PIN, nested parents) layout', () => {
    const r = verifyChip(makeChip({ citizen: DUONG, ds: pki.ds.rsa, dg13Layout: 'flat' }), trust)
    expect(r.valid, JSON.stringify(r.checks)).toBe(true)
    expect(r.identity?.fullName).toBe('Trần Thị Thùy Dương')
  })
})

describe('trust store loading', () => {
  it('loads PEM bundles and DER files; rejects an empty directory and an unverifiable CRL', () => {
    const dir = join(pki.workDir, 'mixed')
    mkdirSync(dir, { recursive: true })
    writeFileSync(join(dir, 'bundle.pem'), pki.csca.pem + pki.rogueCsca.pem)
    writeFileSync(join(dir, 'csca.der'), pki.csca.der)
    writeFileSync(join(dir, 'README.txt'), 'not a certificate, ignored')
    expect(loadTrustStore(dir).cscas.length).toBe(3)

    const empty = join(pki.workDir, 'empty')
    mkdirSync(empty, { recursive: true })
    expect(() => loadTrustStore(empty)).toThrow(TrustStoreError)

    const onlyRogue = join(pki.workDir, 'rogue')
    mkdirSync(onlyRogue, { recursive: true })
    writeFileSync(join(onlyRogue, 'rogue.pem'), pki.rogueCsca.pem)
    // Same issuer name, wrong key: the CRL does not verify, so loading fails closed.
    expect(() => loadTrustStore(onlyRogue, { crlFiles: pki.crlFile })).toThrow(/not signed by a loaded CSCA/)

    const crlPem = join(pki.workDir, 'csca.crl.pem')
    writeFileSync(crlPem, toPem(new Uint8Array(readFileSync(pki.crlFile)), 'X509 CRL'))
    expect(loadTrustStore(pki.trustDir, { crlFiles: crlPem }).crls[0]?.revoked).toBe(1)
  })

  it('a garbage file in the directory is reported by name', () => {
    const dir = join(pki.workDir, 'garbage')
    mkdirSync(dir, { recursive: true })
    writeFileSync(join(dir, 'ok.pem'), pki.csca.pem)
    writeFileSync(join(dir, 'broken.der'), new Uint8Array([0x30, 0x03, 1, 2]))
    expect(() => loadTrustStore(dir)).toThrow(/broken\.der/)
  })
})

// ---------------------------------------------------------------------------

/** Rewrites a (wrapped) SOD's SignerInfo signatureAlgorithm to sha256WithRSAEncryption, keeping the PSS signature bytes. */
function relabelAsPkcs1 (sod: Uint8Array): Uint8Array {
  const outer = asn1js.fromBER(sod).result as asn1js.Constructed
  const ci = new pkijs.ContentInfo({ schema: outer.valueBlock.value[0] })
  const sd = new pkijs.SignedData({ schema: ci.content })
  const si = sd.signerInfos[0] as pkijs.SignerInfo
  si.signatureAlgorithm = new pkijs.AlgorithmIdentifier({ algorithmId: '1.2.840.113549.1.1.11', algorithmParams: new asn1js.Null() })
  const out = new pkijs.ContentInfo({ contentType: ci.contentType, content: sd.toSchema(false) })
  return new Uint8Array(new asn1js.Constructed({ idBlock: { tagClass: 2, tagNumber: 23 }, value: [out.toSchema()] }).toBER(false))
}

/** Replaces the MRZ document number and recomputes its check digit and the composite. */
function withDocNumber (mrz: string, docNo: string): string {
  const m = mrz.slice(0, 5) + docNo + icaoCheckDigit(docNo) + mrz.slice(15)
  const composite = icaoCheckDigit(m.slice(5, 30) + m.slice(30, 37) + m.slice(38, 45) + m.slice(48, 59))
  return m.slice(0, 59) + composite + m.slice(60)
}
