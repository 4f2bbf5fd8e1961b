/**
 * Signature verification over node:crypto KeyObjects: the one place the chip
 * library turns a resolved SignatureScheme into a crypto.verify call.
 *
 * One-shot crypto.verify (not createVerify) avoids a stream object per call;
 * keys are KeyObjects created once per certificate and cached by the caller,
 * so no PEM/DER key parsing happens on the hot path.
 */
import { constants, verify, type KeyObject } from 'node:crypto'
import type { SignatureScheme } from './algorithms.js'

export type SignatureOutcome = 'valid' | 'invalid' | 'key-mismatch' | 'unsupported-key'

/** Key types we can verify with; anything else (ed25519, dsa, …) is an unsupported algorithm. */
export function isSupportedKey (key: KeyObject): boolean {
  const t = key.asymmetricKeyType
  return t === 'rsa' || t === 'rsa-pss' || t === 'ec'
}

/**
 * Verifies `signature` over `data`. Never throws: OpenSSL errors on garbage
 * signatures (wrong length, bad DER) are an invalid signature, not a crash.
 */
export function verifySignature (scheme: SignatureScheme, key: KeyObject, data: Uint8Array, signature: Uint8Array): SignatureOutcome {
  if (!isSupportedKey(key)) return 'unsupported-key'
  const type = key.asymmetricKeyType
  switch (scheme.family) {
    case 'ecdsa':
      if (type !== 'ec') return 'key-mismatch'
      return safeVerify(scheme.hash, data, { key, dsaEncoding: scheme.dsaEncoding ?? 'der' }, signature)
    case 'rsa':
      // An id-RSASSA-PSS key is restricted to PSS by its SPKI; PKCS#1 v1.5 with it is a mismatch.
      if (type !== 'rsa') return 'key-mismatch'
      return safeVerify(scheme.hash, data, { key, padding: constants.RSA_PKCS1_PADDING }, signature)
    case 'rsa-pss':
      if (type !== 'rsa' && type !== 'rsa-pss') return 'key-mismatch'
      return safeVerify(scheme.hash, data, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: scheme.saltLength ?? 32 }, signature)
  }
}

function safeVerify (hash: string, data: Uint8Array, key: Parameters<typeof verify>[2], signature: Uint8Array): SignatureOutcome {
  try {
    return verify(hash, data, key, signature) ? 'valid' : 'invalid'
  } catch {
    return 'invalid'
  }
}
