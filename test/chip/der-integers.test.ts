/**
 * INTEGERs in strict DER: identifiers (serial numbers) are byte strings of up
 * to 20 octets and more, counts and versions are small numbers. asn1js keeps
 * every INTEGER of 4 or more bytes as bytes only, with a warning that is not
 * an encoding fault; the DER minimal-encoding rule still applies. The openssl
 * corpus (openssl-corpus.test.ts) covers real certificates; this file pins the
 * rules themselves.
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import * as asn1js from 'asn1js'
import { describe, expect, it } from 'vitest'
import { loadTrustStore, REASONS, verifyChip } from '../../src/chip/passive-auth/index.js'
import * as pkijs from 'pkijs'
import { resolveSignature } from '../../src/chip/passive-auth/algorithms.js'
import { decodeWhole, smallInteger } from '../../src/chip/passive-auth/der.js'
import { serialToHex } from '../../src/chip/passive-auth/trust-store.js'
import { AN, createTestPki, makeChip, makeCrl, signatureAlgorithm } from 'chip-test-pki'

const der = (hex: string): Uint8Array => new Uint8Array(Buffer.from(hex.replace(/\s/g, ''), 'hex'))
const integer = (hex: string, strict = true): asn1js.Integer => decodeWhole(der(hex), 'test', strict) as asn1js.Integer

describe('strict DER INTEGERs', () => {
  it.each([
    ['4 bytes', '02 04 7f ff ff ff'],
    ['8 bytes', '02 08 7e 5a 1c 93 d2 0b 4f 61'],
    ['9 bytes with the sign byte', '02 09 00 c3 5a 1c 93 d2 0b 4f 61'],
    ['20 bytes', '02 14 3c 2b 1a 09 f8 e7 d6 c5 b4 a3 92 81 70 6f 5e 4d 3c 2b 1a 09'],
    ['21 bytes (a 20-byte value with its top bit set, as some CAs make)', '02 15 00 9d 8c 7b 6a 59 48 37 26 15 04 1f 2e 3d 4c 5b 6a 79 88 77 66'],
    ['negative, 5 bytes', '02 05 9a 0b 1c 2d 3e']
  ])('%s: accepted', (_what, hex) => {
    expect(() => integer(hex)).not.toThrow()
  })

  it.each([
    ['a redundant 00 before a 9-byte value', '02 0a 00 1f 2e 3d 4c 5b 6a 79 88 00'],
    ['a redundant FF before a negative value', '02 06 ff 9a 0b 1c 2d 3e'],
    ['a redundant 00 in 2 bytes', '02 02 00 01']
  ])('%s: not DER', (_what, hex) => {
    // asn1js flags short ones itself ("Needlessly long format"); from 4 bytes on only our own check sees it.
    expect(() => integer(hex)).toThrow(/non-minimal INTEGER|Needlessly long/)
    expect(() => integer(hex, false)).not.toThrow()
  })
})

describe('smallInteger (versions, data group numbers)', () => {
  it.each([
    ['02 01 00', 0], ['02 01 03', 3], ['02 01 ff', -1], ['02 02 00 80', 128],
    // asn1js reads every 4-byte INTEGER as 0: a version of 0x01000000 must not pass for version 0.
    ['02 04 01 00 00 00', 0x01000000], ['02 04 7f ff ff ff', 0x7fffffff], ['02 04 80 00 00 00', -0x80000000]
  ])('%s → %d', (hex, value) => {
    expect(smallInteger(integer(hex))).toBe(value)
  })

  it('more than 4 bytes is out of range, not truncated', () => {
    expect(() => smallInteger(integer('02 05 01 00 00 00 00'))).toThrow(/out of range/)
  })

  it('an RSASSA-PSS salt length of 0x01000000 is out of range, not salt 0 (pkijs reads 4-byte INTEGERs as 0)', () => {
    const parse = (salt: number): ReturnType<typeof resolveSignature> =>
      resolveSignature(new pkijs.AlgorithmIdentifier({ schema: decodeWhole(new Uint8Array(signatureAlgorithm('rsa-pss', 'sha256', salt).toSchema().toBER(false)), 'test', true) }), 'sha256')
    expect(parse(32)).toMatchObject({ name: 'rsassa-pss(sha256,mgf1-sha256,salt32)' })
    expect(parse(0x01000000)).toEqual({ unsupported: 'RSASSA-PSS salt length out of range' })
  })
})

describe('serial numbers compare as numbers, sign included', () => {
  it('the DER content bytes, 00 sign byte kept', () => {
    expect(serialToHex(der('00 9a 0b'))).toBe('009a0b')
    expect(serialToHex(der('9a 0b'))).not.toBe(serialToHex(der('00 9a 0b')))
    expect(serialToHex(der('01'))).toBe('01')
  })

  it('redundant sign bytes of a BER encoding are dropped: same number, same key', () => {
    expect(serialToHex(der('00 00 01'))).toBe('01')
    expect(serialToHex(der('00 00 9a'))).toBe('009a')
    expect(serialToHex(der('ff ff 80'))).toBe('80')
  })

  it('a CRL entry encoded with a redundant 00 still revokes its DS (CRLs are read leniently)', () => {
    const pki = createTestPki()
    const bytes = pki.revokedDs.cert.serialNumber.valueBlock.valueHexView
    const padded = new asn1js.Integer({ valueHex: new Uint8Array([0, ...bytes]) })
    const crlFile = join(pki.workDir, 'ber-serial.crl')
    writeFileSync(crlFile, makeCrl(pki.csca, [padded]))
    const trust = loadTrustStore(pki.trustDir, { crlFiles: crlFile })
    const r = verifyChip(makeChip({ citizen: AN, ds: pki.revokedDs }), trust)
    expect(r.reason, JSON.stringify(r.checks)).toBe(REASONS.DS_REVOKED)
  })
})
