/**
 * The relying-party file: its shape (JSON or YAML), and validation that lists
 * every problem at once with its path (`parties[2].keys[0].publicKeyPem: ...`)
 * so an operator fixes the file in one pass.
 *
 * Keys: Ed25519 and ECDSA P-256 public keys are inline SPKI PEM (the file holds
 * no secret); an HMAC shared secret lives in its own file (mode 0600, hex, at
 * least 32 bytes), named relative to the registry file, so the registry can be
 * shown and diffed without leaking secrets.
 */
import { createPublicKey, createSecretKey, type KeyObject } from 'node:crypto'
import { readFileSync, statSync } from 'node:fs'
import { isAbsolute, resolve } from 'node:path'
import { ATTRIBUTES } from '../domain/record.js'
import { ADDRESS_MATCHING, type AddressMatching } from '../addresses/index.js'
import { SIGNATURE_ALGORITHMS, type SignatureAlgorithm } from '../signatures/message-signature.js'

/** Endpoints a party may be allowed. */
export const PARTY_ENDPOINTS = ['/v1/verify', '/v1/verify/batch', '/v1/chip/verify', '/v1/card/qr/verify', '/v1/verify/stream', '/v1/jobs'] as const
export const RESULT_DETAILS = ['per-attribute', 'overall-only'] as const
/** Roles beyond asking about citizens: reading a citizen's access history (src/audit). */
export const PARTY_ROLES = ['citizen-portal', 'auditor'] as const
export type ResultDetail = typeof RESULT_DETAILS[number]
export type PartyStatus = 'active' | 'disabled'

/** A key as written in the file. */
export interface PartyKeySpec {
  keyId: string
  algorithm: SignatureAlgorithm
  publicKeyPem?: string
  secretFile?: string
  /** RFC 3339 date-time; absent: valid since ever / until revoked. */
  notBefore?: string
  notAfter?: string
}

/** A party as written in the file. */
export interface PartySpec {
  id: string
  name: string
  status: PartyStatus
  keys: PartyKeySpec[]
  allowedEndpoints: string[]
  allowedAttributes: string[]
  resultDetail: ResultDetail
  maxBatchItems: number
  rate: { perSecond: number, burst: number }
  dailyQuota?: number
  roles?: string[]
  /** Absent: reorganisation-aware (addresses written before 2025 match as `match_reorganised`). */
  addressMatching?: AddressMatching
}

export interface PartyFileSpec {
  parties: PartySpec[]
}

/** A key ready to verify with. */
export interface PartyKey {
  readonly keyId: string
  readonly algorithm: SignatureAlgorithm
  readonly key: KeyObject
  /** ms since the epoch, or undefined for open-ended. */
  readonly notBefore: number | undefined
  readonly notAfter: number | undefined
}

/** A party as the service uses it. */
export interface Party {
  readonly id: string
  readonly name: string
  readonly status: PartyStatus
  readonly keys: readonly PartyKey[]
  readonly allowedEndpoints: ReadonlySet<string>
  readonly allowedAttributes: ReadonlySet<string>
  readonly resultDetail: ResultDetail
  readonly maxBatchItems: number
  readonly rate: RateLimits
  /** PARTY_ROLES this party holds (none for a relying party). */
  readonly roles: ReadonlySet<string>
  /** `exact`: an address in the pre-2025 units is a mismatch, never `match_reorganised`. */
  readonly addressMatching: AddressMatching
}

export const PARTY_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/
const ID = PARTY_ID
/** Printable ASCII without `"` and `\`, so a keyid never needs escaping in Signature-Input. */
const KEY_ID = /^[!#-[\]-~]{1,128}$/
const PARTY_FIELDS = new Set(['id', 'name', 'status', 'keys', 'allowedEndpoints', 'allowedAttributes', 'resultDetail', 'maxBatchItems', 'rate', 'dailyQuota', 'roles', 'addressMatching'])
const KEY_FIELDS = new Set(['keyId', 'algorithm', 'publicKeyPem', 'secretFile', 'notBefore', 'notAfter'])
const MIN_SECRET_BYTES = 32

export type PartyFileCheck =
  | { readonly ok: true, readonly spec: PartyFileSpec, readonly parties: readonly Party[] }
  | { readonly ok: false, readonly problems: readonly string[] }

function isRecord (v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function positiveInt (v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v > 0
}

function parseTime (v: unknown): number | undefined | null {
  if (v === undefined) return undefined
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? null : v.getTime()
  // Require a zone so the same file means the same instant on every node.
  if (typeof v !== 'string' || !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(v)) return null
  const t = Date.parse(v)
  return Number.isNaN(t) ? null : t
}

/** Loads the verification key of one key spec, or says why not. */
export function loadKeyObject (spec: { algorithm: SignatureAlgorithm, publicKeyPem?: string | undefined, secretFile?: string | undefined }, baseDir: string): KeyObject | string {
  if (spec.algorithm === 'hmac-sha256') {
    if (spec.secretFile === undefined || spec.publicKeyPem !== undefined) return 'an hmac-sha256 key needs secretFile and no publicKeyPem'
    const file = isAbsolute(spec.secretFile) ? spec.secretFile : resolve(baseDir, spec.secretFile)
    let text: string
    try {
      text = readFileSync(file, 'utf8').trim()
    } catch (err) {
      return `secret file ${file} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`
    }
    if (!/^(?:[0-9a-fA-F]{2})+$/.test(text) || text.length < MIN_SECRET_BYTES * 2) return `secret file ${file} must hold at least ${MIN_SECRET_BYTES * 2} hex characters`
    if ((statSync(file).mode & 0o077) !== 0) return `secret file ${file} is readable by group or others; chmod 600 it`
    return createSecretKey(Buffer.from(text, 'hex'))
  }
  if (spec.publicKeyPem === undefined || spec.secretFile !== undefined) return `an ${spec.algorithm} key needs publicKeyPem and no secretFile`
  let key: KeyObject
  try {
    key = createPublicKey({ key: spec.publicKeyPem, format: 'pem' })
  } catch {
    return 'publicKeyPem is not a PEM public key (SPKI, "BEGIN PUBLIC KEY")'
  }
  if (spec.algorithm === 'ed25519' && key.asymmetricKeyType !== 'ed25519') return `publicKeyPem is a ${key.asymmetricKeyType ?? 'unknown'} key, not ed25519`
  if (spec.algorithm === 'ecdsa-p256-sha256' && (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1')) {
    return `publicKeyPem is not an EC P-256 key (got ${key.asymmetricKeyType ?? 'unknown'} ${key.asymmetricKeyDetails?.namedCurve ?? ''})`.trimEnd()
  }
  return key
}

/** Validates a parsed party file; `baseDir` resolves relative secret files. */
export function checkPartyFile (doc: unknown, baseDir: string): PartyFileCheck {
  const problems: string[] = []
  if (!isRecord(doc) || !Array.isArray(doc.parties)) return { ok: false, problems: ['the file must be an object with a "parties" list'] }
  for (const k of Object.keys(doc)) if (k !== 'parties') problems.push(`unknown top-level field ${JSON.stringify(k)}`)
  const ids = new Set<string>()
  const keyIds = new Set<string>()
  const parties: Party[] = []
  doc.parties.forEach((p: unknown, i: number) => {
    const at = `parties[${i}]`
    if (!isRecord(p)) { problems.push(`${at}: must be an object`); return }
    const before = problems.length
    for (const k of Object.keys(p)) if (!PARTY_FIELDS.has(k)) problems.push(`${at}: unknown field ${JSON.stringify(k)}`)
    if (typeof p.id !== 'string' || !ID.test(p.id)) problems.push(`${at}.id: 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit`)
    else if (ids.has(p.id)) problems.push(`${at}.id: duplicate party id ${p.id}`)
    else ids.add(p.id)
    if (typeof p.name !== 'string' || p.name.trim() === '') problems.push(`${at}.name: a non-empty string`)
    if (p.status !== 'active' && p.status !== 'disabled') problems.push(`${at}.status: "active" or "disabled"`)
    if (!Array.isArray(p.allowedEndpoints) || p.allowedEndpoints.some((e) => !(PARTY_ENDPOINTS as readonly unknown[]).includes(e))) {
      problems.push(`${at}.allowedEndpoints: a list of ${PARTY_ENDPOINTS.join(', ')}`)
    }
    if (!Array.isArray(p.allowedAttributes) || p.allowedAttributes.some((a) => !(ATTRIBUTES as readonly unknown[]).includes(a))) {
      problems.push(`${at}.allowedAttributes: a list of ${ATTRIBUTES.join(', ')}`)
    }
    if (!(RESULT_DETAILS as readonly unknown[]).includes(p.resultDetail)) problems.push(`${at}.resultDetail: ${RESULT_DETAILS.map((d) => `"${d}"`).join(' or ')}`)
    if (!positiveInt(p.maxBatchItems)) problems.push(`${at}.maxBatchItems: a positive integer`)
    const rate = p.rate
    if (!isRecord(rate) || typeof rate.perSecond !== 'number' || !(rate.perSecond > 0) || !Number.isFinite(rate.perSecond) || !positiveInt(rate.burst) ||
      Object.keys(rate).some((k) => k !== 'perSecond' && k !== 'burst')) {
      problems.push(`${at}.rate: { perSecond: a positive number, burst: a positive integer }`)
    }
    if (p.roles !== undefined && (!Array.isArray(p.roles) || p.roles.some((r) => !(PARTY_ROLES as readonly unknown[]).includes(r)))) problems.push(`${at}.roles: a list of ${PARTY_ROLES.join(', ')}`)
    if (p.dailyQuota !== undefined && !positiveInt(p.dailyQuota)) problems.push(`${at}.dailyQuota: a positive integer, or absent for none`)
    if (p.addressMatching !== undefined && !(ADDRESS_MATCHING as readonly unknown[]).includes(p.addressMatching)) {
      problems.push(`${at}.addressMatching: ${ADDRESS_MATCHING.map((m) => `"${m}"`).join(' or ')}, or absent for "reorganisation-aware"`)
    }
    const keys: PartyKey[] = []
    if (!Array.isArray(p.keys) || p.keys.length === 0) problems.push(`${at}.keys: a non-empty list`)
    else {
      p.keys.forEach((k: unknown, j: number) => {
        const kat = `${at}.keys[${j}]`
        if (!isRecord(k)) { problems.push(`${kat}: must be an object`); return }
        for (const f of Object.keys(k)) if (!KEY_FIELDS.has(f)) problems.push(`${kat}: unknown field ${JSON.stringify(f)}`)
        if (typeof k.keyId !== 'string' || !KEY_ID.test(k.keyId)) problems.push(`${kat}.keyId: 1 to 128 printable ASCII characters without '"' or '\\'`)
        else if (keyIds.has(k.keyId)) problems.push(`${kat}.keyId: duplicate key id ${k.keyId} (key ids are unique across all parties)`)
        else keyIds.add(k.keyId)
        if (!(SIGNATURE_ALGORITHMS as readonly unknown[]).includes(k.algorithm)) { problems.push(`${kat}.algorithm: one of ${SIGNATURE_ALGORITHMS.join(', ')}`); return }
        if (k.publicKeyPem !== undefined && typeof k.publicKeyPem !== 'string') problems.push(`${kat}.publicKeyPem: a string`)
        if (k.secretFile !== undefined && typeof k.secretFile !== 'string') problems.push(`${kat}.secretFile: a string`)
        const notBefore = parseTime(k.notBefore)
        const notAfter = parseTime(k.notAfter)
        if (notBefore === null) problems.push(`${kat}.notBefore: an RFC 3339 date-time with a zone, e.g. 2026-01-01T00:00:00Z`)
        if (notAfter === null) problems.push(`${kat}.notAfter: an RFC 3339 date-time with a zone, e.g. 2026-01-01T00:00:00Z`)
        if (typeof notBefore === 'number' && typeof notAfter === 'number' && notAfter <= notBefore) problems.push(`${kat}: notAfter must be later than notBefore`)
        const loaded = loadKeyObject({
          algorithm: k.algorithm as SignatureAlgorithm,
          publicKeyPem: typeof k.publicKeyPem === 'string' ? k.publicKeyPem : undefined,
          secretFile: typeof k.secretFile === 'string' ? k.secretFile : undefined
        }, baseDir)
        if (typeof loaded === 'string') { problems.push(`${kat}: ${loaded}`); return }
        keys.push({ keyId: k.keyId as string, algorithm: k.algorithm as SignatureAlgorithm, key: loaded, notBefore: notBefore ?? undefined, notAfter: notAfter ?? undefined })
      })
    }
    if (problems.length !== before) return
    const spec = p as unknown as PartySpec
    parties.push({
      id: spec.id,
      name: spec.name,
      status: spec.status,
      keys,
      allowedEndpoints: new Set(spec.allowedEndpoints),
      allowedAttributes: new Set(spec.allowedAttributes),
      resultDetail: spec.resultDetail,
      maxBatchItems: spec.maxBatchItems,
      rate: { perSecond: spec.rate.perSecond, burst: spec.rate.burst, dailyQuota: spec.dailyQuota },
      roles: new Set(spec.roles ?? []),
      addressMatching: spec.addressMatching ?? 'reorganisation-aware'
    })
  })
  if (problems.length > 0) return { ok: false, problems }
  return { ok: true, spec: doc as unknown as PartyFileSpec, parties }
}

/** A party's rate: a token bucket (sustained requests/s and burst) and a daily quota. */
export interface RateLimits {
  /** Sustained requests per second (token refill rate). */
  readonly perSecond: number
  /** Bucket size: requests that may arrive at once after a quiet period. */
  readonly burst: number
  /** Units per quota day; undefined for none. */
  readonly dailyQuota?: number | undefined
}
