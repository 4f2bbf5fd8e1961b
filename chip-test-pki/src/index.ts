/**
 * A throwaway ICAO PKI for chip tests: CSCAs, Document Signers, CRLs and
 * whole chips (SOD + data groups) for a given citizen, built with node:crypto
 * keys and pkijs/asn1js structures.
 *
 * Signatures are made here with crypto.sign rather than pkijs's WebCrypto
 * engine so the test controls every byte (RSA-PSS parameters, tampering) and
 * the library under test is checked against an independent signing path.
 * Every knob that a test needs to break one thing at a time is an option of
 * makeChip: digest choice, tampered data groups or signature, a DG left out
 * of the SOD, a corrupted MRZ check digit, signing time, DG13 layout.
 *
 * A package of its own (not under test/) because the benchmarks make chips
 * with it too, and the product build compiles neither tests nor benches.
 * createTestPki writes its trust store and CRL to a work directory that
 * removeTestPkiDirs removes (the test setup calls it after every file; a
 * benchmark process removes it at exit).
 */
import { createHash, generateKeyPairSync, sign, constants, type KeyObject } from 'node:crypto'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import * as asn1js from 'asn1js'
import * as pkijs from 'pkijs'
import { prng } from './prng.js'
import { makeWorkDir } from './work-dirs.js'

export { removeTestPkiDirs } from './work-dirs.js'

export type KeyAlg = 'rsa' | 'rsa-pss' | 'ecdsa'
export type TestHash = 'sha256' | 'sha384' | 'sha512' | 'sha1'

export const OID = Object.freeze({
  signedData: '1.2.840.113549.1.7.2',
  lds: '2.23.136.1.1.1',
  contentType: '1.2.840.113549.1.9.3',
  messageDigest: '1.2.840.113549.1.9.4',
  signingTime: '1.2.840.113549.1.9.5',
  rsaPss: '1.2.840.113549.1.1.10',
  mgf1: '1.2.840.113549.1.1.8'
})

const HASH_OIDS: Record<TestHash, string> = {
  sha1: '1.3.14.3.2.26',
  sha256: '2.16.840.1.101.3.4.2.1',
  sha384: '2.16.840.1.101.3.4.2.2',
  sha512: '2.16.840.1.101.3.4.2.3'
}
const RSA_SIG_OIDS: Partial<Record<TestHash, string>> = { sha1: '1.2.840.113549.1.1.5', sha256: '1.2.840.113549.1.1.11', sha384: '1.2.840.113549.1.1.12', sha512: '1.2.840.113549.1.1.13' }
const ECDSA_SIG_OIDS: Partial<Record<TestHash, string>> = { sha1: '1.2.840.10045.4.1', sha256: '1.2.840.10045.4.3.2', sha384: '1.2.840.10045.4.3.3', sha512: '1.2.840.10045.4.3.4' }

export interface TestKeys {
  readonly alg: KeyAlg
  readonly privateKey: KeyObject
  readonly publicKey: KeyObject
}

export interface TestCert {
  readonly der: Uint8Array
  readonly pem: string
  readonly cert: pkijs.Certificate
  readonly keys: TestKeys
}

export function generateKeys (alg: KeyAlg): TestKeys {
  const pair = alg === 'ecdsa'
    ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
    // RSA-PSS DS keys are ordinary rsaEncryption keys that sign with PSS, as in most issuers' SODs.
    : generateKeyPairSync('rsa', { modulusLength: 2048 })
  return { alg, privateKey: pair.privateKey, publicKey: pair.publicKey }
}

/** The AlgorithmIdentifier for signing with `alg` and `hash`. */
export function signatureAlgorithm (alg: KeyAlg, hash: TestHash = 'sha256', saltLength = 32): pkijs.AlgorithmIdentifier {
  if (alg === 'rsa-pss') {
    const hashAlg = new pkijs.AlgorithmIdentifier({ algorithmId: HASH_OIDS[hash], algorithmParams: new asn1js.Null() })
    const params = new pkijs.RSASSAPSSParams({
      hashAlgorithm: hashAlg,
      maskGenAlgorithm: new pkijs.AlgorithmIdentifier({ algorithmId: OID.mgf1, algorithmParams: hashAlg.toSchema() }),
      saltLength
    })
    return new pkijs.AlgorithmIdentifier({ algorithmId: OID.rsaPss, algorithmParams: params.toSchema() })
  }
  if (alg === 'ecdsa') return new pkijs.AlgorithmIdentifier({ algorithmId: ECDSA_SIG_OIDS[hash] ?? '' })
  return new pkijs.AlgorithmIdentifier({ algorithmId: RSA_SIG_OIDS[hash] ?? '', algorithmParams: new asn1js.Null() })
}

export function signBytes (keys: TestKeys, data: Uint8Array, hash: TestHash = 'sha256', saltLength = 32): Uint8Array {
  if (keys.alg === 'rsa-pss') {
    return sign(hash, data, { key: keys.privateKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength })
  }
  return sign(hash, data, keys.privateKey)
}

export function toPem (der: Uint8Array, label: string): string {
  const b64 = Buffer.from(der).toString('base64').replace(/(.{64})/g, '$1\n').trim()
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`
}

function name (cn: string): pkijs.RelativeDistinguishedNames {
  return new pkijs.RelativeDistinguishedNames({
    typesAndValues: [
      new pkijs.AttributeTypeAndValue({ type: '2.5.4.6', value: new asn1js.PrintableString({ value: 'VN' }) }),
      new pkijs.AttributeTypeAndValue({ type: '2.5.4.10', value: new asn1js.Utf8String({ value: 'Bộ Công an' }) }),
      new pkijs.AttributeTypeAndValue({ type: '2.5.4.3', value: new asn1js.Utf8String({ value: cn }) })
    ]
  })
}

function time (d: Date): pkijs.Time {
  // RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050.
  return new pkijs.Time({ type: d.getUTCFullYear() >= 2050 ? 1 : 0, value: d })
}

export interface CertOptions {
  readonly cn: string
  readonly keys: TestKeys
  /** Issuer certificate; omitted → self-signed (a CSCA). */
  readonly issuer?: TestCert
  readonly serial?: number
  readonly notBefore?: Date
  readonly notAfter?: Date
  readonly ca?: boolean
  /** Key usage bits: 'ds' = digitalSignature, 'ca' = keyCertSign+cRLSign, 'encipher' = keyEncipherment only, 'none' = no extension. */
  readonly keyUsage?: 'ds' | 'ca' | 'encipher' | 'none'
  /** How the issuer signs this certificate (default: by the issuer's key type, SHA-256). */
  readonly signWith?: KeyAlg
}

let serialCounter = 1000

export function makeCertificate (o: CertOptions): TestCert {
  const cert = new pkijs.Certificate()
  cert.version = 2
  cert.serialNumber = new asn1js.Integer({ value: o.serial ?? serialCounter++ })
  cert.subject = name(o.cn)
  cert.issuer = o.issuer !== undefined ? o.issuer.cert.subject : name(o.cn)
  cert.notBefore = time(o.notBefore ?? new Date(Date.UTC(2024, 0, 1)))
  cert.notAfter = time(o.notAfter ?? new Date(Date.UTC(2040, 0, 1)))
  cert.subjectPublicKeyInfo.fromSchema(asn1js.fromBER(o.keys.publicKey.export({ type: 'spki', format: 'der' })).result)

  const spki = new Uint8Array(o.keys.publicKey.export({ type: 'spki', format: 'der' }))
  const ski = createHash('sha1').update(spki).digest()
  const extensions: pkijs.Extension[] = [
    new pkijs.Extension({ extnID: '2.5.29.14', extnValue: new asn1js.OctetString({ valueHex: ski }).toBER(false) })
  ]
  if (o.ca === true) {
    extensions.push(new pkijs.Extension({ extnID: '2.5.29.19', critical: true, extnValue: new pkijs.BasicConstraints({ cA: true, pathLenConstraint: 0 }).toSchema().toBER(false) }))
  }
  const ku = o.keyUsage ?? (o.ca === true ? 'ca' : 'ds')
  if (ku !== 'none') {
    const bits = ku === 'ds' ? [0x80, 7] : ku === 'ca' ? [0x06, 1] : [0x20, 5]
    extensions.push(new pkijs.Extension({
      extnID: '2.5.29.15',
      critical: true,
      extnValue: new asn1js.BitString({ valueHex: new Uint8Array([bits[0] ?? 0]), unusedBits: bits[1] ?? 0 }).toBER(false)
    }))
  }
  if (o.issuer !== undefined) {
    const issuerSpki = new Uint8Array(o.issuer.keys.publicKey.export({ type: 'spki', format: 'der' }))
    const aki = new pkijs.AuthorityKeyIdentifier({ keyIdentifier: new asn1js.OctetString({ valueHex: createHash('sha1').update(issuerSpki).digest() }) })
    extensions.push(new pkijs.Extension({ extnID: '2.5.29.35', extnValue: aki.toSchema().toBER(false) }))
  }
  cert.extensions = extensions

  const signerKeys = o.issuer?.keys ?? o.keys
  const alg = o.signWith ?? (signerKeys.alg === 'ecdsa' ? 'ecdsa' : 'rsa')
  const sigAlg = signatureAlgorithm(alg)
  cert.signature = sigAlg
  cert.signatureAlgorithm = sigAlg
  cert.tbsView = new Uint8Array(cert.encodeTBS().toBER(false))
  cert.signatureValue = new asn1js.BitString({ valueHex: signBytes({ ...signerKeys, alg }, cert.tbsView) })
  const der = new Uint8Array(cert.toSchema(false).toBER(false))
  // Re-parse so the object carries valueBeforeDecode (issuer/subject DER) like a certificate read from disk.
  const parsed = pkijs.Certificate.fromBER(der)
  return { der, pem: toPem(der, 'CERTIFICATE'), cert: parsed, keys: o.keys }
}

export function makeCrl (issuer: TestCert, revokedSerials: readonly asn1js.Integer[], thisUpdate = new Date(Date.UTC(2025, 0, 1))): Uint8Array {
  const crl = new pkijs.CertificateRevocationList()
  crl.version = 1
  crl.issuer = issuer.cert.subject
  crl.thisUpdate = time(thisUpdate)
  crl.nextUpdate = time(new Date(thisUpdate.getTime() + 90 * 86_400_000))
  crl.revokedCertificates = revokedSerials.map(serial => new pkijs.RevokedCertificate({ userCertificate: serial, revocationDate: time(thisUpdate) }))
  const sigAlg = signatureAlgorithm(issuer.keys.alg === 'ecdsa' ? 'ecdsa' : 'rsa')
  crl.signature = sigAlg
  crl.signatureAlgorithm = sigAlg
  // encodeTBS is protected on CRLs (public on certificates); same method, so reach it through a cast.
  crl.tbsView = new Uint8Array((crl as unknown as { encodeTBS: () => asn1js.Sequence }).encodeTBS().toBER(false))
  crl.signatureValue = new asn1js.BitString({ valueHex: signBytes({ ...issuer.keys, alg: issuer.keys.alg === 'ecdsa' ? 'ecdsa' : 'rsa' }, crl.tbsView) })
  return new Uint8Array(crl.toSchema(false).toBER(false))
}

// ---------------------------------------------------------------------------
// Citizens, MRZ and data groups

export interface TestCitizen {
  readonly pin: string
  /** With diacritics, e.g. 'Nguyễn Văn An'. */
  readonly fullName: string
  /** ISO date. */
  readonly dateOfBirth: string
  readonly gender: 'male' | 'female'
  /** ISO date, or null for a card without expiry. */
  readonly expiry: string | null
  readonly placeOfOrigin?: string
  readonly placeOfResidence?: string
  readonly fatherName?: string
  readonly motherName?: string
  readonly spouseName?: string
}

export const AN: TestCitizen = {
  pin: '001099012345',
  fullName: 'Nguyễn Văn An',
  dateOfBirth: '1999-03-15',
  gender: 'male',
  expiry: '2039-03-15',
  placeOfOrigin: 'Xã Đông Hội, Huyện Đông Anh, Hà Nội',
  placeOfResidence: 'Số 12 Phố Huế, Phường Hàng Bài, Quận Hoàn Kiếm, Hà Nội',
  fatherName: 'Nguyễn Văn Bình',
  motherName: 'Trần Thị Hoà'
}

export const DUONG: TestCitizen = {
  pin: '079301004567',
  fullName: 'Trần Thị Thùy Dương',
  dateOfBirth: '2001-11-30',
  gender: 'female',
  expiry: '2026-11-30',
  spouseName: 'Lê Đức Thắng',
  fatherName: 'Trần Văn Đạt',
  motherName: 'Phạm Thị Thủy'
}

/** ICAO 9303 check digit, written independently of the library's. */
export function icaoCheckDigit (s: string): string {
  const weights = [7, 3, 1]
  let sum = 0
  for (let i = 0; i < s.length; i++) {
    const ch = s[i] ?? '<'
    const v = ch === '<' ? 0 : /\d/.test(ch) ? Number(ch) : ch.charCodeAt(0) - 55
    sum += v * (weights[i % 3] ?? 0)
  }
  return String(sum % 10)
}

/** 'Nguyễn Văn An' → 'NGUYEN<<VAN<AN' (ICAO transliteration for Vietnamese: strip marks, Đ → D). */
export function mrzName (fullName: string): string {
  const folded = fullName.normalize('NFD').replace(/[\u0300-\u036f]/g, '').replace(/đ/g, 'd').replace(/Đ/g, 'D').toUpperCase()
  const words = folded.split(/[^A-Z]+/).filter(w => w !== '')
  return `${words[0] ?? ''}<<${words.slice(1).join('<')}`
}

const pad = (s: string, n: number): string => (s + '<'.repeat(n)).slice(0, n)
const yymmdd = (iso: string): string => iso.slice(2, 4) + iso.slice(5, 7) + iso.slice(8, 10)

export function makeMrz (c: TestCitizen): string {
  const docNo = c.pin.slice(3)
  const line1 = `IDVNM${docNo}${icaoCheckDigit(docNo)}${pad(c.pin, 15)}`
  const dob = yymmdd(c.dateOfBirth)
  const exp = c.expiry === null ? '<<<<<<' : yymmdd(c.expiry)
  const expCd = c.expiry === null ? '<' : icaoCheckDigit(exp)
  const partial = `${dob}${icaoCheckDigit(dob)}${c.gender === 'male' ? 'M' : 'F'}${exp}${expCd}VNM${'<'.repeat(11)}`
  const composite = icaoCheckDigit(line1.slice(5, 30) + partial.slice(0, 7) + partial.slice(8, 15) + partial.slice(18, 29))
  return line1 + partial + composite + pad(mrzName(c.fullName), 30)
}

export function makeDg1 (mrz: string): Uint8Array {
  return new Uint8Array(new asn1js.Constructed({
    idBlock: { tagClass: 2, tagNumber: 1 },
    value: [new asn1js.Primitive({ idBlock: { tagClass: 2, tagNumber: 0x1f }, valueHex: Buffer.from(mrz, 'latin1') })]
  }).toBER(false))
}

/** Seeded PRNG, so fake face images and fuzz runs are reproducible. */
export { prng }

/** DG2 stand-in: tag 0x75 around `size` pseudo-random bytes (a real face JPEG2000 is 10–30 KiB). */
export function makeDg2 (seed: number, size = 16_000): Uint8Array {
  const rnd = prng(seed)
  const img = new Uint8Array(size)
  for (let i = 0; i < size; i++) img[i] = Math.floor(rnd() * 256)
  return new Uint8Array(new asn1js.Constructed({
    idBlock: { tagClass: 2, tagNumber: 21 },
    value: [new asn1js.Constructed({ idBlock: { tagClass: 2, tagNumber: 0x61 }, value: [new asn1js.Primitive({ idBlock: { tagClass: 2, tagNumber: 0x2e }, valueHex: img })] })]
  }).toBER(false))
}

/** Another DG with the right outer tag (DG14/DG15 and friends): contents are not parsed by passive authentication. */
export function makeOpaqueDg (n: number, seed: number): Uint8Array {
  const rnd = prng(seed)
  const body = new Uint8Array(64).map(() => Math.floor(rnd() * 256))
  const tagNumber = [0, 1, 21, 3, 22, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16][n] ?? n
  return new Uint8Array(new asn1js.Constructed({ idBlock: { tagClass: 2, tagNumber }, value: [new asn1js.OctetString({ valueHex: body })] }).toBER(false))
}

const isoToDmy = (iso: string): string => `${iso.slice(8, 10)}/${iso.slice(5, 7)}/${iso.slice(0, 4)}`

/**
 * DG13 with Vietnamese text. `set` is the nominal layout (fields in a SET);
 * `flat` puts the fields straight into the outer SEQUENCE with PrintableString
 * numbers-as-text and a differently nested parents field, as some card
 * generations do.
 */
export function makeDg13 (c: TestCitizen, layout: 'set' | 'flat' = 'set', normalize: 'NFC' | 'NFD' = 'NFC'): Uint8Array {
  const u = (s: string): asn1js.Utf8String => new asn1js.Utf8String({ value: s.normalize(normalize) })
  const field = (n: number, ...values: asn1js.AsnType[]): asn1js.Sequence => new asn1js.Sequence({ value: [new asn1js.Integer({ value: n }), ...values] })
  const fields: asn1js.Sequence[] = [
    field(1, layout === 'flat' ? new asn1js.PrintableString({ value: c.pin }) : u(c.pin)),
    field(2, u(c.fullName)),
    field(3, u(isoToDmy(c.dateOfBirth))),
    field(4, u(c.gender === 'male' ? 'Nam' : 'Nữ')),
    field(5, u('Việt Nam')),
    field(6, u('Kinh')),
    field(7, u('Không')),
    field(8, u(c.placeOfOrigin ?? 'Hà Nội')),
    field(9, u(c.placeOfResidence ?? 'Hà Nội')),
    field(10, u('Nốt ruồi cách 2cm trên đầu lông mày trái')),
    field(11, u('10/04/2021')),
    field(12, u(c.expiry === null ? 'Không thời hạn' : isoToDmy(c.expiry))),
    layout === 'set'
      ? field(13, new asn1js.Sequence({ value: [u(c.fatherName ?? ''), u(c.motherName ?? '')] }))
      : field(13, new asn1js.Sequence({ value: [new asn1js.Sequence({ value: [u(c.fatherName ?? '')] }), new asn1js.Sequence({ value: [u(c.motherName ?? '')] })] })),
    ...(c.spouseName !== undefined ? [field(14, new asn1js.Sequence({ value: [u(c.spouseName)] }))] : []),
    field(15, u('012345678')),
    field(16, u('CCCD-TEST'))
  ]
  const inner = layout === 'set'
    ? new asn1js.Sequence({ value: [new asn1js.Integer({ value: 1 }), new asn1js.ObjectIdentifier({ value: '1.2.704.1.13' }), new asn1js.Set({ value: fields })] })
    : new asn1js.Sequence({ value: [new asn1js.Integer({ value: 2 }), new asn1js.ObjectIdentifier({ value: '1.2.704.1.13' }), ...fields] })
  return new Uint8Array(new asn1js.Constructed({ idBlock: { tagClass: 2, tagNumber: 13 }, value: [inner] }).toBER(false))
}

// ---------------------------------------------------------------------------
// LDSSecurityObject and SOD

export function encodeLdsSecurityObject (hash: TestHash, dgHashes: ReadonlyMap<number, Uint8Array>): Uint8Array {
  return new Uint8Array(new asn1js.Sequence({
    value: [
      new asn1js.Integer({ value: 0 }),
      new pkijs.AlgorithmIdentifier({ algorithmId: HASH_OIDS[hash], algorithmParams: new asn1js.Null() }).toSchema(),
      new asn1js.Sequence({
        value: [...dgHashes].sort(([a], [b]) => a - b).map(([n, h]) => new asn1js.Sequence({ value: [new asn1js.Integer({ value: n }), new asn1js.OctetString({ valueHex: h })] }))
      })
    ]
  }).toBER(false))
}

export interface ChipOptions {
  readonly citizen: TestCitizen
  readonly ds: TestCert
  /** Signature scheme; default from the DS key (rsa → PKCS#1 v1.5). */
  readonly signWith?: KeyAlg
  /** LDSSecurityObject hash (default sha256). */
  readonly ldsHash?: TestHash
  /** SignerInfo digest and signature hash (default sha256). */
  readonly signerHash?: TestHash
  /** Data groups on the chip (default [1, 2, 13]). */
  readonly dataGroups?: readonly number[]
  /** Data groups returned to the caller but not listed in the SOD. */
  readonly omitFromSod?: readonly number[]
  /** Flip a byte in this DG after hashing. */
  readonly tamperDg?: number
  /** Flip a byte of the signature. */
  readonly tamperSignature?: boolean
  /** Rewrite the MRZ before it is hashed and signed (to sign a broken MRZ). */
  readonly mrz?: (mrz: string) => string
  /** signingTime attribute; null leaves it out. Default 2025-06-01. */
  readonly signingTime?: Date | null
  /** Wrap in tag 0x77 as read from the chip (default true). */
  readonly wrap?: boolean
  /** Put the DS certificate in the SOD (default true). */
  readonly includeCertificate?: boolean
  readonly dg13Layout?: 'set' | 'flat'
  /** Override the DG13 content entirely (e.g. a DG13 for another citizen). */
  readonly dg13?: Uint8Array
  readonly contentTypeAttr?: string
  /** Corrupt the messageDigest attribute before signing. */
  readonly badMessageDigest?: boolean
}

export interface TestChip {
  readonly sod: Uint8Array
  readonly dataGroups: Map<number, Uint8Array>
  readonly mrz: string
  readonly lds: Uint8Array
}

export function makeDataGroups (o: Pick<ChipOptions, 'citizen' | 'dataGroups' | 'mrz' | 'dg13Layout' | 'dg13'>): { dataGroups: Map<number, Uint8Array>, mrz: string } {
  const mrz = (o.mrz ?? (m => m))(makeMrz(o.citizen))
  const dataGroups = new Map<number, Uint8Array>()
  for (const n of o.dataGroups ?? [1, 2, 13]) {
    dataGroups.set(n, n === 1 ? makeDg1(mrz) : n === 2 ? makeDg2(Number(o.citizen.pin.slice(-6))) : n === 13 ? (o.dg13 ?? makeDg13(o.citizen, o.dg13Layout)) : makeOpaqueDg(n, n))
  }
  return { dataGroups, mrz }
}

export function makeChip (o: ChipOptions): TestChip {
  const ldsHash = o.ldsHash ?? 'sha256'
  const signerHash = o.signerHash ?? 'sha256'
  const { dataGroups, mrz } = makeDataGroups(o)
  const hashes = new Map<number, Uint8Array>()
  for (const [n, bytes] of dataGroups) {
    if (o.omitFromSod?.includes(n) !== true) hashes.set(n, createHash(ldsHash).update(bytes).digest())
  }
  const lds = encodeLdsSecurityObject(ldsHash, hashes)
  const sod = signSod(lds, o.ds, { ...o, signerHash })
  if (o.tamperDg !== undefined) {
    const dg = dataGroups.get(o.tamperDg)
    if (dg === undefined) throw new Error(`DG${o.tamperDg} not on this chip`)
    const copy = dg.slice()
    const at = copy.length - 2
    copy[at] = (copy[at] ?? 0) ^ 0x01
    dataGroups.set(o.tamperDg, copy)
  }
  return { sod, dataGroups, mrz, lds }
}

/** CMS SignedData over an LDSSecurityObject, signed by `ds`, optionally wrapped in 0x77. */
export function signSod (lds: Uint8Array, ds: TestCert, o: Omit<ChipOptions, 'citizen' | 'ds'> & { signerHash: TestHash }): Uint8Array {
  const signWith = o.signWith ?? ds.keys.alg
  const md = createHash(o.signerHash === 'sha1' ? 'sha1' : o.signerHash).update(lds).digest()
  if (o.badMessageDigest === true) md[0] = (md[0] ?? 0) ^ 0xff
  const attributes = [
    new pkijs.Attribute({ type: OID.contentType, values: [new asn1js.ObjectIdentifier({ value: o.contentTypeAttr ?? OID.lds })] }),
    ...(o.signingTime === null ? [] : [new pkijs.Attribute({ type: OID.signingTime, values: [new asn1js.UTCTime({ valueDate: o.signingTime ?? new Date(Date.UTC(2025, 5, 1)) })] })]),
    new pkijs.Attribute({ type: OID.messageDigest, values: [new asn1js.OctetString({ valueHex: md })] })
  ]
  const signedAttrs = new pkijs.SignedAndUnsignedAttributes({ type: 0, attributes })
  const toSign = new Uint8Array(signedAttrs.toSchema().toBER(false))
  toSign[0] = 0x31
  const signature = signBytes({ ...ds.keys, alg: signWith }, toSign, o.signerHash)
  if (o.tamperSignature === true) signature[10] = (signature[10] ?? 0) ^ 0x01

  const signerInfo = new pkijs.SignerInfo({
    version: 1,
    sid: new pkijs.IssuerAndSerialNumber({ issuer: ds.cert.issuer, serialNumber: ds.cert.serialNumber }),
    digestAlgorithm: new pkijs.AlgorithmIdentifier({ algorithmId: HASH_OIDS[o.signerHash], algorithmParams: new asn1js.Null() }),
    signedAttrs,
    signatureAlgorithm: signatureAlgorithm(signWith, o.signerHash),
    signature: new asn1js.OctetString({ valueHex: signature })
  })
  const signedData = new pkijs.SignedData({
    version: 3,
    digestAlgorithms: [new pkijs.AlgorithmIdentifier({ algorithmId: HASH_OIDS[o.signerHash], algorithmParams: new asn1js.Null() })],
    encapContentInfo: derEncapsulatedContent(lds),
    ...(o.includeCertificate === false ? {} : { certificates: [ds.cert] }),
    signerInfos: [signerInfo]
  })
  const contentInfo = new pkijs.ContentInfo({ contentType: OID.signedData, content: signedData.toSchema(false) })
  return wrapSod(new Uint8Array(contentInfo.toSchema().toBER(false)), o.wrap ?? true)
}

/**
 * pkijs's EncapsulatedContentInfo constructor re-chunks eContent into a
 * constructed (BER) OCTET STRING; ICAO requires DER, so put the primitive
 * one back after construction.
 */
function derEncapsulatedContent (lds: Uint8Array): pkijs.EncapsulatedContentInfo {
  const encap = new pkijs.EncapsulatedContentInfo({ eContentType: OID.lds })
  encap.eContent = new asn1js.OctetString({ valueHex: lds })
  return encap
}

/** EF.SOD framing: [APPLICATION 23] around the ContentInfo. */
export function wrapSod (contentInfo: Uint8Array, wrap = true): Uint8Array {
  if (!wrap) return contentInfo
  const inner = asn1js.fromBER(contentInfo).result
  return new Uint8Array(new asn1js.Constructed({ idBlock: { tagClass: 2, tagNumber: 23 }, value: [inner] }).toBER(false))
}

// ---------------------------------------------------------------------------
// The standard test PKI

export interface TestPki {
  readonly csca: TestCert
  /** Same subject name as `csca`, different key: not in the trust store. */
  readonly rogueCsca: TestCert
  readonly ds: Readonly<Record<KeyAlg, TestCert>>
  readonly expiredDs: TestCert
  readonly futureDs: TestCert
  readonly keyEnciphermentDs: TestCert
  readonly rogueDs: TestCert
  readonly revokedDs: TestCert
  /** Directory holding only csca.pem. */
  readonly trustDir: string
  /** CRL (DER) signed by csca, revoking revokedDs. */
  readonly crlFile: string
  readonly workDir: string
}

/** Builds the whole PKI once (RSA key generation dominates: ~1 s); share it across a test file. */
export function createTestPki (): TestPki {
  const workDir = makeWorkDir('chip-pki')
  const cscaKeys = generateKeys('rsa')
  const csca = makeCertificate({ cn: 'CSCA Viet Nam TEST', keys: cscaKeys, ca: true, notBefore: new Date(Date.UTC(2020, 0, 1)), notAfter: new Date(Date.UTC(2045, 0, 1)) })
  const rogueCsca = makeCertificate({ cn: 'CSCA Viet Nam TEST', keys: generateKeys('ecdsa'), ca: true })
  const rsaKeys = generateKeys('rsa')
  const ecKeys = generateKeys('ecdsa')
  const ds = {
    rsa: makeCertificate({ cn: 'DS RSA', keys: rsaKeys, issuer: csca }),
    'rsa-pss': makeCertificate({ cn: 'DS RSA-PSS', keys: { ...rsaKeys, alg: 'rsa-pss' as const }, issuer: csca }),
    ecdsa: makeCertificate({ cn: 'DS ECDSA', keys: ecKeys, issuer: csca })
  }
  const expiredDs = makeCertificate({ cn: 'DS expired', keys: ecKeys, issuer: csca, notBefore: new Date(Date.UTC(2024, 0, 1)), notAfter: new Date(Date.UTC(2024, 6, 1)) })
  const futureDs = makeCertificate({ cn: 'DS future', keys: ecKeys, issuer: csca, notBefore: new Date(Date.UTC(2030, 0, 1)) })
  const keyEnciphermentDs = makeCertificate({ cn: 'DS wrong key usage', keys: ecKeys, issuer: csca, keyUsage: 'encipher' })
  const rogueDs = makeCertificate({ cn: 'DS rogue', keys: ecKeys, issuer: rogueCsca })
  const revokedDs = makeCertificate({ cn: 'DS revoked', keys: ecKeys, issuer: csca })

  const trustDir = join(workDir, 'trust')
  mkdirSync(trustDir, { recursive: true })
  writeFileSync(join(trustDir, 'csca.pem'), csca.pem)
  const crlFile = join(workDir, 'csca.crl')
  writeFileSync(crlFile, makeCrl(csca, [revokedDs.cert.serialNumber]))
  return { csca, rogueCsca, ds, expiredDs, futureDs, keyEnciphermentDs, rogueDs, revokedDs, trustDir, crlFile, workDir }
}
