/**
 * The CSCA trust store: trusted Country Signing CA certificates, the CSCAs'
 * revocation lists, and a bounded cache of Document Signer verdicts.
 *
 * Design:
 * - Loading is synchronous and happens at startup or on reload (a handful of
 *   files, a few milliseconds); verification never touches the filesystem.
 *   A trust store is immutable once loaded: reload means building a new one,
 *   which also drops the DS cache, so a removed CSCA can never linger there.
 * - CSCA public keys become KeyObjects once, indexed by subject DER.
 * - Document Signer certificates repeat across millions of chips (one DS key
 *   signs for about three months). The chain check (parse + CSCA signature)
 *   runs once per distinct certificate and is cached by SHA-256 of its DER;
 *   the time-dependent checks (validity at signing time, revocation) are
 *   cheap comparisons done per chip from the cached entry.
 * - A CRL that does not verify against a loaded CSCA is a configuration
 *   error and makes loading fail, rather than being silently ignored.
 * - Self-signed certificates are the trust anchors. Any other certificate in
 *   the directory is taken as a CSCA link certificate (ICAO 9303 Part 12: the
 *   new CSCA key and name, signed with the old CSCA key, so that a relying
 *   party holding the old CSCA can trust the new one): it is trusted only
 *   when a CSCA already trusted signed it and it is a CA certificate. One
 *   that is not is a configuration error, like an unverifiable CRL.
 */
import { createPublicKey, type KeyObject } from 'node:crypto'
import { readFileSync, readdirSync, statSync } from 'node:fs'
import { extname, join } from 'node:path'
import * as asn1js from 'asn1js'
import * as pkijs from 'pkijs'
import { digestKey, resolveSignature } from './algorithms.js'
import { REASONS, type ReasonCode } from './reasons.js'
import { isSupportedKey, verifySignature } from './signature.js'
import { decodeWhole, errorText } from './der.js'

const OID_KEY_USAGE = '2.5.29.15'
const OID_BASIC_CONSTRAINTS = '2.5.29.19'
const OID_SUBJECT_KEY_ID = '2.5.29.14'
const OID_AUTHORITY_KEY_ID = '2.5.29.35'
const CERT_EXTENSIONS = new Set(['.pem', '.crt', '.cer', '.der'])
const DEFAULT_DS_CACHE_SIZE = 4096

/** Loading problems, all of them at once, so an operator fixes the directory in one pass. */
export class TrustStoreError extends Error {
  readonly code = 'IDV_ERR_TRUST_STORE'
  constructor (readonly problems: readonly string[]) {
    super(`trust store: ${problems.join('; ')}`)
    this.name = 'TrustStoreError'
  }
}

export interface CscaEntry {
  /** File it came from, plus the subject's CN (and for a link certificate, the CSCA that signed it), for details and logs. */
  readonly label: string
  readonly subjectHex: string
  readonly skiHex?: string
  readonly key: KeyObject
  readonly notBefore: number
  readonly notAfter: number
}

/**
 * What is known about one Document Signer certificate, independent of time.
 * `failure` is set when it does not chain to a trusted CSCA; the key is still
 * given when the certificate parsed, so the SOD signature can be reported on
 * separately from trust. Validity at signing time and revocation are checked
 * per chip by the caller.
 */
export interface DsVerdict {
  readonly failure?: { readonly reason: ReasonCode, readonly detail: string }
  /** Issuer name DER (hex), serial (hex of its DER content bytes, see serialToHex) and SKI (hex): present when the certificate parsed. */
  readonly issuerHex?: string
  readonly serialHex?: string
  readonly skiHex?: string
  readonly key?: KeyObject
  readonly notBefore: number
  readonly notAfter: number
  /** False when a keyUsage extension is present without digitalSignature. */
  readonly keyUsageOk: boolean
  /** The CSCAs whose signature on this DS verified (usually one). */
  readonly issuers: readonly CscaEntry[]
}

export interface TrustStoreOptions {
  /** CRL file(s), DER or PEM, issued by loaded CSCAs. */
  readonly crlFiles?: string | readonly string[]
  /** Distinct DS certificates whose verdict is remembered (default 4096). */
  readonly dsCacheSize?: number
}

export interface CrlInfo {
  readonly file: string
  readonly issuer: string
  readonly thisUpdate: string
  readonly nextUpdate?: string
  readonly revoked: number
}

export class TrustStore {
  readonly cscas: readonly CscaEntry[]
  readonly crls: readonly CrlInfo[]
  readonly loadedAt: Date
  readonly #bySubject = new Map<string, CscaEntry[]>()
  readonly #bySki = new Map<string, CscaEntry[]>()
  /** Issuer subject hex → revoked serial numbers (serialToHex). */
  readonly #revoked: ReadonlyMap<string, ReadonlySet<string>>
  readonly #dsCache = new Map<string, DsVerdict>()
  readonly #dsCacheSize: number
  #dsCacheHits = 0
  #dsCacheMisses = 0

  constructor (cscas: readonly CscaEntry[], revoked: ReadonlyMap<string, ReadonlySet<string>>, crls: readonly CrlInfo[], dsCacheSize = DEFAULT_DS_CACHE_SIZE) {
    this.cscas = Object.freeze([...cscas])
    this.crls = Object.freeze([...crls])
    this.#revoked = revoked
    this.#dsCacheSize = Math.max(1, dsCacheSize)
    this.loadedAt = new Date()
    for (const c of cscas) {
      push(this.#bySubject, c.subjectHex, c)
      if (c.skiHex !== undefined) push(this.#bySki, c.skiHex, c)
    }
  }

  get cacheStats (): { size: number, hits: number, misses: number } {
    return { size: this.#dsCache.size, hits: this.#dsCacheHits, misses: this.#dsCacheMisses }
  }

  isRevoked (issuerHex: string, serialHex: string): boolean {
    return this.#revoked.get(issuerHex)?.has(serialHex) === true
  }

  /**
   * The chain verdict for a DS certificate (DER), from cache when seen before.
   * Never throws: a certificate that does not parse is an untrusted verdict.
   */
  checkDocumentSigner (der: Uint8Array): DsVerdict {
    const key = digestKey('sha256', der)
    const hit = this.#dsCache.get(key)
    if (hit !== undefined) {
      this.#dsCacheHits++
      // Refresh recency: Map iteration order makes the first key the least recently used.
      this.#dsCache.delete(key)
      this.#dsCache.set(key, hit)
      return hit
    }
    this.#dsCacheMisses++
    const verdict = this.#verifyDs(der)
    if (this.#dsCache.size >= this.#dsCacheSize) {
      const oldest = this.#dsCache.keys().next()
      if (oldest.done !== true) this.#dsCache.delete(oldest.value)
    }
    this.#dsCache.set(key, verdict)
    return verdict
  }

  #verifyDs (der: Uint8Array): DsVerdict {
    let cert: pkijs.Certificate
    try {
      cert = new pkijs.Certificate({ schema: decodeWhole(der, 'DS certificate', true) })
    } catch (err) {
      return { failure: { reason: REASONS.DS_NOT_TRUSTED, detail: `DS certificate does not parse: ${errorText(err)}` }, notBefore: NaN, notAfter: NaN, keyUsageOk: false, issuers: [] }
    }
    const skiHex = extensionKeyId(cert, OID_SUBJECT_KEY_ID)
    let key: KeyObject | undefined
    try {
      key = publicKeyOf(cert)
    } catch {
      // Explicit EC domain parameters and exotic key types land here; the failure is reported below.
    }
    const base = {
      issuerHex: hex(new Uint8Array(cert.issuer.valueBeforeDecode)),
      serialHex: serialToHex(cert.serialNumber.valueBlock.valueHexView),
      ...(skiHex !== undefined ? { skiHex } : {}),
      ...(key !== undefined && isSupportedKey(key) ? { key } : {}),
      notBefore: cert.notBefore.value.getTime(),
      notAfter: cert.notAfter.value.getTime(),
      keyUsageOk: keyUsageAllowsSignature(cert),
      issuers: [] as CscaEntry[]
    }
    const untrusted = (reason: ReasonCode, detail: string): DsVerdict => ({ ...base, failure: { reason, detail } })

    if (key === undefined) return untrusted(REASONS.UNSUPPORTED_ALGORITHM, 'DS public key cannot be loaded (explicit EC parameters or unknown key type)')
    if (!isSupportedKey(key)) return untrusted(REASONS.UNSUPPORTED_ALGORITHM, `DS key type ${key.asymmetricKeyType ?? 'unknown'} is not supported`)
    // RFC 5280 §4.1.1.2: the outer signatureAlgorithm (unsigned) must equal the one inside the TBS, byte for byte.
    if (!Buffer.from(cert.signature.toSchema().toBER(false)).equals(Buffer.from(cert.signatureAlgorithm.toSchema().toBER(false)))) {
      return untrusted(REASONS.DS_NOT_TRUSTED, 'DS certificate signature algorithm differs from its TBS')
    }
    if (cert.signatureValue.valueBlock.unusedBits !== 0) return untrusted(REASONS.DS_NOT_TRUSTED, 'DS certificate signature has unused bits')
    const scheme = resolveSignature(cert.signatureAlgorithm, undefined)
    if ('unsupported' in scheme) return untrusted(REASONS.UNSUPPORTED_ALGORITHM, `DS certificate: ${scheme.unsupported}`)

    // Match by issuer name first; fall back to the key identifier because some
    // issuers re-encode their name (PrintableString vs UTF8String) in DS certificates.
    const akiHex = extensionKeyId(cert, OID_AUTHORITY_KEY_ID)
    let candidates = this.#bySubject.get(base.issuerHex) ?? []
    if (candidates.length === 0 && akiHex !== undefined) candidates = this.#bySki.get(akiHex) ?? []
    if (candidates.length === 0) return untrusted(REASONS.DS_NOT_TRUSTED, 'no trusted CSCA has the DS issuer name')

    const signature = cert.signatureValue.valueBlock.valueHexView
    const issuers = candidates.filter(c => verifySignature(scheme, c.key, cert.tbsView, signature) === 'valid')
    if (issuers.length === 0) return untrusted(REASONS.DS_NOT_TRUSTED, 'DS certificate signature does not verify with any trusted CSCA')
    return { ...base, issuers }
  }
}

/**
 * Loads every certificate under `dir` (files ending .pem/.crt/.cer/.der; PEM
 * files may hold several). Throws TrustStoreError listing every problem; an
 * empty directory is a problem too, since it would reject every chip.
 */
export function loadTrustStore (dir: string, options: TrustStoreOptions = {}): TrustStore {
  const problems: string[] = []
  const loaded: LoadedCertificate[] = []
  let names: string[] = []
  try {
    names = readdirSync(dir).sort()
  } catch (err) {
    throw new TrustStoreError([`cannot read directory ${dir}: ${(err as Error).message}`])
  }
  for (const name of names) {
    if (!CERT_EXTENSIONS.has(extname(name).toLowerCase())) continue
    const path = join(dir, name)
    try {
      if (!statSync(path).isFile()) continue
      const ders = derObjects(readFileSync(path), 'CERTIFICATE')
      if (ders.length === 0) problems.push(`${name}: no CERTIFICATE in file`)
      ders.forEach((der, i) => {
        try {
          loaded.push(readCertificate(der, ders.length > 1 ? `${name}#${i + 1}` : name))
        } catch (err) {
          problems.push(`${name}${ders.length > 1 ? `#${i + 1}` : ''}: ${(err as Error).message}`)
        }
      })
    } catch (err) {
      problems.push(`${name}: ${(err as Error).message}`)
    }
  }
  const cscas = trustLinks(loaded, problems)
  if (cscas.length === 0 && problems.length === 0) problems.push(`no CSCA certificates in ${dir}`)

  const revoked = new Map<string, Set<string>>()
  const crls: CrlInfo[] = []
  const crlFiles = options.crlFiles === undefined ? [] : typeof options.crlFiles === 'string' ? [options.crlFiles] : options.crlFiles
  for (const file of crlFiles) {
    try {
      for (const der of derObjects(readFileSync(file), 'X509 CRL')) crls.push(loadCrl(der, file, cscas, revoked))
    } catch (err) {
      problems.push(`CRL ${file}: ${(err as Error).message}`)
    }
  }
  if (problems.length > 0) throw new TrustStoreError(problems)
  return new TrustStore(cscas, revoked, crls, options.dsCacheSize)
}

/** A certificate from the trust directory, before it is known to be an anchor or a trusted link. */
interface LoadedCertificate {
  readonly entry: CscaEntry
  readonly cert: pkijs.Certificate
  readonly issuerHex: string
}

function readCertificate (der: Uint8Array, file: string): LoadedCertificate {
  const cert = new pkijs.Certificate({ schema: decodeWhole(der, 'certificate') })
  const key = publicKeyOf(cert)
  if (!isSupportedKey(key)) throw new Error(`key type ${key.asymmetricKeyType ?? 'unknown'} is not supported`)
  const skiHex = extensionKeyId(cert, OID_SUBJECT_KEY_ID)
  const entry = {
    label: `${file} (${commonName(cert.subject)})`,
    subjectHex: hex(new Uint8Array(cert.subject.valueBeforeDecode)),
    ...(skiHex !== undefined ? { skiHex } : {}),
    key,
    notBefore: cert.notBefore.value.getTime(),
    notAfter: cert.notAfter.value.getTime()
  }
  return { entry, cert, issuerHex: hex(new Uint8Array(cert.issuer.valueBeforeDecode)) }
}

/**
 * The trusted CSCAs: every self-signed certificate, then every link certificate that a trusted
 * CSCA signed (repeatedly, so old → link → link chains resolve in any file order). A link's entry
 * carries the link's own validity: RFC 5280 §6.1 checks the validity of every certificate on a
 * path except the anchor's, so the old CSCA may have expired while its link still vouches for
 * the new key. Links that no trusted CSCA signed, or that are not CA certificates, are problems.
 */
function trustLinks (loaded: readonly LoadedCertificate[], problems: string[]): CscaEntry[] {
  const trusted: CscaEntry[] = []
  let pending: LoadedCertificate[] = []
  for (const c of loaded) {
    if (isSelfSigned(c)) trusted.push(c.entry)
    else pending.push(c)
  }
  for (let progress = true; progress && pending.length > 0;) {
    progress = false
    const left: LoadedCertificate[] = []
    for (const c of pending) {
      const signer = isCaCertificate(c.cert) ? trusted.find(t => t.subjectHex === c.issuerHex && signedBy(c.cert, t.key) === 'valid') : undefined
      if (signer === undefined) {
        left.push(c)
      } else {
        trusted.push({ ...c.entry, label: `${c.entry.label}, link signed by ${signer.label}` })
        progress = true
      }
    }
    pending = left
  }
  for (const c of pending) {
    problems.push(isCaCertificate(c.cert)
      ? `${c.entry.label}: not self-signed, and no trusted CSCA signed it (a link certificate needs the CSCA it links from)`
      : `${c.entry.label}: not self-signed and not a CA certificate (a Document Signer certificate is not a trust anchor)`)
  }
  return trusted
}

/**
 * Whether a certificate is its own issuer. A rollover often keeps the CSCA's name, so a link
 * certificate may have issuer = subject: its signature (or an authority key id naming another
 * key) tells it apart. A self-signature made with an algorithm this library refuses (SHA-1 on an
 * old CSCA) cannot be checked and is accepted as self-signed, as every CSCA file was before link
 * certificates were told apart: an anchor's own signature adds nothing to trusting it.
 */
function isSelfSigned (c: LoadedCertificate): boolean {
  if (c.issuerHex !== c.entry.subjectHex) return false
  const akiHex = extensionKeyId(c.cert, OID_AUTHORITY_KEY_ID)
  if (akiHex !== undefined && c.entry.skiHex !== undefined && akiHex !== c.entry.skiHex) return false
  return signedBy(c.cert, c.entry.key) !== 'invalid'
}

/** Checks `cert`'s signature with `key`: 'unsupported' when the signature algorithm is one this library refuses. */
function signedBy (cert: pkijs.Certificate, key: KeyObject): 'valid' | 'invalid' | 'unsupported' {
  const scheme = resolveSignature(cert.signatureAlgorithm, undefined)
  if ('unsupported' in scheme) return 'unsupported'
  return verifySignature(scheme, key, cert.tbsView, cert.signatureValue.valueBlock.valueHexView) === 'valid' ? 'valid' : 'invalid'
}

/** RFC 5280 §6.1.4 (k), (n): a certificate that signs certificates has basicConstraints cA and, if it has keyUsage, keyCertSign. */
function isCaCertificate (cert: pkijs.Certificate): boolean {
  const bc: unknown = cert.extensions?.find(e => e.extnID === OID_BASIC_CONSTRAINTS)?.parsedValue
  if (!(bc instanceof pkijs.BasicConstraints) || bc.cA !== true) return false
  const ku = cert.extensions?.find(e => e.extnID === OID_KEY_USAGE)
  if (ku === undefined) return true
  const bits: unknown = ku.parsedValue
  // keyCertSign is bit 5: 0x04 in the first content byte.
  return bits instanceof asn1js.BitString && ((bits.valueBlock.valueHexView[0] ?? 0) & 0x04) !== 0
}

function loadCrl (der: Uint8Array, file: string, cscas: readonly CscaEntry[], revoked: Map<string, Set<string>>): CrlInfo {
  const crl = new pkijs.CertificateRevocationList({ schema: decodeWhole(der, 'CRL') })
  const issuerHex = hex(new Uint8Array(crl.issuer.valueBeforeDecode))
  const scheme = resolveSignature(crl.signatureAlgorithm, undefined)
  if ('unsupported' in scheme) throw new Error(scheme.unsupported)
  const signature = crl.signatureValue.valueBlock.valueHexView
  const signers = cscas.filter(c => c.subjectHex === issuerHex && verifySignature(scheme, c.key, crl.tbsView, signature) === 'valid')
  if (signers.length === 0) throw new Error(`not signed by a loaded CSCA (issuer ${commonName(crl.issuer)})`)
  let set = revoked.get(issuerHex)
  if (set === undefined) revoked.set(issuerHex, set = new Set())
  for (const entry of crl.revokedCertificates ?? []) set.add(serialToHex(entry.userCertificate.valueBlock.valueHexView))
  return {
    file,
    issuer: commonName(crl.issuer),
    thisUpdate: crl.thisUpdate.value.toISOString(),
    ...(crl.nextUpdate !== undefined ? { nextUpdate: crl.nextUpdate.value.toISOString() } : {}),
    revoked: crl.revokedCertificates?.length ?? 0
  }
}

/** DER objects in a file: every PEM block with `label` when the file is PEM, else the file itself. */
function derObjects (content: Buffer, label: string): Uint8Array[] {
  const text = content.subarray(0, 64).toString('latin1')
  if (!text.includes('-----BEGIN')) return [new Uint8Array(content)]
  const out: Uint8Array[] = []
  const re = new RegExp(`-----BEGIN ${label}-----([A-Za-z0-9+/=\\s]+)-----END ${label}-----`, 'g')
  for (const m of content.toString('latin1').matchAll(re)) out.push(new Uint8Array(Buffer.from(m[1] ?? '', 'base64')))
  return out
}

function publicKeyOf (cert: pkijs.Certificate): KeyObject {
  const spki = Buffer.from(cert.subjectPublicKeyInfo.toSchema().toBER(false))
  return createPublicKey({ key: spki, format: 'der', type: 'spki' })
}

function keyUsageAllowsSignature (cert: pkijs.Certificate): boolean {
  const ext = cert.extensions?.find(e => e.extnID === OID_KEY_USAGE)
  if (ext === undefined) return true
  const bits: unknown = ext.parsedValue
  // digitalSignature is bit 0: the most significant bit of the first content byte.
  return bits instanceof asn1js.BitString && ((bits.valueBlock.valueHexView[0] ?? 0) & 0x80) !== 0
}

function extensionKeyId (cert: pkijs.Certificate, oid: string): string | undefined {
  const ext = cert.extensions?.find(e => e.extnID === oid)
  const v: unknown = ext?.parsedValue
  if (v instanceof asn1js.OctetString) return hex(v.valueBlock.valueHexView)
  if (v instanceof pkijs.AuthorityKeyIdentifier && v.keyIdentifier !== undefined) return hex(v.keyIdentifier.valueBlock.valueHexView)
  return undefined
}

function commonName (name: pkijs.RelativeDistinguishedNames): string {
  const cn = name.typesAndValues.find(t => t.type === '2.5.4.3')
  const v: unknown = cn?.value
  return v instanceof asn1js.BaseStringBlock ? v.getValue() : '?'
}

function push<K, V> (map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key)
  if (list === undefined) map.set(key, [value])
  else list.push(value)
}

export function hex (bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex')
}

/**
 * A serial number (an identifier, never arithmetic) as the hex of its DER content bytes: the
 * minimal two's-complement encoding (X.690 §8.3.2), so equal strings mean equal numbers, sign
 * included. The 00 before a high first byte is part of the number: 00 9A… is positive and 9A…
 * negative, two different serials (stripping leading zeros, as this once did, confused them).
 * DS certificates and SignerInfos are strict DER, so for them this is their exact bytes;
 * leniently decoded input (CRLs, CSCA files) may carry redundant 00/FF sign bytes, which are
 * dropped so that a BER-encoded CRL entry still names the same certificate.
 */
export function serialToHex (bytes: Uint8Array): string {
  let i = 0
  while (i < bytes.byteLength - 1 && ((bytes[i] === 0x00 && (bytes[i + 1] as number) < 0x80) || (bytes[i] === 0xff && (bytes[i + 1] as number) >= 0x80))) i++
  return hex(bytes.subarray(i))
}
