/**
 * The service's receipt-signing keys: Ed25519, one current key that signs and
 * retired keys kept so receipts signed before a rotation still verify. Exported
 * as a JWKS (RFC 7517; OKP/Ed25519 keys per RFC 8037) for `GET /v1/keys`.
 *
 * Stored as one JSON file (mode 0600, written atomically) holding PKCS#8 PEM
 * private keys; retired keys drop their private half on rotation, since they
 * must never sign again.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto'
import { readFileSync, statSync } from 'node:fs'
import { writeFileAtomic } from '../files/atomic-file.js'
import { ConfigError } from '../errors.js'
import type { Logger } from '../log.js'

export interface Jwk {
  readonly kty: string
  readonly crv?: string
  readonly x?: string
  readonly kid?: string
  readonly alg?: string
  readonly use?: string
}

export interface Jwks {
  readonly keys: readonly Jwk[]
}

export interface SigningKeyPair {
  readonly kid: string
  readonly privateKey: KeyObject
  readonly publicKey: KeyObject
}

interface RetiredKey {
  readonly kid: string
  readonly publicKey: KeyObject
  readonly retiredAt: string
}

interface KeyRingFile {
  readonly current: { readonly kid: string, readonly privateKeyPem: string, readonly createdAt: string }
  readonly retired: ReadonlyArray<{ readonly kid: string, readonly publicKeyPem: string, readonly retiredAt: string }>
}

/** Time for people reading a JWKS, random bits so two rotations in one second still differ. */
function newKid (now: number): string {
  return `idv-receipts-${new Date(now).toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}-${randomBytes(3).toString('hex')}`
}

export function publicJwk (kid: string, publicKey: KeyObject): Jwk {
  const jwk = publicKey.export({ format: 'jwk' })
  return { kty: 'OKP', crv: 'Ed25519', x: jwk.x as string, kid, alg: 'EdDSA', use: 'sig' }
}

export class ReceiptKeyRing {
  #current: SigningKeyPair & { readonly createdAt: string }
  #retired: RetiredKey[]

  private constructor (current: SigningKeyPair & { createdAt: string }, retired: RetiredKey[]) {
    this.#current = current
    this.#retired = retired
  }

  static generate (now = Date.now(), kid = newKid(now)): ReceiptKeyRing {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519')
    return new ReceiptKeyRing({ kid, privateKey, publicKey, createdAt: new Date(now).toISOString() }, [])
  }

  /** The key that signs now. */
  get current (): SigningKeyPair {
    return this.#current
  }

  /** A new current key; the old one is kept for verification only. */
  rotate (now = Date.now(), kid = newKid(now)): SigningKeyPair {
    if (kid === this.#current.kid || this.#retired.some((r) => r.kid === kid)) throw new Error(`key id ${kid} is already used`)
    this.#retired.unshift({ kid: this.#current.kid, publicKey: this.#current.publicKey, retiredAt: new Date(now).toISOString() })
    const { privateKey, publicKey } = generateKeyPairSync('ed25519')
    this.#current = { kid, privateKey, publicKey, createdAt: new Date(now).toISOString() }
    return this.#current
  }

  /** Current and retired public keys. */
  jwks (): Jwks {
    return { keys: [publicJwk(this.#current.kid, this.#current.publicKey), ...this.#retired.map((r) => publicJwk(r.kid, r.publicKey))] }
  }

  toFile (): KeyRingFile {
    return {
      current: { kid: this.#current.kid, privateKeyPem: this.#current.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), createdAt: this.#current.createdAt },
      retired: this.#retired.map((r) => ({ kid: r.kid, publicKeyPem: r.publicKey.export({ type: 'spki', format: 'pem' }).toString(), retiredAt: r.retiredAt }))
    }
  }

  static fromFile (data: KeyRingFile): ReceiptKeyRing {
    const privateKey = createPrivateKey(data.current.privateKeyPem)
    if (privateKey.asymmetricKeyType !== 'ed25519') throw new Error('the receipt key must be Ed25519')
    return new ReceiptKeyRing(
      { kid: data.current.kid, privateKey, publicKey: createPublicKey(privateKey), createdAt: data.current.createdAt },
      data.retired.map((r) => ({ kid: r.kid, publicKey: createPublicKey(r.publicKeyPem), retiredAt: r.retiredAt }))
    )
  }

  save (file: string): void {
    writeFileAtomic(file, `${JSON.stringify(this.toFile(), null, 2)}\n`, 0o600)
  }

  static load (file: string): ReceiptKeyRing {
    if ((statSync(file).mode & 0o077) !== 0) throw new Error(`receipt key file ${file} is readable by group or others; chmod 600 it`)
    return ReceiptKeyRing.fromFile(JSON.parse(readFileSync(file, 'utf8')) as KeyRingFile)
  }

  /** The demo's path: load the ring, or create and save one. */
  static loadOrCreate (file: string, now = Date.now()): ReceiptKeyRing {
    try {
      statSync(file)
    } catch {
      const ring = ReceiptKeyRing.generate(now)
      ring.save(file)
      return ring
    }
    return ReceiptKeyRing.load(file)
  }
}

/**
 * The key ring as a running service uses it: read from its file at start (a
 * missing or unreadable file is a configuration error), re-read on reload so a
 * rotation by `idv receipt rotate-key` takes effect without a restart, and its
 * JWKS kept serialised for GET /v1/keys. Disabled (no file) when answers are
 * not signed.
 */
export class ServiceReceiptKeys {
  readonly #file: string | undefined
  #ring: ReceiptKeyRing | undefined
  #jwks = '{"keys":[]}'

  constructor (file: string | undefined) {
    this.#file = file
    if (file === undefined) return
    try {
      this.#install(ReceiptKeyRing.load(file))
    } catch (err) {
      throw new ConfigError([`receipt key file ${file} cannot be used (${err instanceof Error ? err.message : String(err)}); ` +
        'create it with `idv receipt rotate-key`, set IDV_RECEIPT_KEY_FILE, or set IDV_RECEIPTS=off'])
    }
  }

  get enabled (): boolean {
    return this.#ring !== undefined
  }

  /** The signing key; only called when enabled. */
  current (): SigningKeyPair {
    if (this.#ring === undefined) throw new Error('answers are not signed')
    return this.#ring.current
  }

  /** Current and retired public keys, serialised. */
  jwks (): string {
    return this.#jwks
  }

  /** Re-reads the file; on failure keeps the keys in use and says why. */
  reload (log: Logger): void {
    if (this.#file === undefined) return
    try {
      this.#install(ReceiptKeyRing.load(this.#file))
      log.info({ kid: this.current().kid }, 'receipt keys reloaded')
    } catch (err) {
      log.error({ err }, 'receipt keys not reloaded; the previous keys stay in use')
    }
  }

  #install (ring: ReceiptKeyRing): void {
    this.#ring = ring
    this.#jwks = JSON.stringify(ring.jwks())
  }
}
