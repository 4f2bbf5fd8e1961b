/**
 * Algorithm identifiers the chip library accepts, resolved to node:crypto terms.
 *
 * ICAO 9303 Part 12 allows many algorithms; real Vietnamese and ICAO SODs use
 * SHA-256/384/512 with RSA PKCS#1 v1.5, RSASSA-PSS or ECDSA. Everything else
 * (SHA-1, SHA-224, MD5, DSA, explicit-hash mismatches) resolves to a string
 * that explains why, which the caller reports as UNSUPPORTED_ALGORITHM.
 *
 * Resolved schemes are cached by OID + parameter bytes: every SOD from one
 * issuer carries the same AlgorithmIdentifier, so PSS parameters are parsed
 * once, not once per chip.
 */
import * as nodeCrypto from 'node:crypto'
import * as asn1js from 'asn1js'
import * as pkijs from 'pkijs'
import type { AlgorithmIdentifier } from 'pkijs'

export type HashName = 'sha256' | 'sha384' | 'sha512'

/**
 * One-shot digests: crypto.hash (Node ≥ 20.12) skips the Hash object a
 * createHash().update().digest() chain allocates; older Node gets the chain.
 * The digest comes back as a string, not a Buffer: creating the Buffer costs
 * as much again as hashing a small data group (~0.8 µs, 5 hashes per chip).
 */
const oneShot = typeof (nodeCrypto as { hash?: unknown }).hash === 'function'
const digestText = (name: HashName, data: Uint8Array, encoding: 'binary' | 'base64'): string => oneShot
  ? nodeCrypto.hash(name, data, encoding)
  : nodeCrypto.createHash(name).update(data).digest(encoding)

/** Whether the digest of `data` equals `expected` (false for a wrong length). */
export function digestEquals (name: HashName, data: Uint8Array, expected: Uint8Array): boolean {
  const actual = digestText(name, data, 'binary') // 'binary' is latin1: one char per byte
  if (actual.length !== expected.byteLength) return false
  for (let i = 0; i < actual.length; i++) {
    if (actual.charCodeAt(i) !== expected[i]) return false
  }
  return true
}

/** The digest of `data` in base64, for cache keys. */
export const digestKey = (name: HashName, data: Uint8Array): string => digestText(name, data, 'base64')

/** Digest length in bytes, used to reject stored hashes of the wrong size early. */
export const HASH_LENGTH: Readonly<Record<HashName, number>> = { sha256: 32, sha384: 48, sha512: 64 }

const DIGESTS: ReadonlyMap<string, HashName> = new Map([
  ['2.16.840.1.101.3.4.2.1', 'sha256'],
  ['2.16.840.1.101.3.4.2.2', 'sha384'],
  ['2.16.840.1.101.3.4.2.3', 'sha512']
])

/** Names for digests we recognise but refuse, so the detail says what was seen. */
const REFUSED_DIGESTS: ReadonlyMap<string, string> = new Map([
  ['1.3.14.3.2.26', 'sha1'],
  ['2.16.840.1.101.3.4.2.4', 'sha224'],
  ['1.2.840.113549.2.5', 'md5']
])

export interface SignatureScheme {
  /** Display name, e.g. `sha256WithRSAEncryption`, `rsassa-pss(sha256,mgf1-sha256,salt32)`. */
  readonly name: string
  readonly family: 'rsa' | 'rsa-pss' | 'ecdsa'
  readonly hash: HashName
  readonly saltLength?: number
  /** ECDSA signature encoding: DER Ecdsa-Sig-Value (X9.62 OIDs) or r‖s (BSI TR-03111 plain OIDs). */
  readonly dsaEncoding?: 'der' | 'ieee-p1363'
}

const OID_RSA = '1.2.840.113549.1.1.1'
const OID_RSA_PSS = '1.2.840.113549.1.1.10'
const OID_MGF1 = '1.2.840.113549.1.1.8'
const OID_EC_PUBLIC_KEY = '1.2.840.10045.2.1'

/** Signature OIDs that name their hash. */
const FIXED_SCHEMES: ReadonlyMap<string, SignatureScheme> = new Map<string, SignatureScheme>([
  ['1.2.840.113549.1.1.11', { name: 'sha256WithRSAEncryption', family: 'rsa', hash: 'sha256' }],
  ['1.2.840.113549.1.1.12', { name: 'sha384WithRSAEncryption', family: 'rsa', hash: 'sha384' }],
  ['1.2.840.113549.1.1.13', { name: 'sha512WithRSAEncryption', family: 'rsa', hash: 'sha512' }],
  ['1.2.840.10045.4.3.2', { name: 'ecdsa-with-SHA256', family: 'ecdsa', hash: 'sha256', dsaEncoding: 'der' }],
  ['1.2.840.10045.4.3.3', { name: 'ecdsa-with-SHA384', family: 'ecdsa', hash: 'sha384', dsaEncoding: 'der' }],
  ['1.2.840.10045.4.3.4', { name: 'ecdsa-with-SHA512', family: 'ecdsa', hash: 'sha512', dsaEncoding: 'der' }],
  // BSI TR-03111 ecdsa-plain-*: some European DS use them; r‖s encoding.
  ['0.4.0.127.0.7.1.1.4.1.3', { name: 'ecdsa-plain-SHA256', family: 'ecdsa', hash: 'sha256', dsaEncoding: 'ieee-p1363' }],
  ['0.4.0.127.0.7.1.1.4.1.4', { name: 'ecdsa-plain-SHA384', family: 'ecdsa', hash: 'sha384', dsaEncoding: 'ieee-p1363' }],
  ['0.4.0.127.0.7.1.1.4.1.5', { name: 'ecdsa-plain-SHA512', family: 'ecdsa', hash: 'sha512', dsaEncoding: 'ieee-p1363' }]
])

const REFUSED_SIGNATURES: ReadonlyMap<string, string> = new Map([
  ['1.2.840.113549.1.1.5', 'sha1WithRSAEncryption'],
  ['1.2.840.113549.1.1.14', 'sha224WithRSAEncryption'],
  ['1.2.840.113549.1.1.4', 'md5WithRSAEncryption'],
  ['1.2.840.10045.4.1', 'ecdsa-with-SHA1'],
  ['1.2.840.10045.4.3.1', 'ecdsa-with-SHA224'],
  ['1.2.840.10040.4.3', 'dsa-with-sha1']
])

/** The node:crypto hash for a digest OID, or a string saying why it is refused. */
export function resolveDigest (oid: string): HashName | { unsupported: string } {
  const hash = DIGESTS.get(oid)
  if (hash !== undefined) return hash
  return { unsupported: `digest ${REFUSED_DIGESTS.get(oid) ?? oid} is not supported (SHA-256/384/512 only)` }
}

/**
 * Digest and PKCS#1/ECDSA AlgorithmIdentifiers carry no parameters or NULL
 * (RFC 5754, RFC 4055, RFC 5758). Anything else is rejected: these fields are
 * outside every signature in a SOD, so tolerating junk there would make one
 * chip have many byte forms.
 */
export function hasNoParams (alg: AlgorithmIdentifier): boolean {
  const p: unknown = alg.algorithmParams
  return p === undefined || p instanceof asn1js.Null
}

const schemeCache = new Map<string, SignatureScheme | { unsupported: string }>()
const SCHEME_CACHE_MAX = 256

/**
 * Resolves a signature AlgorithmIdentifier. `digestHash` is the SignerInfo's
 * digestAlgorithm: the bare `rsaEncryption` and `id-ecPublicKey` OIDs (common
 * in SODs) do not name a hash, so the signer's digest supplies it. Pass
 * undefined for certificate signatures, which must name their hash.
 */
export function resolveSignature (alg: AlgorithmIdentifier, digestHash: HashName | undefined): SignatureScheme | { unsupported: string } {
  const oid = alg.algorithmId
  const fixed = FIXED_SCHEMES.get(oid)
  if (fixed !== undefined) return hasNoParams(alg) ? fixed : { unsupported: `${fixed.name} with parameters` }
  if (oid === OID_RSA || oid === OID_EC_PUBLIC_KEY) {
    if (!hasNoParams(alg)) return { unsupported: `signature algorithm ${oid} with parameters` }
    if (digestHash === undefined) return { unsupported: `signature algorithm ${oid} names no hash` }
    return oid === OID_RSA
      ? { name: `rsaEncryption(${digestHash})`, family: 'rsa', hash: digestHash }
      : { name: `ecdsa(${digestHash})`, family: 'ecdsa', hash: digestHash, dsaEncoding: 'der' }
  }
  if (oid === OID_RSA_PSS) {
    const params = alg.algorithmParams as { valueBeforeDecodeView?: Uint8Array } | undefined
    const key = `${oid}:${params?.valueBeforeDecodeView !== undefined ? Buffer.from(params.valueBeforeDecodeView).toString('hex') : ''}`
    let scheme = schemeCache.get(key)
    if (scheme === undefined) {
      scheme = resolvePss(alg)
      if (schemeCache.size >= SCHEME_CACHE_MAX) schemeCache.clear()
      schemeCache.set(key, scheme)
    }
    return scheme
  }
  return { unsupported: `signature algorithm ${REFUSED_SIGNATURES.get(oid) ?? oid} is not supported` }
}

/**
 * RSASSA-PSS parameters (RFC 4055). node:crypto uses the signature hash for
 * MGF1 too, so a different MGF1 hash cannot be verified and is refused rather
 * than silently verified with the wrong one.
 */
function resolvePss (alg: AlgorithmIdentifier): SignatureScheme | { unsupported: string } {
  let params: pkijs.RSASSAPSSParams
  try {
    // Absent parameters mean the RFC 4055 defaults (SHA-1), which we refuse below.
    params = alg.algorithmParams === undefined ? new pkijs.RSASSAPSSParams() : new pkijs.RSASSAPSSParams({ schema: alg.algorithmParams })
  } catch {
    return { unsupported: 'RSASSA-PSS parameters do not parse' }
  }
  const hash = DIGESTS.get(params.hashAlgorithm.algorithmId)
  if (hash === undefined) return { unsupported: `RSASSA-PSS hash ${REFUSED_DIGESTS.get(params.hashAlgorithm.algorithmId) ?? params.hashAlgorithm.algorithmId} is not supported` }
  if (params.maskGenAlgorithm.algorithmId !== OID_MGF1) return { unsupported: `RSASSA-PSS mask generation ${params.maskGenAlgorithm.algorithmId} is not MGF1` }
  let mgfAlg: pkijs.AlgorithmIdentifier
  try {
    mgfAlg = new pkijs.AlgorithmIdentifier({ schema: params.maskGenAlgorithm.algorithmParams })
  } catch {
    return { unsupported: 'RSASSA-PSS MGF1 parameters do not parse' }
  }
  // Inner hash AlgorithmIdentifiers follow the same no-parameters-or-NULL rule as digests.
  const mgfHash = mgfAlg.algorithmId
  if (!hasNoParams(params.hashAlgorithm) || !hasNoParams(mgfAlg)) return { unsupported: 'RSASSA-PSS hash parameters must be absent or NULL' }
  if (DIGESTS.get(mgfHash) !== hash) return { unsupported: `RSASSA-PSS MGF1 hash ${mgfHash} differs from the signature hash ${hash}` }
  if (params.trailerField !== 1) return { unsupported: `RSASSA-PSS trailer field ${params.trailerField} is not 1` }
  if (!Number.isSafeInteger(params.saltLength) || params.saltLength < 0 || params.saltLength > 1024 || saltLengthBytes(alg.algorithmParams) > 2) {
    return { unsupported: 'RSASSA-PSS salt length out of range' }
  }
  return { name: `rsassa-pss(${hash},mgf1-${hash},salt${params.saltLength})`, family: 'rsa-pss', hash, saltLength: params.saltLength }
}

/**
 * Content bytes of the explicit saltLength INTEGER ([2]), 0 when absent. pkijs reads the salt
 * through asn1js's valueDec, which is 0 for every INTEGER of 4 or more bytes, so 01 00 00 00
 * would pass for salt 0; every salt accepted above (at most 1024) fits in 2 bytes.
 */
function saltLengthBytes (params: unknown): number {
  if (!(params instanceof asn1js.Sequence)) return 0
  const tagged = params.valueBlock.value.find(b => b.idBlock.tagClass === 3 && b.idBlock.tagNumber === 2)
  const salt = tagged instanceof asn1js.Constructed ? tagged.valueBlock.value[0] : undefined
  return salt instanceof asn1js.Integer ? salt.valueBlock.valueHexView.byteLength : 0
}
