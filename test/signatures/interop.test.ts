/**
 * Interoperability with an independent RFC 9421 implementation
 * (`http-message-signatures` from the npm registry): requests it signs verify
 * with ours, and requests we sign verify with it, for every algorithm.
 */
import { createHash } from 'node:crypto'
import { createSigner, createVerifier, httpbis } from 'http-message-signatures'
import { describe, expect, it } from 'vitest'
import { RequestVerifier, SIGNATURE_ALGORITHMS } from '../../src/signatures/message-signature.js'
import { ReplayGuard } from '../../src/admission/replay-guard.js'
import { signRequest } from '../../src/signatures/request-signer.js'
import { BODY, input, makeKey, resolverOf, type TestKey } from './support.js'

const URL_ = 'https://idv.example.vn/v1/verify'

function theirKeyMaterial (k: TestKey): Parameters<typeof createSigner>[0] {
  return k.secret ?? k.key
}

describe.each(SIGNATURE_ALGORITHMS)('%s', (algorithm) => {
  const key = makeKey(algorithm)

  it('a request signed by http-message-signatures verifies with ours', async () => {
    const headers = {
      'Content-Type': 'application/json',
      'Content-Digest': `sha-256=:${createHash('sha256').update(BODY).digest('base64')}:`
    }
    const signedReq = await httpbis.signMessage({
      key: createSigner(theirKeyMaterial(key), algorithm, key.keyId),
      name: 'theirs',
      fields: ['@method', '@path', '@authority', 'content-type', 'content-digest'],
      params: ['created', 'keyid', 'nonce', 'alg', 'expires'],
      paramValues: { nonce: 'interop-nonce-1' }
    }, { method: 'POST', url: URL_, headers })
    const verifier = new RequestVerifier({ resolveKey: resolverOf([key]), nonces: ReplayGuard.create({ slots: 64 }) })
    const flat: Record<string, string> = {}
    for (const [k, v] of Object.entries(signedReq.headers)) flat[k] = Array.isArray(v) ? v.join(', ') : v
    const req = { method: 'POST', path: '/v1/verify', authority: 'idv.example.vn', headers: flat, body: BODY }
    expect(verifier.verify(input(req))).toMatchObject({ ok: true, keyId: key.keyId, label: 'theirs', nonce: 'interop-nonce-1' })
    // and their signature over a tampered path fails with ours
    expect(verifier.verify(input({ ...req, path: '/v1/verify/batch' }))).toMatchObject({ ok: false, code: 'IDV_ERR_SIGNATURE_INVALID' })
  })

  it('a request signed by ours verifies with http-message-signatures', async () => {
    const headers = signRequest({ method: 'POST', path: '/v1/verify', authority: 'idv.example.vn', headers: { 'content-type': 'application/json' }, body: BODY }, key)
    const verifyKey = algorithm === 'hmac-sha256' ? key.secret as Buffer : key.verifyKey
    const verify = async (hdrs: Record<string, string>, url = URL_): Promise<boolean | null> => await httpbis.verifyMessage({
      keyLookup: async () => ({ id: key.keyId, algs: [algorithm], verify: createVerifier(verifyKey, algorithm) }),
      requiredFields: ['@method', '@path', 'content-digest'],
      requiredParams: ['created', 'keyid', 'nonce']
    }, { method: 'POST', url, headers: hdrs })
    expect(await verify(headers)).toBe(true)
    expect(await verify(headers, 'https://idv.example.vn/v1/chip/verify')).toBe(false)
  })
})
