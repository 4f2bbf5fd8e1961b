/**
 * The relying-party registry and the `idv party` command functions: files
 * written by the CLI load, validation lists every problem, rotated keys verify
 * inside their overlap and not after it, a disabled party is refused, reloads
 * (explicit and on file change) take effect and a broken file keeps the old one.
 */
import { createSecretKey, generateKeyPairSync, randomBytes } from 'node:crypto'
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { RequestVerifier } from '../../src/signatures/message-signature.js'
import { formatPartyList, generatedSecretFile, partyAdd, partyDisable, partyEnable, PartyCliError, partyList, partyRotateKey } from '../../src/parties/party-cli.js'
import { loadPartyFile, PartyFileError, PartyRegistry } from '../../src/parties/registry.js'
import { authorize } from '../../src/parties/policy.js'
import { shapeAnswer } from '../../src/parties/answer-shape.js'
import { input, makeKey, NOW_MS, signed, type TestKey } from '../signatures/support.js'
import { tempDir } from '../helpers/temp.js'

const dir = tempDir('idv-parties')

function pemKey (algorithm: 'ed25519' | 'ecdsa-p256-sha256', name: string): { file: string, key: TestKey } {
  const pair = algorithm === 'ed25519' ? generateKeyPairSync('ed25519') : generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
  const file = join(dir, `${name}.pem`)
  writeFileSync(file, pair.publicKey.export({ type: 'spki', format: 'pem' }))
  return { file, key: { keyId: '', algorithm, key: pair.privateKey, verifyKey: pair.publicKey } }
}

function secretFile (name: string, mode = 0o600): { file: string, secret: Buffer } {
  const secret = randomBytes(32)
  const file = join(dir, name)
  writeFileSync(file, `${secret.toString('hex')}\n`, { mode })
  chmodSync(file, mode)
  return { file, secret }
}

const ATTRS = ['fullName', 'dateOfBirth', 'gender']

describe('idv party add | list | disable | rotate-key', () => {
  const file = join(dir, 'parties.yaml')
  const portal = pemKey('ed25519', 'portal')
  const bank = pemKey('ecdsa-p256-sha256', 'bank')
  const op = secretFile('operator.secret')

  it('adds parties of each key kind to a new YAML file that loads', () => {
    partyAdd({ file, id: 'portal-hn', name: 'Cổng dịch vụ công Hà Nội', publicKey: portal.file, keyId: 'portal-1', attributes: ATTRS, rate: 50, now: () => NOW_MS })
    partyAdd({ file, id: 'bank-7', name: 'Bank 7', publicKey: bank.file, keyId: 'bank-1', attributes: ATTRS, endpoints: ['/v1/chip/verify'], rate: 5, burst: 10, dailyQuota: 1000, overallOnly: true, now: () => NOW_MS })
    partyAdd({ file, id: 'telco', name: 'Operator', hmacSecretFile: op.file, attributes: ATTRS, endpoints: ['/v1/verify/batch'], rate: 200, maxBatchItems: 5000, now: () => NOW_MS })
    const { parties } = loadPartyFile(file)
    expect(parties.map((p) => [p.id, p.keys[0]?.algorithm])).toEqual([['portal-hn', 'ed25519'], ['bank-7', 'ecdsa-p256-sha256'], ['telco', 'hmac-sha256']])
    expect(parties[2]?.keys[0]?.keyId).toBe('telco-20260301T100000Z')
    expect(parties[1]).toMatchObject({ resultDetail: 'overall-only', maxBatchItems: 1000, rate: { perSecond: 5, burst: 10, dailyQuota: 1000 } })
    // the secret stays in its own file; the registry names it relative to itself
    expect(readFileSync(file, 'utf8')).toContain('secretFile: operator.secret')
    expect(readFileSync(file, 'utf8')).not.toContain(op.secret.toString('hex'))
    expect(formatPartyList(partyList(file))).toMatch(/^id\s+name\s+status[\s\S]*telco/)
  })

  it('refuses a duplicate party, an unknown attribute, and both or neither key options', () => {
    expect(() => partyAdd({ file, id: 'portal-hn', name: 'x', publicKey: portal.file, attributes: ATTRS, rate: 1 })).toThrow(PartyCliError)
    expect(() => partyAdd({ file, id: 'x', name: 'x', publicKey: portal.file, keyId: 'x-1', attributes: ['salary'], rate: 1 })).toThrow(/allowedAttributes/)
    expect(() => partyAdd({ file, id: 'x', name: 'x', attributes: ATTRS, rate: 1 })).toThrow(/exactly one/)
    expect(loadPartyFile(file).parties).toHaveLength(3)
  })

  it('resolves keys for the verifier; requests of every party verify', () => {
    const reg = PartyRegistry.load(file)
    const v = new RequestVerifier({ resolveKey: reg.resolveKey, now: () => NOW_MS })
    expect(v.verify(input(signed({ ...portal.key, keyId: 'portal-1' })))).toMatchObject({ ok: true, partyId: 'portal-hn' })
    expect(v.verify(input(signed({ ...bank.key, keyId: 'bank-1' })))).toMatchObject({ ok: true, partyId: 'bank-7' })
    const hmac = makeKey('hmac-sha256', 'telco-20260301T100000Z')
    expect(v.verify(input(signed(hmac)))).toMatchObject({ ok: false, code: 'IDV_ERR_SIGNATURE_INVALID' }) // wrong secret
    const right = { ...hmac, key: createSecretKey(op.secret) }
    expect(v.verify(input(signed(right)))).toMatchObject({ ok: true, partyId: 'telco' })
    expect(v.verify(input(signed({ ...portal.key, keyId: 'nobody' })))).toMatchObject({ ok: false, code: 'IDV_ERR_UNKNOWN_KEY' })
  })

  it('rotate-key: the old key verifies inside the overlap and is refused after it', () => {
    const next = pemKey('ed25519', 'portal-next')
    partyRotateKey({ file, id: 'portal-hn', publicKey: next.file, keyId: 'portal-2', overlapSeconds: 3600, now: () => NOW_MS })
    const reg = PartyRegistry.load(file)
    const at = (ms: number): RequestVerifier => new RequestVerifier({ resolveKey: reg.resolveKey, now: () => ms })
    const oldKey = { ...portal.key, keyId: 'portal-1' }
    const newKey = { ...next.key, keyId: 'portal-2' }
    expect(at(NOW_MS + 1000).verify(input(signed(oldKey, { created: NOW_MS / 1000 + 1 })))).toMatchObject({ ok: true })
    expect(at(NOW_MS + 1000).verify(input(signed(newKey, { created: NOW_MS / 1000 + 1 })))).toMatchObject({ ok: true })
    const later = NOW_MS + 3600_000
    expect(at(later).verify(input(signed(oldKey, { created: later / 1000 })))).toMatchObject({ ok: false, code: 'IDV_ERR_KEY_EXPIRED' })
    expect(at(later).verify(input(signed(newKey, { created: later / 1000 })))).toMatchObject({ ok: true })
    expect(partyList(file)[0]?.keys).toContain('portal-1 (ed25519, until 2026-03-01T11:00:00.000Z)')
  })

  it('disable: a party signing correctly is refused (403); enable restores it', () => {
    partyDisable(file, 'bank-7')
    const reg = PartyRegistry.load(file)
    const v = new RequestVerifier({ resolveKey: reg.resolveKey, now: () => NOW_MS })
    expect(v.verify(input(signed({ ...bank.key, keyId: 'bank-1' })))).toMatchObject({ ok: false, code: 'IDV_ERR_PARTY_DISABLED' })
    expect(authorize(reg.get('bank-7') as NonNullable<ReturnType<typeof reg.get>>, { endpoint: '/v1/chip/verify' })).toMatchObject({ ok: false, code: 'IDV_ERR_PARTY_DISABLED' })
    partyEnable(file, 'bank-7')
    expect(reg.reload()).toEqual({ ok: true, parties: 3 })
    expect(v.verify(input(signed({ ...bank.key, keyId: 'bank-1' })))).toMatchObject({ ok: true })
    expect(() => partyDisable(file, 'nobody')).toThrow(/no party nobody/)
  })

  it('a broken file on reload keeps the previous registry and lists the problems', () => {
    const reg = PartyRegistry.load(file)
    const good = readFileSync(file, 'utf8')
    writeFileSync(file, good.replace('status: active', 'status: sleeping'))
    const r = reg.reload()
    expect(r).toMatchObject({ ok: false, problems: [expect.stringContaining('status')] })
    expect(reg.list()).toHaveLength(3)
    writeFileSync(file, good)
  })

  it('watch reloads when the CLI replaces the file', async () => {
    const reg = PartyRegistry.load(file)
    const generation = reg.generation
    const seen: unknown[] = []
    reg.watch((r) => seen.push(r), 20)
    try {
      partyDisable(file, 'telco')
      const deadline = Date.now() + 5000
      while (reg.get('telco')?.status !== 'disabled' && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20))
      expect(reg.get('telco')?.status).toBe('disabled')
      expect(reg.generation).toBeGreaterThan(generation)
    } finally {
      reg.close()
    }
  })
})

describe('HMAC secrets and the registry file (issue 18)', () => {
  const file = join(dir, 'issue18', 'data.parties.yaml')
  const hashKeyFile = join(dir, 'issue18', 'data.hash-key')
  const hashKey = randomBytes(32)
  mkdirSync(join(dir, 'issue18'), { recursive: true })
  writeFileSync(hashKeyFile, `${hashKey.toString('hex')}\n`, { mode: 0o600 })
  const add = (id: string, key: { hmacSecretFile?: string, hmac?: boolean }): ReturnType<typeof partyAdd> =>
    partyAdd({ file, id, name: id, attributes: ATTRS, rate: 1, hashKeyFile, keyId: `${id}-1`, ...key })

  it('refuses the index\'s hash key as a party\'s secret: the file itself, a copy, and the same key zero-padded', () => {
    const copy = join(dir, 'issue18', 'innocent.secret')
    writeFileSync(copy, hashKey.toString('hex').toUpperCase(), { mode: 0o600 })
    const padded = join(dir, 'issue18', 'padded.secret')
    writeFileSync(padded, `${hashKey.toString('hex')}00000000\n`, { mode: 0o600 })
    for (const secret of [hashKeyFile, copy, padded]) {
      expect(() => add('bank', { hmacSecretFile: secret })).toThrow(PartyCliError)
      expect(() => add('bank', { hmacSecretFile: secret })).toThrow(/hash key/)
    }
    expect(existsSync(file)).toBe(false) // nothing was written
    add('bank', { hmacSecretFile: secretFile('issue18-bank.secret').file })
    expect(partyList(file).map((r) => r.id)).toEqual(['bank'])
  })

  it('--hmac generates a secret beside the registry (0600, 64 hex), never overwriting, and it verifies requests', () => {
    const party = add('telco-a', { hmac: true })
    const secretPath = generatedSecretFile(file, 'telco-a')
    expect(secretPath).toBe(join(dir, 'issue18', 'data.parties.telco-a.hmac-secret'))
    expect(party.keys[0]).toMatchObject({ algorithm: 'hmac-sha256', secretFile: 'data.parties.telco-a.hmac-secret' })
    expect(statSync(secretPath).mode & 0o777).toBe(0o600)
    const text = readFileSync(secretPath, 'utf8')
    expect(text).toMatch(/^[0-9a-f]{64}\n$/)
    const reg = PartyRegistry.load(file)
    const v = new RequestVerifier({ resolveKey: reg.resolveKey, now: () => NOW_MS })
    const key = { ...makeKey('hmac-sha256', 'telco-a-1'), key: createSecretKey(Buffer.from(text.trim(), 'hex')) }
    expect(v.verify(input(signed(key)))).toMatchObject({ ok: true, partyId: 'telco-a' })
    reg.close()
    // A secret file already there is never overwritten, and the failed add leaves the registry alone.
    writeFileSync(generatedSecretFile(file, 'telco-b'), 'keep me', { mode: 0o600 })
    expect(() => add('telco-b', { hmac: true })).toThrow(/never overwritten/)
    expect(readFileSync(generatedSecretFile(file, 'telco-b'), 'utf8')).toBe('keep me')
    // An add that fails after generating removes the secret it made.
    expect(() => partyAdd({ file, id: 'telco-c', name: 'c', attributes: ['salary'], rate: 1, hmac: true })).toThrow(/allowedAttributes/)
    expect(existsSync(generatedSecretFile(file, 'telco-c'))).toBe(false)
    expect(() => add('telco-d', { hmac: true, hmacSecretFile: secretFile('issue18-d.secret').file })).toThrow(/exactly one/)
    expect(partyList(file).map((r) => r.id)).toEqual(['bank', 'telco-a'])
  })

  it('creates the registry 0600 and rewrites it 0600', () => {
    expect(statSync(file).mode & 0o777).toBe(0o600)
    chmodSync(file, 0o644)
    partyDisable(file, 'bank')
    expect(statSync(file).mode & 0o777).toBe(0o600)
  })
})

describe('validation', () => {
  it('lists every problem of a file at once, with its path', () => {
    const file = join(dir, 'bad.json')
    const world = secretFile('world-readable.secret', 0o644)
    writeFileSync(file, JSON.stringify({
      parties: [
        { id: 'a', name: '', status: 'on', keys: [], allowedEndpoints: ['/v2/x'], allowedAttributes: ['salary'], resultDetail: 'some', maxBatchItems: 0, rate: { perSecond: -1, burst: 1 }, extra: 1 },
        { id: 'a', name: 'dup', status: 'active', keys: [{ keyId: 'k', algorithm: 'hmac-sha256', secretFile: world.file }, { keyId: 'k', algorithm: 'ed25519', publicKeyPem: 'nope', notAfter: 'tomorrow' }], allowedEndpoints: [], allowedAttributes: [], resultDetail: 'overall-only', maxBatchItems: 1, rate: { perSecond: 1, burst: 1 } }
      ]
    }))
    let problems: readonly string[] = []
    try {
      loadPartyFile(file)
    } catch (err) {
      expect(err).toBeInstanceOf(PartyFileError)
      problems = (err as PartyFileError).problems
    }
    const expected = [
      'parties[0]: unknown field "extra"', 'parties[0].name', 'parties[0].status', 'parties[0].allowedEndpoints', 'parties[0].allowedAttributes',
      'parties[0].resultDetail', 'parties[0].maxBatchItems', 'parties[0].rate', 'parties[0].keys',
      'parties[1].id: duplicate', 'readable by group or others', 'parties[1].keys[1].keyId: duplicate', 'parties[1].keys[1].notAfter', 'not a PEM public key'
    ]
    for (const e of expected) expect(problems.some((p) => p.includes(e)), `${e} in\n${problems.join('\n')}`).toBe(true)
  })

  it('refuses a key whose type does not match its algorithm', () => {
    const file = join(dir, 'mismatch.yaml')
    const ec = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey.export({ type: 'spki', format: 'pem' }).toString()
    writeFileSync(file, `parties:\n  - id: p\n    name: P\n    status: active\n    keys:\n      - keyId: k\n        algorithm: ed25519\n        publicKeyPem: |\n${ec.trim().split('\n').map((l) => `          ${l}`).join('\n')}\n    allowedEndpoints: [/v1/verify]\n    allowedAttributes: [fullName]\n    resultDetail: per-attribute\n    maxBatchItems: 10\n    rate: { perSecond: 1, burst: 1 }\n`)
    expect(() => loadPartyFile(file)).toThrow(/is a ec key, not ed25519/)
  })

  it('addressMatching: reorganisation-aware by default, exact with --exact-addresses, anything else refused (issue 25)', () => {
    const file = join(dir, 'addresses.yaml')
    const aware = pemKey('ed25519', 'aware')
    const strict = pemKey('ed25519', 'strict')
    partyAdd({ file, id: 'aware', name: 'Aware', publicKey: aware.file, keyId: 'aware-1', attributes: ATTRS, rate: 1 })
    partyAdd({ file, id: 'strict', name: 'Strict', publicKey: strict.file, keyId: 'strict-1', attributes: ATTRS, rate: 1, exactAddresses: true })
    const parties = loadPartyFile(file).parties
    expect(parties.map((p) => p.addressMatching)).toEqual(['reorganisation-aware', 'exact'])
    expect(formatPartyList(partyList(file))).toContain('exact addresses')
    writeFileSync(file, readFileSync(file, 'utf8').replace('addressMatching: exact', 'addressMatching: fuzzy'))
    expect(() => loadPartyFile(file)).toThrow(/parties\[1\]\.addressMatching: "reorganisation-aware" or "exact"/)
  })
})

describe('policy', () => {
  const file = join(dir, 'policy.json')
  const k = pemKey('ed25519', 'policy')
  partyAdd({ file, id: 'shop', name: 'Shop', publicKey: k.file, keyId: 'shop-1', attributes: ['fullName'], endpoints: ['/v1/verify', '/v1/verify/batch'], rate: 1, maxBatchItems: 100, overallOnly: true })
  const party = PartyRegistry.load(file).get('shop') as NonNullable<ReturnType<PartyRegistry['get']>>

  it('refuses a forbidden endpoint, attribute and an over-size batch (403 codes)', () => {
    expect(authorize(party, { endpoint: '/v1/verify', attributes: ['fullName'] })).toEqual({ ok: true })
    expect(authorize(party, { endpoint: '/v1/chip/verify' })).toMatchObject({ ok: false, code: 'IDV_ERR_ENDPOINT_FORBIDDEN' })
    expect(authorize(party, { endpoint: '/v1/verify', attributes: ['fullName', 'dateOfBirth'] })).toMatchObject({ ok: false, code: 'IDV_ERR_ATTRIBUTE_FORBIDDEN', detail: expect.stringContaining('dateOfBirth') })
    expect(authorize(party, { endpoint: '/v1/verify/batch', batchItems: 101 })).toMatchObject({ ok: false, code: 'IDV_ERR_BATCH_TOO_LARGE' })
  })

  it('an overall-only party gets no per-attribute results', () => {
    const answer = { requestId: 'r1', match: false, citizen: 'active', attributes: { fullName: 'match', dateOfBirth: 'mismatch' } }
    expect(shapeAnswer(party, answer)).toEqual({ requestId: 'r1', match: false })
  })
})
