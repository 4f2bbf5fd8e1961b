/**
 * `idv call`: one signed request to the service, so nobody has to hand-build
 * RFC 9421 signatures to try it. The key file decides the algorithm: a PKCS#8
 * PEM private key (Ed25519 or ECDSA P-256), or a file of hex characters (an
 * HMAC-SHA-256 shared secret, as `idv party add --hmac-secret-file` registers).
 */
import { createPrivateKey, createSecretKey, type KeyObject } from 'node:crypto'
import { readFileSync, statSync } from 'node:fs'
import type { SignatureAlgorithm } from '../signatures/message-signature.js'
import { signRequest, type SigningKey } from '../signatures/request-signer.js'
import { UsageError } from '../errors.js'

export interface CallOptions {
  /** Base URL of the service, e.g. http://127.0.0.1:8080. */
  readonly url: string
  readonly keyId: string
  readonly keyFile: string
  readonly method: string
  readonly path: string
  /** JSON text; empty for none. */
  readonly body: string
  /** Give up when the whole answer has not arrived by then (default 30 s). */
  readonly timeoutMs?: number
}

export interface CallResult {
  readonly status: number
  readonly contentType: string
  readonly body: string
}

/** Reads a signing key; throws an Error saying what the file should hold. */
export function readSigningKey (keyId: string, file: string): SigningKey {
  if (statSync(file).isDirectory()) throw new UsageError(`--key ${file} is a directory, not a key file`)
  const text = readFileSync(file, 'utf8')
  if (text.includes('-----BEGIN')) {
    let key: KeyObject
    try {
      key = createPrivateKey(text)
    } catch (err) {
      throw new UsageError(`--key ${file} holds no private key node:crypto can read (${(err as Error).message}); use a PKCS#8 PEM private key`)
    }
    return { keyId, algorithm: algorithmOf(key, file), key }
  }
  const hex = text.trim()
  if (!/^(?:[0-9a-f]{2}){32,}$/i.test(hex)) throw new UsageError(`--key ${file} holds neither a PEM private key nor an HMAC secret of at least 64 hex characters`)
  return { keyId, algorithm: 'hmac-sha256', key: createSecretKey(Buffer.from(hex, 'hex')) }
}

function algorithmOf (key: KeyObject, file: string): SignatureAlgorithm {
  if (key.asymmetricKeyType === 'ed25519') return 'ed25519'
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') return 'ecdsa-p256-sha256'
  throw new UsageError(`--key ${file} is a ${key.asymmetricKeyType ?? 'unknown'} key; use Ed25519 or ECDSA P-256`)
}

/**
 * The body of POST /v1/card/qr/verify for a scanned QR string. A scanner that
 * types into a terminal ends it with a line break: only that is removed, the
 * service reads the rest liberally itself.
 */
export function qrBody (scanned: string): string {
  return JSON.stringify({ qr: scanned.replace(/\r?\n$/, '') })
}

export async function call (o: CallOptions): Promise<CallResult> {
  // new URL(path, base) lets an absolute path replace the base: a typo would then silently call another host.
  if (/^[a-z][a-z0-9+.-]*:/i.test(o.path) || o.path.startsWith('//')) throw new UsageError(`${o.path} is a URL, not a path: give the path (e.g. /v1/verify) and the service in --url`)
  if (!o.path.startsWith('/')) throw new UsageError(`${o.path} is not a path: it must start with / (e.g. /v1/verify)`)
  let base: URL
  try {
    base = new URL(o.url)
  } catch {
    throw new UsageError(`--url ${o.url} is not a valid URL (e.g. http://127.0.0.1:8080)`)
  }
  if (base.protocol !== 'http:' && base.protocol !== 'https:') throw new UsageError(`--url ${o.url} must be http:// or https://`)
  const key = readSigningKey(o.keyId, o.keyFile)
  const target = new URL(o.path, base)
  const body = Buffer.from(o.body, 'utf8')
  const unsigned: Record<string, string> = { accept: 'application/json' }
  if (body.length > 0) unsigned['content-type'] = 'application/json'
  const headers = signRequest({
    method: o.method.toUpperCase(),
    path: `${target.pathname}${target.search}`,
    authority: target.host,
    scheme: target.protocol === 'https:' ? 'https' : 'http',
    headers: unsigned,
    body
  }, key)
  const timeoutMs = o.timeoutMs ?? 30_000
  const signal = AbortSignal.timeout(timeoutMs)
  try {
    const res = await fetch(target, { method: o.method.toUpperCase(), headers, signal, ...(body.length > 0 ? { body } : {}) })
    return { status: res.status, contentType: res.headers.get('content-type') ?? '', body: await res.text() }
  } catch (err) {
    if (signal.aborted) throw new UsageError(`no whole answer from ${target.origin} within ${timeoutMs / 1000} s (--timeout)`)
    throw err
  }
}
