/**
 * The SOD reference parser: EF.SOD is a CMS SignedData (RFC 5652) wrapping an
 * ICAO LDSSecurityObject (Doc 9303 Part 10 §4.6.2). Parsing only: no hashing,
 * no signature checks.
 *
 * - asn1js does all decoding, with resource limits (depth, node count) and
 *   `parseEmbedded: false`, because a SOD is attacker-supplied and asn1js by
 *   default speculatively decodes every OCTET/BIT STRING as nested BER.
 * - The SignedData is matched against a declarative schema that keeps the
 *   certificates as raw DER blocks. pkijs Certificate objects are expensive
 *   to build, and the trust store caches DS certificates by DER hash, so a
 *   certificate is parsed by pkijs only the first time it is seen.
 * - Strict DER: ICAO requires it of security objects (der.ts).
 *
 * The arbiter of what a SOD is: the fast parser (sod-fast.ts) must read the
 * same fields or decline (test/chip/sod-agreement.test.ts).
 */
import * as asn1js from 'asn1js'
import * as pkijs from 'pkijs'
import { hasNoParams } from './algorithms.js'
import { DerError, decodeWhole, errorText, fail, smallInteger } from './der.js'

export const OID_SIGNED_DATA = '1.2.840.113549.1.7.2'
export const OID_LDS_SECURITY_OBJECT = '2.23.136.1.1.1'
const OID_CONTENT_TYPE = '1.2.840.113549.1.9.3'
const OID_MESSAGE_DIGEST = '1.2.840.113549.1.9.4'
const OID_SIGNING_TIME = '1.2.840.113549.1.9.5'

/** The signer identifier: IssuerAndSerialNumber (the ICAO norm) or a subjectKeyIdentifier. */
export type SignerId =
  | { readonly kind: 'issuer-serial', readonly issuer: Uint8Array, readonly serial: Uint8Array }
  | { readonly kind: 'ski', readonly ski: Uint8Array }

export interface ParsedSod {
  /** LDSSecurityObject hashAlgorithm OID. */
  readonly ldsHashOid: string
  /** Data group number → stored hash. */
  readonly dgHashes: ReadonlyMap<number, Uint8Array>
  /** The LDSSecurityObject bytes (the messageDigest is computed over these). */
  readonly eContent: Uint8Array
  /** SignerInfo.digestAlgorithm OID. */
  readonly signerDigestOid: string
  readonly signatureAlgorithm: pkijs.AlgorithmIdentifier
  readonly signature: Uint8Array
  /** The signed attributes re-tagged as SET OF (0x31): the bytes the signature covers. */
  readonly signedAttrs: Uint8Array
  readonly contentTypeAttr?: string
  readonly messageDigest?: Uint8Array
  readonly signingTime?: Date
  readonly signerId: SignerId
  /** DER of each plain X.509 certificate in SignedData.certificates. */
  readonly certificates: readonly Uint8Array[]
}

export type SodParseResult = { readonly ok: true, readonly sod: ParsedSod } | { readonly ok: false, readonly detail: string }

/**
 * SignedData with the certificates kept as raw blocks. Mirrors pkijs
 * SignedData.schema() except for `certificates`, so a certificate's inside is
 * not schema-matched on every call.
 */
const SIGNED_DATA_SCHEMA = new asn1js.Sequence({
  value: [
    new asn1js.Integer({ name: 'version' }),
    new asn1js.Set({ value: [new asn1js.Repeated({ name: 'digestAlgorithms', value: new asn1js.Any() })] }),
    pkijs.EncapsulatedContentInfo.schema({ names: { blockName: 'encapContentInfo' } }),
    new asn1js.Constructed({
      optional: true,
      idBlock: { tagClass: 3, tagNumber: 0 },
      value: [new asn1js.Repeated({ name: 'certificates', value: new asn1js.Any() })]
    }),
    new asn1js.Constructed({
      optional: true,
      idBlock: { tagClass: 3, tagNumber: 1 },
      value: [new asn1js.Repeated({ name: 'crls', value: new asn1js.Any() })]
    }),
    new asn1js.Set({ value: [new asn1js.Repeated({ name: 'signerInfos', value: new asn1js.Any() })] })
  ]
})

/** Offsets into a SOD's bytes. */
export interface Region { readonly start: number, readonly end: number }

/** What an LDSSecurityObject lists: the hash algorithm and each data group's hash. */
export interface LdsContents {
  readonly ldsHashOid: string
  readonly dgHashes: Map<number, Uint8Array>
}

/** Where the per-chip parts of a SOD lie (offsets into its bytes). */
export interface SodLayout {
  /** Content of the eContent OCTET STRING (the LDSSecurityObject). */
  readonly eContent: Region
  /** The whole [0] signedAttrs element (re-tagged 0x31 for verification). */
  readonly signedAttrs: Region
  readonly messageDigest?: Region
  /** The whole signingTime value element (tag included), decoded again per chip. */
  readonly signingTime?: Region
  readonly signature: Region
  /** Bytes outside the variable regions: these must match for the template to apply. */
  readonly fixedRanges: readonly Region[]
}

/** The reference parse as an answer, never an exception. */
export function parseSodReference (bytes: Uint8Array): SodParseResult {
  try {
    return { ok: true, sod: parseSodWithLayout(bytes).sod }
  } catch (err) {
    return sodRefusal(err)
  }
}

/** Why a SOD was refused: pkijs/asn1js throw plain Errors (and RangeError on pathological nesting); to the caller all mean "not a SOD". */
export function sodRefusal (err: unknown): { ok: false, detail: string } {
  return { ok: false, detail: err instanceof DerError ? err.message : `SOD does not parse: ${errorText(err)}` }
}

export const asBuffer = (b: Uint8Array): Buffer => Buffer.from(b.buffer, b.byteOffset, b.byteLength)

/**
 * The full, strict parse of a SOD in `bytes`, with where its per-chip parts lie
 * (for sod-fast.ts); `parseLds` reads the LDSSecurityObject (the reference
 * parser's own, or the fast one's template cache). Throws DerError or
 * asn1js/pkijs errors on anything malformed.
 */
export function parseSodWithLayout (bytes: Uint8Array, parseLds: (eContent: Uint8Array) => LdsContents = parseLdsSecurityObject): { sod: ParsedSod, layout: SodLayout } {
  let root = decodeWhole(bytes, 'SOD', true)
  // EF.SOD as read from the chip is [APPLICATION 23] { ContentInfo }; accept the bare ContentInfo too.
  if (root.idBlock.tagClass === 2) {
    if (root.idBlock.tagNumber !== 23 || !(root instanceof asn1js.Constructed)) fail('SOD outer tag is not 0x77')
    const inner = root.valueBlock.value
    if (inner.length !== 1 || inner[0] === undefined) fail('SOD tag 0x77 must hold exactly one ContentInfo')
    root = inner[0]
  }
  const contentInfo = new pkijs.ContentInfo({ schema: root })
  if (contentInfo.contentType !== OID_SIGNED_DATA) fail(`ContentInfo type ${contentInfo.contentType} is not SignedData`)

  const signedData = contentInfo.content as asn1js.AsnType
  const matched = asn1js.compareSchema(signedData, signedData, SIGNED_DATA_SCHEMA)
  if (!matched.verified) fail('SignedData does not match its schema')
  const parts = matched.result as Record<string, unknown>
  // RFC 5652 §5.1: version 3 whenever eContentType is not id-data, which is always the case for a SOD.
  const version = parts.version
  if (!(version instanceof asn1js.Integer) || smallInteger(version) !== 3) fail('SignedData version is not 3')

  const encap = new pkijs.EncapsulatedContentInfo({ schema: parts.encapContentInfo })
  if (encap.eContentType !== OID_LDS_SECURITY_OBJECT) fail(`eContentType ${encap.eContentType} is not id-icao-mrtd-security-ldsSecurityObject`)
  if (encap.eContent === undefined) fail('SOD has no encapsulated LDSSecurityObject (detached content)')
  // getValue() concatenates the segments of a constructed (BER) OCTET STRING.
  const eContent = new Uint8Array(encap.eContent.getValue())

  const signerBlocks = (parts.signerInfos as asn1js.AsnType[] | undefined) ?? []
  // ICAO 9303 Part 10: the SOD carries exactly one SignerInfo.
  if (signerBlocks.length !== 1) fail(`SOD has ${signerBlocks.length} SignerInfos, expected 1`)
  const signer = new pkijs.SignerInfo({ schema: signerBlocks[0] })
  if (!hasNoParams(signer.digestAlgorithm)) fail('SignerInfo digestAlgorithm has parameters')
  // The SignedData digestAlgorithms set is unsigned; it must at least name the signer's digest.
  const digestAlgorithms = ((parts.digestAlgorithms as asn1js.AsnType[] | undefined) ?? []).map(b => new pkijs.AlgorithmIdentifier({ schema: b }))
  if (!digestAlgorithms.some(a => a.algorithmId === signer.digestAlgorithm.algorithmId)) fail('SignedData digestAlgorithms does not list the signer digest')
  if (!digestAlgorithms.every(hasNoParams)) fail('SignedData digestAlgorithms entry has parameters')

  const certificates: Uint8Array[] = []
  for (const block of (parts.certificates as asn1js.AsnType[] | undefined) ?? []) {
    // Only plain certificates (SEQUENCE); attribute certificates and other choices are tagged [n].
    if (block instanceof asn1js.Sequence) certificates.push(block.valueBeforeDecodeView)
  }

  const { ldsHashOid, dgHashes } = parseLds(eContent)
  const attrs = readSignedAttributes(signer, bytes)
  const sod: ParsedSod = {
    ldsHashOid,
    dgHashes,
    eContent,
    signerDigestOid: signer.digestAlgorithm.algorithmId,
    signatureAlgorithm: signer.signatureAlgorithm,
    signature: signer.signature.valueBlock.valueHexView,
    ...attrs.values,
    signerId: readSignerId(signer, signer.version),
    certificates
  }
  // Offsets of the per-chip parts, for the template. With copyInput: false every block views `bytes`.
  // SignerInfo ::= SEQUENCE { version, sid, digestAlgorithm, signedAttrs [0] IMPLICIT, … } (RFC 5652 §5.3):
  // taken by position, because a subjectKeyIdentifier sid is a (primitive) [0] as well, and the first
  // [0] in a SignerInfo named by key id is its sid. The template must cover the bytes the signature covers.
  const signedAttrsBlock = (signerBlocks[0] as asn1js.Sequence).valueBlock.value[3]
  if (signedAttrsBlock === undefined || signedAttrsBlock.idBlock.tagClass !== 3 || signedAttrsBlock.idBlock.tagNumber !== 0 ||
    !asBuffer(signedAttrsBlock.valueBeforeDecodeView).subarray(1).equals(asBuffer(attrs.values.signedAttrs).subarray(1))) {
    fail('SignerInfo signed attributes are not its fourth element')
  }
  const variable = [contentOf(bytes, encap.eContent), contentOf(bytes, signer.signature), ...attrs.regions.map(r => r.region)]
  const layout = {
    eContent: contentOf(bytes, encap.eContent),
    signedAttrs: whole(bytes, signedAttrsBlock),
    signature: contentOf(bytes, signer.signature),
    ...Object.fromEntries(attrs.regions.map(r => [r.name, r.region])),
    fixedRanges: complement(variable, bytes.byteLength)
  }
  return { sod, layout }
}

/** The content bytes of a primitive element (after its tag and length). */
export function contentOf (bytes: Uint8Array, block: asn1js.AsnType): Region {
  if (block.idBlock.isConstructed) fail('expected a primitive element')
  const r = whole(bytes, block)
  return { start: r.start + block.idBlock.blockLength + block.lenBlock.blockLength, end: r.end }
}

function whole (bytes: Uint8Array, block: asn1js.AsnType): Region {
  const view = block.valueBeforeDecodeView
  if (view.buffer !== bytes.buffer) fail('element does not view the SOD buffer')
  const start = view.byteOffset - bytes.byteOffset
  return { start, end: start + view.byteLength }
}

/** The ranges of [0, length) not covered by `regions` (which do not overlap). */
export function complement (regions: readonly Region[], length: number): Region[] {
  const sorted = [...regions].sort((a, b) => a.start - b.start)
  const out: Region[] = []
  let pos = 0
  for (const r of sorted) {
    if (r.start > pos) out.push({ start: pos, end: r.start })
    pos = Math.max(pos, r.end)
  }
  if (pos < length) out.push({ start: pos, end: length })
  return out
}

function readSignerId (signer: pkijs.SignerInfo, version: number): SignerId {
  const sid: unknown = signer.sid
  if (sid instanceof pkijs.IssuerAndSerialNumber) {
    // RFC 5652 §5.3: version 1 goes with issuerAndSerialNumber, 3 with subjectKeyIdentifier.
    if (version !== 1) fail('SignerInfo version is not 1 for issuerAndSerialNumber')
    return { kind: 'issuer-serial', issuer: new Uint8Array(sid.issuer.valueBeforeDecode), serial: sid.serialNumber.valueBlock.valueHexView }
  }
  // [0] SubjectKeyIdentifier: pkijs keeps the IMPLICIT-tagged block; its content is the key id.
  if (sid instanceof asn1js.BaseBlock && sid.idBlock.tagClass === 3 && sid.idBlock.tagNumber === 0) {
    const view = (sid.valueBlock as { valueHexView?: Uint8Array }).valueHexView
    if (version !== 3) fail('SignerInfo version is not 3 for subjectKeyIdentifier')
    if (view !== undefined && view.byteLength > 0) return { kind: 'ski', ski: view }
  }
  return fail('SignerInfo sid is neither IssuerAndSerialNumber nor subjectKeyIdentifier')
}

interface SignedAttrs {
  signedAttrs: Uint8Array
  contentTypeAttr?: string
  messageDigest?: Uint8Array
  signingTime?: Date
}

function readSignedAttributes (signer: pkijs.SignerInfo, bytes: Uint8Array): { values: SignedAttrs, regions: Array<{ name: 'messageDigest' | 'signingTime', region: Region }> } {
  const regions: Array<{ name: 'messageDigest' | 'signingTime', region: Region }> = []
  // ICAO requires signed attributes: the signature covers them, not the LDSSecurityObject directly.
  if (signer.signedAttrs === undefined || signer.signedAttrs.encodedValue.byteLength === 0) fail('SignerInfo has no signed attributes')
  // The signature is computed over the DER of SET OF Attribute (tag 0x31), not the [0] IMPLICIT tag on the wire (RFC 5652 §5.4).
  const signedAttrs = new Uint8Array(signer.signedAttrs.encodedValue.slice(0))
  signedAttrs[0] = 0x31
  const out: SignedAttrs = { signedAttrs }
  const seen = new Set<string>()
  for (const attr of signer.signedAttrs.attributes) {
    if (attr.type === OID_CONTENT_TYPE || attr.type === OID_MESSAGE_DIGEST || attr.type === OID_SIGNING_TIME) {
      // RFC 5652 §11: these attributes are single-valued and must not repeat; a second one could smuggle a digest.
      if (seen.has(attr.type)) fail(`signed attribute ${attr.type} appears twice`)
      seen.add(attr.type)
      if (attr.values.length !== 1) fail(`signed attribute ${attr.type} has ${attr.values.length} values`)
    }
    const value: unknown = attr.values[0]
    if (attr.type === OID_CONTENT_TYPE) {
      if (!(value instanceof asn1js.ObjectIdentifier)) fail('contentType attribute is not an OID')
      out.contentTypeAttr = value.valueBlock.toString()
    } else if (attr.type === OID_MESSAGE_DIGEST) {
      if (!(value instanceof asn1js.OctetString)) fail('messageDigest attribute is not an OCTET STRING')
      out.messageDigest = new Uint8Array(value.getValue())
      regions.push({ name: 'messageDigest', region: contentOf(bytes, value) })
    } else if (attr.type === OID_SIGNING_TIME) {
      if (!(value instanceof asn1js.UTCTime) && !(value instanceof asn1js.GeneralizedTime)) fail('signingTime attribute is not a time')
      const date = value.toDate()
      if (Number.isNaN(date.getTime())) fail('signingTime attribute is not a valid date')
      out.signingTime = date
      regions.push({ name: 'signingTime', region: whole(bytes, value) })
    }
  }
  return { values: out, regions }
}

/** The reference LDSSecurityObject parse, with where each hash value lies. */
export function parseLdsSecurityObject (eContent: Uint8Array): LdsContents & { hashRegions: Array<[number, Region]> } {
  const root = decodeWhole(eContent, 'LDSSecurityObject', true)
  if (!(root instanceof asn1js.Sequence)) fail('LDSSecurityObject is not a SEQUENCE')
  const [version, hashAlg, values, versionInfo, ...extra] = root.valueBlock.value
  if (!(version instanceof asn1js.Integer) || !(hashAlg instanceof asn1js.Sequence) || !(values instanceof asn1js.Sequence)) {
    fail('LDSSecurityObject fields are not INTEGER, AlgorithmIdentifier, SEQUENCE')
  }
  if (extra.length > 0 || (versionInfo !== undefined && !(versionInfo instanceof asn1js.Sequence))) fail('LDSSecurityObject has unexpected trailing fields')
  const v = smallInteger(version)
  if (v !== 0 && v !== 1) fail(`LDSSecurityObject version ${v} is not 0 or 1`)
  const ldsHashAlg = new pkijs.AlgorithmIdentifier({ schema: hashAlg })
  if (!hasNoParams(ldsHashAlg)) fail('LDSSecurityObject hashAlgorithm has parameters')
  const ldsHashOid = ldsHashAlg.algorithmId
  const dgHashes = new Map<number, Uint8Array>()
  const hashRegions: Array<[number, Region]> = []
  for (const entry of values.valueBlock.value) {
    if (!(entry instanceof asn1js.Sequence)) fail('DataGroupHash is not a SEQUENCE')
    const [num, hash] = entry.valueBlock.value
    if (!(num instanceof asn1js.Integer) || !(hash instanceof asn1js.OctetString) || entry.valueBlock.value.length !== 2) {
      fail('DataGroupHash is not { INTEGER, OCTET STRING }')
    }
    const n = smallInteger(num)
    if (n < 1 || n > 16) fail(`data group number ${n} is outside 1..16`)
    if (dgHashes.has(n)) fail(`DG${n} is listed twice`)
    dgHashes.set(n, new Uint8Array(hash.getValue()))
    hashRegions.push([n, contentOf(eContent, hash)])
  }
  if (dgHashes.size === 0) fail('LDSSecurityObject lists no data groups')
  return { ldsHashOid, dgHashes, hashRegions }
}
