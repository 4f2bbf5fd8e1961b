/**
 * Passive authentication of a chip ID card (ICAO 9303 Parts 10–12):
 * `verifyChip(input, trust, options)` → ChipResult.
 *
 * Order of work, cheapest rejection first:
 *   sod_parse      CMS SignedData → LDSSecurityObject (sod.ts)
 *   dg_hash        every supplied DG hashed and compared with the SOD
 *   ds_certificate DS certificate → trusted CSCA (cached per DER), validity at
 *                  signing time, key usage, CRL
 *   sod_signature  messageDigest/contentType attributes, then the signature
 *   mrz            DG1 TD1 MRZ, all check digits, PIN consistency (mrz.ts)
 *   dg13           only when DG13 is supplied and its hash verified (dg13.ts)
 * Checks that can run independently all run, so one answer says everything
 * that is wrong; a check that depends on a failed one is left out.
 *
 * Contract: synchronous, never throws, never blocks on I/O. Any exception that
 * escapes the parsers is caught here and reported as INTERNAL_ERROR, because a
 * worker batch must not lose its other answers over one hostile input.
 */
import { HASH_LENGTH, digestEquals, resolveDigest, resolveSignature, type HashName } from './algorithms.js'
import { parseDg13Identity, type Dg13Data } from './dg13.js'
import { errorText } from './der.js'
import { parseDg1, type MrzData } from './mrz.js'
import { CHECKS, REASONS, type CheckName, type ReasonCode } from './reasons.js'
import { verifySignature } from './signature.js'
import { OID_LDS_SECURITY_OBJECT, parseSod, type ParsedSod } from './sod.js'
import { hex, serialToHex, type DsVerdict, type TrustStore } from './trust-store.js'
import type { CheckResult, ChipIdentity, ChipInput, ChipResult, VerifyOptions } from './types.js'

const DEFAULT_MAX_SOD_BYTES = 64 * 1024
const DEFAULT_MAX_DG_BYTES = 1024 * 1024

/** The outer tag of DG n (ICAO 9303 Part 10 Table 34): 0x61 DG1, 0x75 DG2, 0x63 DG3, … 0x70 DG16. */
const DG_TAGS: readonly number[] = [0, 0x61, 0x75, 0x63, 0x76, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x6b, 0x6c, 0x6d, 0x6e, 0x6f, 0x70]

/** The five checks that must all pass for a chip to be valid. */
const CORE_CHECKS: readonly CheckName[] = ['sod_parse', 'dg_hash', 'sod_signature', 'ds_certificate', 'mrz']

export function verifyChip (input: ChipInput, trust: TrustStore, options: VerifyOptions = {}): ChipResult {
  try {
    return verifyUnchecked(input, trust, options)
  } catch (err) {
    return finish([{ check: 'sod_parse', ok: false, reason: REASONS.INTERNAL_ERROR, detail: errorText(err) }], {})
  }
}

/** Verifies a batch (the worker's unit of work); one answer per input, in order. */
export function verifyChips (inputs: readonly ChipInput[], trust: TrustStore, options: VerifyOptions = {}): ChipResult[] {
  const out = new Array<ChipResult>(inputs.length)
  for (let i = 0; i < inputs.length; i++) out[i] = verifyChip(inputs[i] as ChipInput, trust, options)
  return out
}

interface Extras {
  identity?: ChipIdentity
  signatureAlgorithm?: string
  digestAlgorithm?: string
}

function verifyUnchecked (input: ChipInput, trust: TrustStore, options: VerifyOptions): ChipResult {
  const checks: CheckResult[] = []
  const extras: Extras = {}
  const maxDg = options.maxDataGroupBytes ?? DEFAULT_MAX_DG_BYTES
  const dataGroups = input?.dataGroups
  if (!(input?.sod instanceof Uint8Array) || !(dataGroups instanceof Map)) {
    return finish([{ check: 'sod_parse', ok: false, reason: REASONS.MALFORMED_SOD, detail: 'input needs sod: Uint8Array and dataGroups: Map' }], extras)
  }

  const parsed = parseSod(input.sod, options.maxSodBytes ?? DEFAULT_MAX_SOD_BYTES)
  checks.push(parsed.ok ? { check: 'sod_parse', ok: true } : { check: 'sod_parse', ok: false, reason: REASONS.MALFORMED_SOD, detail: parsed.detail })
  const sod = parsed.ok ? parsed.sod : undefined

  // Data groups are checked for shape even when the SOD did not parse: DG1_REQUIRED is worth reporting either way.
  const dgProblem = checkDataGroupShapes(dataGroups, maxDg)
  let verifiedDgs = new Set<number>()
  if (dgProblem !== undefined) {
    checks.push({ check: 'dg_hash', ok: false, ...dgProblem })
  } else if (sod !== undefined) {
    const r = checkDataGroupHashes(sod, dataGroups)
    verifiedDgs = r.verified
    if (r.digestAlgorithm !== undefined) extras.digestAlgorithm = r.digestAlgorithm
    checks.push(r.check)
  }

  if (sod !== undefined) {
    const ds = findDocumentSigner(sod, trust)
    checks.push(checkDocumentSigner(ds, sod, trust, options))
    const sig = checkSignature(sod, ds)
    if (sig.signatureAlgorithm !== undefined) extras.signatureAlgorithm = sig.signatureAlgorithm
    if (sig.check !== undefined) checks.push(sig.check)
  }

  const dg1 = dataGroups.get(1)
  let mrz: MrzData | undefined
  if (dg1 instanceof Uint8Array) {
    const r = parseDg1(dg1)
    if (r.ok) {
      mrz = r.mrz
      checks.push({ check: 'mrz', ok: true })
    } else {
      checks.push({ check: 'mrz', ok: false, reason: r.reason, detail: r.detail })
    }
  }

  let dg13: Dg13Data | undefined
  const dg13Bytes = dataGroups.get(13)
  if (dg13Bytes instanceof Uint8Array && verifiedDgs.has(13) && options.readDg13 !== false) {
    // Only the identity fields are read here (dg13MrzClash, toIdentity): the other strings are not decoded.
    const r = parseDg13Identity(dg13Bytes)
    if (!r.ok) {
      checks.push({ check: 'dg13', ok: false, reason: REASONS.MALFORMED_DG, detail: r.detail })
    } else {
      dg13 = r.data
      const clash = mrz === undefined ? undefined : dg13MrzClash(r.data, mrz)
      checks.push(clash === undefined ? { check: 'dg13', ok: true } : { check: 'dg13', ok: false, reason: REASONS.DG13_MRZ_MISMATCH, detail: clash })
    }
  }

  const result = finish(checks, extras)
  if (result.valid && mrz !== undefined) {
    return { ...result, identity: toIdentity(mrz, dg13) }
  }
  return result
}

/** Orders checks, derives `valid` and the first reason. */
function finish (checks: CheckResult[], extras: Extras): ChipResult {
  // Stable insertion sort by CHECKS position: at most 6 entries, and Array#sort allocates a work copy per call.
  for (let i = 1; i < checks.length; i++) {
    const c = checks[i] as CheckResult
    const rank = CHECKS.indexOf(c.check)
    let j = i - 1
    for (; j >= 0 && CHECKS.indexOf((checks[j] as CheckResult).check) > rank; j--) checks[j + 1] = checks[j] as CheckResult
    checks[j + 1] = c
  }
  const failed = checks.find(c => !c.ok)
  const valid = failed === undefined && CORE_CHECKS.every(name => checks.some(c => c.check === name))
  return {
    valid,
    ...(failed?.reason !== undefined ? { reason: failed.reason } : {}),
    checks,
    ...(extras.signatureAlgorithm !== undefined ? { signatureAlgorithm: extras.signatureAlgorithm } : {}),
    ...(extras.digestAlgorithm !== undefined ? { digestAlgorithm: extras.digestAlgorithm } : {})
  }
}

function checkDataGroupShapes (dataGroups: ReadonlyMap<number, Uint8Array>, maxBytes: number): { reason: ReasonCode, detail: string } | undefined {
  for (const [n, bytes] of dataGroups) {
    if (!Number.isInteger(n) || n < 1 || n > 16) return { reason: REASONS.MALFORMED_DG, detail: `data group number ${String(n)} is outside 1..16` }
    if (!(bytes instanceof Uint8Array) || bytes.byteLength < 2) return { reason: REASONS.MALFORMED_DG, detail: `DG${n} is empty` }
    if (bytes.byteLength > maxBytes) return { reason: REASONS.MALFORMED_DG, detail: `DG${n} is ${bytes.byteLength} bytes, more than ${maxBytes}` }
    // The outer tag is cheap to check and catches DGs swapped between numbers before hashing.
    if (bytes[0] !== DG_TAGS[n]) return { reason: REASONS.MALFORMED_DG, detail: `DG${n} starts with tag 0x${(bytes[0] ?? 0).toString(16)}, expected 0x${(DG_TAGS[n] ?? 0).toString(16)}` }
  }
  if (!dataGroups.has(1)) return { reason: REASONS.DG1_REQUIRED, detail: 'DG1 (MRZ) is required' }
  return undefined
}

function checkDataGroupHashes (sod: ParsedSod, dataGroups: ReadonlyMap<number, Uint8Array>): { check: CheckResult, verified: Set<number>, digestAlgorithm?: string } {
  const verified = new Set<number>()
  const hash = resolveDigest(sod.ldsHashOid)
  if (typeof hash !== 'string') {
    return { check: { check: 'dg_hash', ok: false, reason: REASONS.UNSUPPORTED_ALGORITHM, detail: `LDSSecurityObject ${hash.unsupported}` }, verified }
  }
  const missing: number[] = []
  const mismatched: number[] = []
  const numbers: number[] = []
  // In DG order without sorting: checkDataGroupShapes has already limited the keys to the integers 1..16.
  for (let n = 1; n <= 16; n++) {
    if (!dataGroups.has(n)) continue
    numbers.push(n)
    const stored = sod.dgHashes.get(n)
    if (stored === undefined) {
      missing.push(n)
      continue
    }
    if (stored.byteLength === HASH_LENGTH[hash] && digestEquals(hash, dataGroups.get(n) as Uint8Array, stored)) verified.add(n)
    else mismatched.push(n)
  }
  const list = (ns: number[]): string => ns.map(n => `DG${n}`).join(', ')
  let check: CheckResult
  if (missing.length > 0) {
    check = { check: 'dg_hash', ok: false, reason: REASONS.DG_MISSING_FROM_SOD, detail: `not in SOD: ${list(missing)}${mismatched.length > 0 ? `; hash mismatch: ${list(mismatched)}` : ''}` }
  } else if (mismatched.length > 0) {
    check = { check: 'dg_hash', ok: false, reason: REASONS.DG_HASH_MISMATCH, detail: `hash mismatch: ${list(mismatched)}` }
  } else {
    check = { check: 'dg_hash', ok: true, detail: list(numbers) }
  }
  return { check, verified, digestAlgorithm: hash }
}

/** The DS certificate the SignerInfo names, with its cached chain verdict. */
function findDocumentSigner (sod: ParsedSod, trust: TrustStore): DsVerdict | { missing: string } {
  if (sod.certificates.length === 0) return { missing: 'SOD carries no Document Signer certificate' }
  const sid = sod.signerId
  const want = sid.kind === 'issuer-serial' ? { issuer: hex(sid.issuer), serial: serialToHex(sid.serial) } : { ski: hex(sid.ski) }
  let firstParsed: DsVerdict | undefined
  for (const der of sod.certificates) {
    const v = trust.checkDocumentSigner(der)
    if (v.issuerHex === undefined) continue
    firstParsed ??= v
    const matches = 'ski' in want ? v.skiHex === want.ski : v.issuerHex === want.issuer && v.serialHex === want.serial
    if (matches) return v
  }
  if (firstParsed === undefined) {
    // Every certificate failed to parse: report the (cached) verdict of the first.
    return trust.checkDocumentSigner(sod.certificates[0] as Uint8Array)
  }
  return { missing: 'no certificate in the SOD matches the SignerInfo identifier' }
}

function checkDocumentSigner (ds: DsVerdict | { missing: string }, sod: ParsedSod, trust: TrustStore, options: VerifyOptions): CheckResult {
  const fail = (reason: ReasonCode, detail: string): CheckResult => ({ check: 'ds_certificate', ok: false, reason, detail })
  if ('missing' in ds) return fail(REASONS.DS_NOT_TRUSTED, ds.missing)
  if (ds.failure !== undefined) return fail(ds.failure.reason, ds.failure.detail)
  // A revoked DS is rejected whatever the dates: revocation usually means key compromise.
  if (ds.issuerHex !== undefined && ds.serialHex !== undefined && trust.isRevoked(ds.issuerHex, ds.serialHex)) return fail(REASONS.DS_REVOKED, 'DS serial is on the CSCA revocation list')
  if (!ds.keyUsageOk) return fail(REASONS.DS_KEY_USAGE, 'DS key usage lacks digitalSignature')
  const at = (sod.signingTime ?? options.now ?? new Date()).getTime()
  const when = sod.signingTime !== undefined ? 'at signing time' : 'now (no signingTime)'
  if (at < ds.notBefore) return fail(REASONS.DS_NOT_YET_VALID, `DS certificate not valid ${when}`)
  if (at > ds.notAfter) return fail(REASONS.DS_EXPIRED, `DS certificate expired ${when}`)
  if (!ds.issuers.some(c => c.notBefore <= at && at <= c.notAfter)) return fail(REASONS.DS_NOT_TRUSTED, `issuing CSCA not valid ${when}`)
  return { check: 'ds_certificate', ok: true }
}

function checkSignature (sod: ParsedSod, ds: DsVerdict | { missing: string }): { check?: CheckResult, signatureAlgorithm?: string } {
  const fail = (reason: ReasonCode, detail: string, signatureAlgorithm?: string): { check: CheckResult, signatureAlgorithm?: string } =>
    ({ check: { check: 'sod_signature', ok: false, reason, detail }, ...(signatureAlgorithm !== undefined ? { signatureAlgorithm } : {}) })

  const digest = resolveDigest(sod.signerDigestOid)
  if (typeof digest !== 'string') return fail(REASONS.UNSUPPORTED_ALGORITHM, `SignerInfo ${digest.unsupported}`)
  const scheme = resolveSignature(sod.signatureAlgorithm, digest)
  if ('unsupported' in scheme) return fail(REASONS.UNSUPPORTED_ALGORITHM, scheme.unsupported)
  const name = scheme.name

  if (sod.contentTypeAttr === undefined || sod.messageDigest === undefined) return fail(REASONS.MALFORMED_SOD, 'signed attributes lack contentType or messageDigest', name)
  if (sod.contentTypeAttr !== OID_LDS_SECURITY_OBJECT) return fail(REASONS.MESSAGE_DIGEST_MISMATCH, `contentType attribute ${sod.contentTypeAttr} is not the LDSSecurityObject type`, name)
  if (!digestEquals(digest as HashName, sod.eContent, sod.messageDigest)) return fail(REASONS.MESSAGE_DIGEST_MISMATCH, 'messageDigest attribute is not the hash of the LDSSecurityObject', name)

  // Without the signer's key there is nothing to verify with; ds_certificate already says why.
  if ('missing' in ds || ds.key === undefined) return { signatureAlgorithm: name }
  switch (verifySignature(scheme, ds.key, sod.signedAttrs, sod.signature)) {
    case 'valid': return { check: { check: 'sod_signature', ok: true }, signatureAlgorithm: name }
    case 'invalid': return fail(REASONS.SOD_SIGNATURE_INVALID, 'signature over the signed attributes does not verify', name)
    case 'key-mismatch': return fail(REASONS.SOD_SIGNATURE_INVALID, `DS key type ${ds.key.asymmetricKeyType ?? '?'} cannot make a ${name} signature`, name)
    case 'unsupported-key': return fail(REASONS.UNSUPPORTED_ALGORITHM, `DS key type ${ds.key.asymmetricKeyType ?? '?'} is not supported`, name)
  }
}

/** Why a verified DG13 contradicts the MRZ, or undefined. Names are not compared: the MRZ may truncate them. */
function dg13MrzClash (d: Dg13Data, m: MrzData): string | undefined {
  const clashes: string[] = []
  if (d.pin !== m.pin) clashes.push('PIN')
  if (d.dateOfBirth !== undefined && d.dateOfBirth !== m.dateOfBirth) clashes.push('birth date')
  if (d.gender !== undefined && d.gender !== m.gender) clashes.push('gender')
  return clashes.length === 0 ? undefined : `DG13 and MRZ differ on ${clashes.join(', ')}`
}

function toIdentity (m: MrzData, d: Dg13Data | undefined): ChipIdentity {
  return {
    pin: d?.pin ?? m.pin,
    documentNumber: m.documentNumber,
    mrzName: m.mrzName,
    ...(d?.fullName !== undefined ? { fullName: d.fullName } : {}),
    dateOfBirth: d?.dateOfBirth ?? m.dateOfBirth,
    gender: d?.gender ?? m.gender,
    ...(m.expiryDate !== undefined ? { expiryDate: m.expiryDate } : {}),
    nationality: m.nationality,
    source: d !== undefined ? 'dg13' : 'mrz'
  }
}
