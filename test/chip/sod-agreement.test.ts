/**
 * The SOD fast parser (sod-fast.ts: layout templates learnt from earlier SODs
 * of the same Document Signer) against the reference parser (sod-reference.ts:
 * asn1js and pkijs, strict DER), through the shared agreement suite: every SOD
 * the fast one reads, it reads exactly as the reference does (every field the
 * verification uses), and every one it refuses, the reference refuses too
 * (their wording may differ: a template sees only the leaf that broke).
 * SODs of other chips, signing times and Document Signers, and byte
 * mutations of them, are the inputs; the templates are taught first.
 */
import fc from 'fast-check'
import { parseSod, type ParsedSod, type SodParseResult } from '../../src/chip/passive-auth/sod.js'
import { parseSodFast } from '../../src/chip/passive-auth/sod-fast.js'
import { parseSodReference, sodRefusal } from '../../src/chip/passive-auth/sod-reference.js'
import { AN, DUONG, createTestPki, makeChip } from 'chip-test-pki'
import { agreementSuite, mutationsOf } from '../helpers/agreement.js'

const pki = createTestPki()
const dss = [pki.ds.ecdsa, pki.ds.rsa, pki.ds['rsa-pss']]
const chip = (i: number): Uint8Array => makeChip({
  citizen: i % 2 === 0 ? AN : { ...DUONG, pin: `0010990${String(10000 + i).slice(-5)}` },
  ds: dss[i % dss.length]!,
  signingTime: new Date(Date.UTC(2025, i % 12, 1 + (i % 28), i % 24))
}).sod
// One SOD per Document Signer teaches the templates; the others are what the fast path reads. An ECDSA
// signature is 70 to 72 bytes, so its SODs come in a few lengths, each with a template of its own (taught by
// the ones below when they happen to have that length): the nominal ones are the RSA signers' (fixed length).
for (let i = 0; i < dss.length; i++) parseSod(chip(i), 65536)
const GENUINE = Array.from({ length: 12 }, (_, i) => chip(i + dss.length))
const FIXED_LENGTH = GENUINE.filter((_, i) => (i + dss.length) % dss.length !== 0)

const hex = (b: Uint8Array | undefined): string | undefined => b === undefined ? undefined : Buffer.from(b).toString('hex')
/** Every field verification reads, as plain values. */
function fields (s: ParsedSod): unknown {
  return {
    ldsHashOid: s.ldsHashOid,
    dgHashes: [...s.dgHashes].map(([n, h]) => [n, hex(h)]),
    eContent: hex(s.eContent),
    signerDigestOid: s.signerDigestOid,
    signatureAlgorithm: [s.signatureAlgorithm.algorithmId, hex(s.signatureAlgorithm.toSchema().toBER(false) as unknown as Uint8Array)],
    signature: hex(s.signature),
    signedAttrs: hex(s.signedAttrs),
    contentTypeAttr: s.contentTypeAttr,
    messageDigest: hex(s.messageDigest),
    signingTime: s.signingTime?.getTime(),
    signerId: s.signerId.kind === 'ski' ? ['ski', hex(s.signerId.ski)] : ['issuer-serial', hex(s.signerId.issuer), hex(s.signerId.serial)],
    certificates: s.certificates.map(hex)
  }
}

agreementSuite<Uint8Array, SodParseResult>({
  name: 'SOD',
  reference: parseSodReference,
  fast: (bytes) => {
    try {
      const sod = parseSodFast(bytes)
      return sod === undefined ? undefined : { ok: true, sod }
    } catch (err) {
      return sodRefusal(err)
    }
  },
  view: (r) => r.ok ? fields(r.sod) : { ok: false },
  refused: (r) => !r.ok,
  nominal: FIXED_LENGTH.map((b, i) => [`chip ${i} of a known RSA Document Signer`, b] as const),
  arbitrary: fc.oneof(mutationsOf(GENUINE), fc.constantFrom(...GENUINE)),
  runs: 600,
  minTaken: 0.15,
  show: (b) => hex(b) ?? ''
})
