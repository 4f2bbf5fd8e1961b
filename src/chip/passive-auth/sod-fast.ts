/**
 * The SOD fast parser: layout templates. asn1js costs microseconds per
 * element, so a full decode of a SOD (certificate included) costs several
 * times the signature check. SODs from one Document Signer are byte-identical
 * except for the contents of a few primitive elements (the LDSSecurityObject,
 * the messageDigest and signingTime values, the signature). After a full,
 * strict parse (sod-reference.ts), the SOD's bytes and those element-content
 * regions are kept as a template. A later SOD of the same length whose bytes
 * equal the template everywhere outside the regions has, by construction, the
 * same element tree (every tag and length byte is compared), so its fields are
 * read straight from the regions. Leaf contents are still validated: the
 * LDSSecurityObject is decoded (through a template of its own) and the
 * signing time is decoded by asn1js. A SOD no template matches is declined.
 */
import * as asn1js from 'asn1js'
import { decodeWhole, fail } from './der.js'
import { asBuffer, complement, parseLdsSecurityObject, type LdsContents, type ParsedSod, type Region, type SodLayout } from './sod-reference.js'

/** The ParsedSod fields that are the same for every SOD matching a template. */
type FixedSodFields = Pick<ParsedSod, 'signerDigestOid' | 'signatureAlgorithm' | 'contentTypeAttr' | 'signerId' | 'certificates'>

interface SodTemplate extends SodLayout, Template {
  readonly fixed: FixedSodFields
}



interface Template {
  /** A Buffer, for Buffer#compare with offsets (no subarray objects per comparison). */
  readonly bytes: Buffer
  readonly fixedRanges: readonly Region[]
}


/** Templates by total length. Bounded: a real deployment has a few per DS (ECDSA signature lengths, DG sets). */
const MAX_TEMPLATES = 128
const sodTemplates = new Map<number, SodTemplate[]>()
const ldsTemplates = new Map<number, LdsTemplate[]>()

function findTemplate<T extends Template> (store: Map<number, T[]>, bytes: Uint8Array): T | undefined {
  const list = store.get(bytes.byteLength)
  if (list === undefined) return undefined
  for (const tpl of list) {
    let same = true
    for (const r of tpl.fixedRanges) {
      if (tpl.bytes.compare(bytes, r.start, r.end, r.start, r.end) !== 0) { same = false; break }
    }
    if (same) return tpl
  }
  return undefined
}

function addTemplate<T extends Template> (store: Map<number, T[]>, tpl: T): void {
  let total = 0
  for (const list of store.values()) total += list.length
  // Crude but sufficient bound: templates are rebuilt from the next full parse.
  if (total >= MAX_TEMPLATES) store.clear()
  const list = store.get(tpl.bytes.byteLength)
  if (list === undefined) store.set(tpl.bytes.byteLength, [tpl])
  else list.unshift(tpl)
}

function fromTemplate (tpl: SodTemplate, bytes: Uint8Array): ParsedSod {
  const at = (r: Region): Uint8Array => bytes.subarray(r.start, r.end)
  const eContent = at(tpl.eContent)
  const { ldsHashOid, dgHashes } = parseLdsCached(eContent)
  const signedAttrs = bytes.slice(tpl.signedAttrs.start, tpl.signedAttrs.end)
  signedAttrs[0] = 0x31
  let signingTime: Date | undefined
  if (tpl.signingTime !== undefined) {
    const element = at(tpl.signingTime)
    signingTime = plainUtcTime(element)
    if (signingTime === undefined) {
      const value = decodeWhole(element, 'signingTime', true)
      if (!(value instanceof asn1js.UTCTime) && !(value instanceof asn1js.GeneralizedTime)) fail('signingTime attribute is not a time')
      signingTime = value.toDate()
    }
    if (Number.isNaN(signingTime.getTime())) fail('signingTime attribute is not a valid date')
  }
  // Built field by field: object rest/spread here cost more than the rest of this function.
  const f = tpl.fixed
  return {
    ldsHashOid,
    dgHashes,
    eContent,
    signerDigestOid: f.signerDigestOid,
    signatureAlgorithm: f.signatureAlgorithm,
    signature: at(tpl.signature),
    signedAttrs,
    contentTypeAttr: f.contentTypeAttr,
    messageDigest: tpl.messageDigest !== undefined ? at(tpl.messageDigest) : undefined,
    signingTime,
    signerId: f.signerId,
    certificates: f.certificates
  }
}

/**
 * The common signingTime encoding, DER UTCTime `YYMMDDHHMMSSZ` (17 0D, twelve
 * digits, Z), read as asn1js's UTCTime.toDate() reads it (years 50–99 are
 * 19xx, the rest 20xx; Date.UTC does the arithmetic, so out-of-range fields
 * roll over there exactly as they do in asn1js). Anything else is undefined,
 * for the asn1js path to decode and judge.
 */
function plainUtcTime (el: Uint8Array): Date | undefined {
  if (el.byteLength !== 15 || el[0] !== 0x17 || el[1] !== 0x0d || el[14] !== 0x5a) return undefined
  const d: number[] = []
  for (let i = 2; i < 14; i += 2) {
    const hi = (el[i] as number) - 0x30
    const lo = (el[i + 1] as number) - 0x30
    if (hi < 0 || hi > 9 || lo < 0 || lo > 9) return undefined
    d.push(hi * 10 + lo)
  }
  const [yy, month, day, hour, minute, second] = d as [number, number, number, number, number, number]
  return new Date(Date.UTC(yy >= 50 ? 1900 + yy : 2000 + yy, month - 1, day, hour, minute, second))
}

/**
 * LDSSecurityObject ::= SEQUENCE { version INTEGER (0|1), hashAlgorithm AlgorithmIdentifier,
 *   dataGroupHashValues SEQUENCE OF SEQUENCE { dataGroupNumber INTEGER (1..16), hashValue OCTET STRING },
 *   ldsVersionInfo LDSVersionInfo OPTIONAL }
 */
interface LdsTemplate extends Template {
  readonly ldsHashOid: string
  readonly hashRegions: ReadonlyArray<readonly [number, Region]>
}

/** The LDSSecurityObject through its own template: per chip only the hash values differ. */
export function parseLdsCached (eContent: Uint8Array): LdsContents {
  const tpl = findTemplate(ldsTemplates, eContent)
  if (tpl !== undefined) {
    const dgHashes = new Map<number, Uint8Array>()
    for (const [n, r] of tpl.hashRegions) dgHashes.set(n, eContent.subarray(r.start, r.end))
    return { ldsHashOid: tpl.ldsHashOid, dgHashes }
  }
  const copy = eContent.slice()
  const parsed = parseLdsSecurityObject(copy)
  addTemplate(ldsTemplates, {
    bytes: asBuffer(copy),
    fixedRanges: complement(parsed.hashRegions.map(([, r]) => r), copy.byteLength),
    ldsHashOid: parsed.ldsHashOid,
    hashRegions: parsed.hashRegions
  })
  return parsed
}


/** The SOD read through a template learnt from an earlier one; undefined when none matches. Throws DerError on malformed leaf contents. */
export function parseSodFast (bytes: Uint8Array): ParsedSod | undefined {
  const tpl = findTemplate(sodTemplates, bytes)
  return tpl === undefined ? undefined : fromTemplate(tpl, bytes)
}

/** Keeps a fully parsed SOD (a private copy of its bytes) as a template for the SODs after it. */
export function learnSodTemplate (copy: Uint8Array, sod: ParsedSod, layout: SodLayout): void {
  const { signerDigestOid, signatureAlgorithm, contentTypeAttr, signerId, certificates } = sod
  addTemplate(sodTemplates, { ...layout, bytes: asBuffer(copy), fixed: { signerDigestOid, signatureAlgorithm, contentTypeAttr, signerId, certificates } })
}
