/**
 * Our own RFC 9421 signing client (for `idv call`, the demo and tests): adds
 * Content-Digest, Signature-Input and Signature to a request. It shares the
 * signature base code with the verifier; interoperability is proved separately
 * against an independent implementation (test/signatures/interop.test.ts).
 */
import { createHmac, randomBytes, sign, type KeyObject } from 'node:crypto'
import { createContentDigest } from './content-digest.js'
import type { SignatureAlgorithm } from './message-signature.js'
import { signatureBase, type SignedRequestInput } from './signature-base.js'
import { serializeInnerList, type Item, type Parameters } from './structured-fields.js'

export interface SigningKey {
  readonly keyId: string
  readonly algorithm: SignatureAlgorithm
  /** PKCS#8 private key (ed25519, ecdsa-p256-sha256) or secret key (hmac-sha256). */
  readonly key: KeyObject
}

export interface SignOptions {
  readonly label?: string
  /** Seconds since the epoch; default now. */
  readonly created?: number
  readonly nonce?: string
  readonly expires?: number
  /** Whether to send the alg parameter (RFC 9421 lets the key imply it). Default true. */
  readonly includeAlg?: boolean
  /** Default: @method, @authority, @path, plus content-digest and content-type when present. */
  readonly components?: readonly string[]
}

export interface UnsignedRequest {
  readonly method: string
  readonly path: string
  readonly authority: string
  readonly scheme?: 'http' | 'https'
  /** Lowercase names. */
  readonly headers: Readonly<Record<string, string>>
  readonly body: Uint8Array
}

/** Returns the headers to send: the request's own plus content-digest (when there is a body), signature-input and signature. */
export function signRequest (req: UnsignedRequest, key: SigningKey, options: SignOptions = {}): Record<string, string> {
  const headers: Record<string, string> = { ...req.headers }
  if (req.body.length > 0) headers['content-digest'] = createContentDigest(req.body)
  const components = options.components ?? [
    '@method', '@authority', '@path',
    ...(headers['content-digest'] !== undefined ? ['content-digest'] : []),
    ...(headers['content-type'] !== undefined ? ['content-type'] : [])
  ]
  const params: Parameters = new Map()
  params.set('created', options.created ?? Math.floor(Date.now() / 1000))
  if (options.expires !== undefined) params.set('expires', options.expires)
  params.set('keyid', key.keyId)
  params.set('nonce', options.nonce ?? randomBytes(16).toString('base64url'))
  if (options.includeAlg ?? true) params.set('alg', key.algorithm)
  const inner: readonly [Item[], Parameters] = [components.map((c): Item => [c, new Map()]), params]
  const serialized = serializeInnerList(inner)
  const input: SignedRequestInput = { ...req, headers: (name) => headers[name] }
  const base = signatureBase(input, { components: components.map((name) => ({ name, params: new Map() })), params, serialized })
  if (!base.ok) throw new Error(`cannot sign: ${base.reason}`)
  const data = Buffer.from(base.value, 'utf8')
  const label = options.label ?? 'sig1'
  headers['signature-input'] = `${label}=${serialized}`
  headers.signature = `${label}=:${rawSign(key, data).toString('base64')}:`
  return headers
}

function rawSign (key: SigningKey, data: Buffer): Buffer {
  switch (key.algorithm) {
    case 'ed25519': return sign(null, data, key.key)
    case 'ecdsa-p256-sha256': return sign('sha256', data, { key: key.key, dsaEncoding: 'ieee-p1363' })
    case 'hmac-sha256': return createHmac('sha256', key.key).update(data).digest()
  }
}
