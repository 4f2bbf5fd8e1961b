/**
 * Verification of RFC 9421 HTTP Message Signatures on requests.
 *
 * Policy (the wire rules):
 * - coverage: `@method`, the path (`@path`, or `@target-uri`/`@request-target`,
 *   which contain it), and `content-digest` whenever there is a body;
 * - parameters: `created` (integer, within ±windowSeconds of our clock),
 *   `keyid` and `nonce` required; `expires`, when present, must not have
 *   passed; `alg`, when present, must name the key's algorithm;
 * - algorithms: `ed25519`, `ecdsa-p256-sha256` (raw r‖s, 64 bytes, as RFC 9421
 *   §3.3.4 says; not DER), `hmac-sha256` (constant-time compare).
 *
 * Which signature: the label may be anything. We verify exactly one signature
 * per request: the first member of Signature-Input (header order) that has a
 * Signature value and whose keyid is registered (or, failing that, the first
 * member, to report why). Trying every member would let one request buy up to
 * MAX_SIGNATURES asymmetric verifications.
 *
 * Order of checks: cheap and public checks first (parse, coverage, time, key,
 * digest), then the signature, then party status and the nonce. The nonce is
 * remembered only after the signature verified, so nobody who merely saw a
 * request in flight can burn its nonce with a forged copy; a disabled party's
 * signature is still checked so its 403 is not an oracle for unsigned callers.
 */
import { hash, timingSafeEqual, verify, type KeyObject } from 'node:crypto'
import { KeyedHasher } from '../domain/keyed-hash.js'
import { failure, type Failure } from '../errors.js'
import './codes.js'
import { verifyContentDigest } from './content-digest.js'
import { signatureBase, type SignedRequestInput } from './signature-base.js'
import { parseSignatureField, parseSignatureInput, type SignatureInputMember } from './structured-fields.js'
import { parseSignatureFieldFast, parseSignatureInputFast } from './signature-fields-fast.js'
import { clip } from '../clip.js'

export type { SignedRequestInput } from './signature-base.js'

export const SIGNATURE_ALGORITHMS = ['ed25519', 'ecdsa-p256-sha256', 'hmac-sha256'] as const
export type SignatureAlgorithm = typeof SIGNATURE_ALGORITHMS[number]

/** Signature lengths: Ed25519 64, P-256 r‖s 64, HMAC-SHA-256 32. */
const SIGNATURE_BYTES: Record<SignatureAlgorithm, number> = { ed25519: 64, 'ecdsa-p256-sha256': 64, 'hmac-sha256': 32 }

export const DEFAULT_WINDOW_SECONDS = 60
export const SIGNATURE_MISSING_DETAIL = 'send Signature-Input and Signature headers (RFC 9421)'
const MAX_NONCE_LENGTH = 256
const MAX_KEYID_LENGTH = 256

/** A key that may verify requests, with the party it belongs to. */
export interface VerificationKey {
  readonly keyId: string
  readonly partyId: string
  readonly algorithm: SignatureAlgorithm
  /** SPKI public key (ed25519, ecdsa-p256-sha256) or secret key (hmac-sha256). */
  readonly key: KeyObject
  /** False for a disabled party: its signature is still checked, then refused with 403. */
  readonly partyActive: boolean
}

export type KeyLookup = { readonly ok: true, readonly key: VerificationKey } | Failure<'IDV_ERR_UNKNOWN_KEY' | 'IDV_ERR_KEY_EXPIRED'>

/** keyId → key at a time (ms); PartyRegistry.resolveKey is one. */
export type KeyResolver = (keyId: string, nowMs: number) => KeyLookup

/** Nonce memory; ReplayGuard is one. */
export interface NonceMemory {
  /** Remembers (partyId, nonce) until expiresAtSec; 'replay' if it is already remembered and live. */
  remember (partyId: string, nonce: string, expiresAtSec: number, nowSec: number): 'fresh' | 'replay' | 'full'
}

/** The failure for a nonce the memory did not accept. */
export function nonceRefusal (seen: 'replay' | 'full'): Failure<'IDV_ERR_REPLAY' | 'IDV_ERR_REPLAY_CAPACITY'> {
  return seen === 'replay'
    ? failure('IDV_ERR_REPLAY', 'this nonce was already used within the time window')
    : failure('IDV_ERR_REPLAY_CAPACITY', 'nonce memory is full')
}

export interface RequestVerifierOptions {
  readonly resolveKey: KeyResolver
  /** Without one, nonces are required but not remembered here (the caller remembers them: cluster mode's gate; tests; the bench of the crypto alone). */
  readonly nonces?: NonceMemory
  /** Accepted distance between `created` and our clock, both ways. Default 60 s. */
  readonly windowSeconds?: number
  /** Clock in ms since the epoch (injectable for tests). */
  readonly now?: () => number
}

export interface VerifiedRequest {
  readonly ok: true
  readonly keyId: string
  readonly partyId: string
  readonly nonce: string
  /** Seconds since the epoch, as signed. */
  readonly created: number
  /** When the nonce may be forgotten (s): past created + window the request is refused as stale anyway. */
  readonly nonceExpiresAt: number
  readonly algorithm: SignatureAlgorithm
  readonly label: string
}

export type VerifyResult = VerifiedRequest | Failure

const PATH_COMPONENTS = ['@path', '@target-uri', '@request-target']

export class RequestVerifier {
  readonly #resolveKey: KeyResolver
  readonly #nonces: NonceMemory | undefined
  readonly #window: number
  readonly #now: () => number

  constructor (options: RequestVerifierOptions) {
    const window = options.windowSeconds ?? DEFAULT_WINDOW_SECONDS
    if (!Number.isInteger(window) || window < 1) throw new RangeError('windowSeconds must be a positive integer')
    this.#resolveKey = options.resolveKey
    this.#nonces = options.nonces
    this.#window = window
    this.#now = options.now ?? Date.now
  }

  /** Verifies a request; never throws on anything the client sent. */
  verify (req: SignedRequestInput): VerifyResult {
    const inputHeader = req.headers('signature-input')
    const sigHeader = req.headers('signature')
    if (inputHeader === undefined || sigHeader === undefined) {
      return failure('IDV_ERR_SIGNATURE_MISSING', SIGNATURE_MISSING_DETAIL)
    }
    // The common canonical forms first (signature-fields-fast.ts), the full RFC 8941 parser for the rest.
    let inputMembers = parseSignatureInputFast(inputHeader)
    if (inputMembers === undefined) {
      const inputs = parseSignatureInput(inputHeader)
      if (!inputs.ok) return failure('IDV_ERR_SIGNATURE_INVALID', `Signature-Input: ${inputs.reason}`)
      inputMembers = inputs.value
    }
    let signatureMembers = parseSignatureFieldFast(sigHeader)
    if (signatureMembers === undefined) {
      const signatures = parseSignatureField(sigHeader)
      if (!signatures.ok) return failure('IDV_ERR_SIGNATURE_INVALID', `Signature: ${signatures.reason}`)
      signatureMembers = signatures.value
    }

    const nowMs = this.#now()
    const chosen = this.#choose(inputMembers, signatureMembers, nowMs)
    if (!chosen.ok) return chosen
    const { label, member, signature, keyId } = chosen

    const params = checkParams(member)
    if (!params.ok) return params
    const { created, expires, nonce, alg } = params
    const coverage = checkCoverage(member, req.body.length > 0)
    if (coverage !== undefined) return coverage

    const nowSec = nowMs / 1000
    if (Math.abs(nowSec - created) > this.#window) {
      const where = created < nowSec ? 'in the past' : 'in the future'
      return failure('IDV_ERR_SIGNATURE_EXPIRED', `created is ${Math.round(Math.abs(nowSec - created))} s ${where}; the accepted window is ±${this.#window} s`)
    }
    if (expires !== undefined && expires <= nowSec) return failure('IDV_ERR_SIGNATURE_EXPIRED', 'the signature has expired (expires parameter)')

    const lookup = chosen.lookup
    if (!lookup.ok) return lookup
    const key = lookup.key
    if (alg !== undefined && alg !== key.algorithm) {
      return failure('IDV_ERR_SIGNATURE_INVALID', `alg ${JSON.stringify(clip(alg))} does not match key ${clip(keyId)}, which is ${key.algorithm}`)
    }

    const digestHeader = req.headers('content-digest')
    if (req.body.length > 0 || digestHeader !== undefined) {
      const digest = verifyContentDigest(digestHeader, req.body)
      if (!digest.ok) return failure('IDV_ERR_DIGEST_MISMATCH', digest.detail)
    }

    const base = signatureBase(req, member)
    if (!base.ok) return failure('IDV_ERR_SIGNATURE_INVALID', base.reason)
    const good = key.algorithm === 'hmac-sha256'
      ? signature.length === 32 && timingSafeEqual(hmacOfString(key.key, base.value), signature)
      : verifySignature(key, Buffer.from(base.value, 'utf8'), signature)
    if (!good) {
      return failure('IDV_ERR_SIGNATURE_INVALID', `signature ${clip(label)} does not verify with key ${clip(keyId)}`)
    }
    if (!key.partyActive) return failure('IDV_ERR_PARTY_DISABLED', `party ${key.partyId} is disabled`)

    const nonceExpiresAt = Math.ceil(created + this.#window) + 1
    if (this.#nonces !== undefined) {
      const seen = this.#nonces.remember(key.partyId, nonce, nonceExpiresAt, Math.floor(nowSec))
      if (seen !== 'fresh') return nonceRefusal(seen)
    }
    return { ok: true, keyId, partyId: key.partyId, nonce, created, nonceExpiresAt, algorithm: key.algorithm, label }
  }

  #choose (inputs: Map<string, SignatureInputMember>, signatures: Map<string, Uint8Array>, nowMs: number):
    | { ok: true, label: string, member: SignatureInputMember, signature: Uint8Array, keyId: string, lookup: ReturnType<KeyResolver> }
    | Failure {
    let first: { ok: true, label: string, member: SignatureInputMember, signature: Uint8Array, keyId: string, lookup: ReturnType<KeyResolver> } | undefined
    let sawMember = false
    for (const [label, member] of inputs) {
      const signature = signatures.get(label)
      if (signature === undefined) continue
      sawMember = true
      const keyId = member.params.get('keyid')
      if (typeof keyId !== 'string' || keyId.length === 0 || keyId.length > MAX_KEYID_LENGTH) continue
      const lookup = this.#resolveKey(keyId, nowMs)
      const candidate = { ok: true as const, label, member, signature, keyId, lookup }
      if (lookup.ok) return candidate
      first ??= candidate
    }
    if (first !== undefined) return first
    return failure('IDV_ERR_SIGNATURE_INVALID', sawMember
      ? 'no signature carries a keyid string parameter'
      : 'no Signature-Input member has a matching Signature member')
  }
}

function checkParams (member: SignatureInputMember):
  | { ok: true, created: number, expires: number | undefined, nonce: string, alg: string | undefined }
  | Failure {
  const p = member.params
  const created = p.get('created')
  if (typeof created !== 'number' || !Number.isInteger(created)) return failure('IDV_ERR_SIGNATURE_INVALID', 'the created parameter (integer seconds) is required')
  const expires = p.get('expires')
  if (expires !== undefined && (typeof expires !== 'number' || !Number.isInteger(expires))) return failure('IDV_ERR_SIGNATURE_INVALID', 'the expires parameter must be an integer')
  const nonce = p.get('nonce')
  if (typeof nonce !== 'string' || nonce.length === 0 || nonce.length > MAX_NONCE_LENGTH) {
    return failure('IDV_ERR_SIGNATURE_INVALID', `the nonce parameter (a string of 1 to ${MAX_NONCE_LENGTH} characters) is required`)
  }
  const alg = p.get('alg')
  if (alg !== undefined && typeof alg !== 'string') return failure('IDV_ERR_SIGNATURE_INVALID', 'the alg parameter must be a string')
  return { ok: true, created, expires, nonce, alg }
}

function checkCoverage (member: SignatureInputMember, hasBody: boolean): Failure | undefined {
  const names = new Set(member.components.map((c) => c.name))
  const missing: string[] = []
  if (!names.has('@method')) missing.push('@method')
  if (!PATH_COMPONENTS.some((n) => names.has(n))) missing.push('@path')
  if (hasBody && !names.has('content-digest')) missing.push('content-digest')
  if (missing.length === 0) return undefined
  return failure('IDV_ERR_SIGNATURE_INVALID', `the signature must cover ${missing.join(', ')}`)
}

/** The cryptographic check alone; false (never a throw) for a malformed signature. */
export function verifySignature (key: VerificationKey, base: Uint8Array, signature: Uint8Array): boolean {
  if (signature.length !== SIGNATURE_BYTES[key.algorithm]) return false
  try {
    switch (key.algorithm) {
      case 'ed25519': return verify(null, base, key.key, signature)
      case 'ecdsa-p256-sha256': return verify('sha256', base, { key: key.key, dsaEncoding: 'ieee-p1363' }, signature)
      case 'hmac-sha256': {
        const expected = hmacScratch
        hasherFor(key.key).digestInto(base, base.length, expected, 0, 32)
        return timingSafeEqual(expected, signature)
      }
    }
  } catch {
    return false
  }
}

/**
 * HMAC keys with their key schedule done once (domain/keyed-hash.ts), per
 * thread, for as long as the registry holds the key. In a busy server this is
 * about half the cost of createHmac, which re-derives the padded keys and
 * looks the digest up in OpenSSL on every call.
 */
const hashers = new WeakMap<KeyObject, KeyedHasher>()
const hmacScratch = Buffer.alloc(32)

function hasherFor (key: KeyObject): KeyedHasher {
  let h = hashers.get(key)
  if (h === undefined) {
    // RFC 2104: a key longer than the 64-byte block is hashed first, a shorter one is zero-padded
    // (so padding to KeyedHasher's 32-byte minimum changes nothing).
    const raw = key.export()
    h = new KeyedHasher(raw.length > 64 ? hash('sha256', raw, 'buffer') : raw.length < 32 ? Buffer.concat([raw, Buffer.alloc(32 - raw.length)]) : raw)
    hashers.set(key, h)
  }
  return h
}

/**
 * HMAC-SHA-256 of a string (the signature base) as two one-shot SHA-256 calls
 * over padded key blocks prepared once per key (RFC 2104: H(opad ‖ H(ipad ‖ m))):
 * the base is written straight after the inner pad in a scratch buffer, so
 * no Buffer is made per request. In the busy server this measured faster than
 * the JavaScript midstate HMAC (domain/keyed-hash.ts), which pays a JavaScript
 * compression per 64 bytes of a 300-byte base (issue 24).
 * The result lives in a per-key buffer until the next call with that key.
 */
interface HmacPads {
  readonly ipad: Buffer
  /** opad, then room for the inner digest. */
  readonly outer: Buffer
}
const pads = new WeakMap<KeyObject, HmacPads>()
const INNER_CAPACITY = 64 + 16_384
const innerScratch = Buffer.allocUnsafe(INNER_CAPACITY)

function padsFor (key: KeyObject): HmacPads {
  let p = pads.get(key)
  if (p === undefined) {
    const exported = key.export()
    const raw = exported.length > 64 ? hash('sha256', exported, 'buffer') : exported
    const ipad = Buffer.alloc(64)
    const outer = Buffer.alloc(96)
    for (let i = 0; i < 64; i++) { ipad[i] = (raw[i] ?? 0) ^ 0x36; outer[i] = (raw[i] ?? 0) ^ 0x5c }
    p = { ipad, outer }
    pads.set(key, p)
  }
  return p
}

export function hmacOfString (key: KeyObject, message: string): Buffer {
  const p = padsFor(key)
  p.ipad.copy(innerScratch, 0)
  const written = innerScratch.write(message, 64, 'utf8')
  // write() stops short of a character that does not fit, so fewer than 4 bytes to spare may mean a cut.
  const inner = written <= INNER_CAPACITY - 64 - 4
    ? hash('sha256', innerScratch.subarray(0, 64 + written), 'buffer')
    : hash('sha256', Buffer.concat([p.ipad, Buffer.from(message, 'utf8')]), 'buffer')
  inner.copy(p.outer, 64)
  return hash('sha256', p.outer, 'buffer')
}
