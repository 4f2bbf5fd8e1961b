/**
 * Signed answers: one signature per event-loop turn, every receipt of a batch
 * verifies on its own, any changed character of leaf, path or signed root
 * fails, retired keys still verify through the JWKS, and the offline command.
 */
import { webcrypto } from 'node:crypto'
import { statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { tempDir } from '../helpers/temp.js'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { canonicalJson } from '../../src/receipts/canonical-json.js'
import { ReceiptKeyRing } from '../../src/receipts/keys.js'
import { encodeLeaf, receiptJson, receiptLeafHash, ReceiptSigner, resultsDigest, verifyReceipt, type Receipt, type ReceiptLeaf } from '../../src/receipts/receipt.js'
import { receiptVerifyCommand } from '../../src/receipts/receipt-cli.js'

const dir = tempDir('idv-receipts')

const T0 = Date.UTC(2026, 2, 1, 10, 0, 0)

function leaf (i: number): ReceiptLeaf {
  return {
    requestId: `req-${i}`,
    partyId: 'portal-hn',
    time: new Date(T0 + i).toISOString(),
    pinHash: Buffer.alloc(16, i).toString('base64url'),
    attributes: ['fullName', 'dateOfBirth'],
    results: { match: i % 3 !== 0, citizen: 'active', attributes: { fullName: 'match', dateOfBirth: i % 3 === 0 ? 'mismatch' : 'match' } }
  }
}

async function signBatch (signer: ReceiptSigner, n: number, from = 0): Promise<Receipt[]> {
  return await Promise.all(Array.from({ length: n }, async (_, i) => await signer.sign(leaf(from + i))))
}

/** Every base64url/JSON-safe replacement of the character at i (a different valid character). */
function changeAt (s: string, i: number): string {
  const c = s[i] as string
  const r = c === 'A' ? 'B' : c === '"' ? '\'' : 'A'
  return s.slice(0, i) + r + s.slice(i + 1)
}

describe('canonical leaves', () => {
  it('sort members by UTF-16 code units, without whitespace, and refuse what JSON cannot hold', () => {
    expect(canonicalJson({ b: 1, a: [true, null, 'x'], é: { z: 0.5, y: -0 }, A: 'Nguyễn' })).toBe('{"A":"Nguyễn","a":[true,null,"x"],"b":1,"é":{"y":0,"z":0.5}}')
    expect(() => canonicalJson({ a: Number.NaN })).toThrow(TypeError)
    expect(() => canonicalJson([undefined])).toThrow(TypeError)
    expect(() => canonicalJson({ d: new Date(0) })).toThrow(TypeError)
    // Strings are written as JSON.stringify writes them, escapes included, in values and in keys.
    for (const s of ['', 'plain', 'say "hi"', 'back\\slash', 'tab\there', '\u0000\u001f', 'Nguyễn 🇻🇳', 'lone \ud800 surrogate', '\udfff']) {
      expect(canonicalJson(s)).toBe(JSON.stringify(s))
      expect(canonicalJson({ [s]: s })).toBe(`{${JSON.stringify(s)}:${JSON.stringify(s)}}`)
    }
    expect(canonicalJson({})).toBe('{}')
    expect(canonicalJson({ gone: undefined })).toBe('{}')
    expect(canonicalJson({ b: undefined, a: false })).toBe('{"a":false}')
    expect(encodeLeaf(leaf(1))).toMatch(/^\{"attributes":\["fullName","dateOfBirth"\],"partyId":"portal-hn","pinHash":"[^"]+","requestId":"req-1","results":\{.*\},"time":"2026-03-01T10:00:00.001Z","v":1\}$/)
  })
})

describe('ReceiptSigner', () => {
  const ring = ReceiptKeyRing.generate(T0, 'k1')

  it('with callbacks, an answer whose callback throws fails alone; the rest of its batch is answered', () => {
    const signer = new ReceiptSigner({ keys: ring, now: () => T0 })
    const got: Array<Receipt | Error> = []
    for (let i = 0; i < 3; i++) {
      signer.add(encodeLeaf(leaf(i)), (r) => {
        if (i === 1) throw new Error('cannot encode')
        got[i] = r
      }, (e) => { got[i] = e })
    }
    signer.flush()
    expect((got[1] as Error).message).toBe('cannot encode')
    for (const i of [0, 2]) expect(verifyReceipt(got[i], ring.jwks()).ok).toBe(true)
  })

  it('writes receipts as JSON.stringify would, for a lone answer (empty path) and a batch', async () => {
    const signer = new ReceiptSigner({ keys: ring, now: () => T0 })
    for (const n of [1, 7]) {
      for (const r of await signBatch(signer, n)) expect(receiptJson(r)).toBe(JSON.stringify(r))
    }
  })

  it('signs the answers of one turn under one root, and each receipt verifies alone', async () => {
    const signer = new ReceiptSigner({ keys: ring, now: () => T0 })
    const receipts = await signBatch(signer, 25)
    expect(signer.stats).toEqual({ batches: 1, leaves: 25 })
    expect(new Set(receipts.map((r) => r.signedRoot)).size).toBe(1)
    receipts.forEach((r, i) => {
      expect(r.index).toBe(i)
      expect(verifyReceipt(r, ring.jwks())).toMatchObject({ ok: true, kid: 'k1', size: 25, index: i, time: new Date(T0).toISOString(), leaf: { requestId: `req-${i}` } })
    })
    // a later turn gets its own root
    const [next] = await signBatch(signer, 1)
    expect(signer.stats.batches).toBe(2)
    expect(verifyReceipt(next, ring.jwks())).toMatchObject({ ok: true, size: 1 })
  })

  it('every batch size 1..40 verifies (non-power-of-two shapes)', async () => {
    const signer = new ReceiptSigner({ keys: ring })
    for (let n = 1; n <= 40; n++) {
      const receipts = await signBatch(signer, n)
      for (const r of receipts) expect(verifyReceipt(r, ring.jwks()).ok, `size ${n} index ${r.index}`).toBe(true)
    }
    expect(signer.stats.batches).toBe(40)
  })

  it('flushes at maxBatch without waiting for the turn to end', async () => {
    const signer = new ReceiptSigner({ keys: ring, maxBatch: 8 })
    const receipts = await signBatch(signer, 20)
    expect(signer.stats).toEqual({ batches: 3, leaves: 20 })
    expect(receipts.map((r) => r.index)).toEqual([...Array(8).keys(), ...Array(8).keys(), 0, 1, 2, 3])
    for (const r of receipts) expect(verifyReceipt(r, ring.jwks()).ok).toBe(true)
  })

  it('changing any character of the leaf, a path hash or the signed root fails', async () => {
    const signer = new ReceiptSigner({ keys: ring })
    const receipts = await signBatch(signer, 5)
    const r = receipts[2] as Receipt
    const jwks = ring.jwks()
    for (let i = 0; i < r.leaf.length; i++) expect(verifyReceipt({ ...r, leaf: changeAt(r.leaf, i) }, jwks).ok, `leaf char ${i}`).toBe(false)
    r.path.forEach((p, j) => {
      for (let i = 0; i < p.length; i++) {
        const path = [...r.path]
        path[j] = changeAt(p, i)
        expect(verifyReceipt({ ...r, path }, jwks).ok, `path ${j} char ${i}`).toBe(false)
      }
    })
    for (let i = 0; i < r.signedRoot.length; i++) {
      if (r.signedRoot[i] === '.') continue
      expect(verifyReceipt({ ...r, signedRoot: changeAt(r.signedRoot, i) }, jwks).ok, `jws char ${i}`).toBe(false)
    }
    expect(verifyReceipt({ ...r, index: 3 }, jwks).ok).toBe(false)
    expect(verifyReceipt({ ...r, path: r.path.slice(1) }, jwks).ok).toBe(false)
    // another batch's root does not fit this leaf
    const other = (await signBatch(signer, 5, 100))[2] as Receipt
    expect(verifyReceipt({ ...r, signedRoot: other.signedRoot }, jwks).ok).toBe(false)
  })

  it('never throws on garbage', () => {
    const jwks = ring.jwks()
    for (const g of [null, 1, 'x', [], {}, { v: 1 }, { v: 1, leaf: 'x', index: 0, path: 'x', signedRoot: 'a.b.c' },
      { v: 1, leaf: 'x', index: 0, path: [], signedRoot: 'e30.e30.' }, { v: 1, leaf: 'x', index: 1e300, path: [1], signedRoot: 5 }]) {
      expect(verifyReceipt(g, jwks).ok).toBe(false)
      expect(verifyReceipt({ v: 1, leaf: 'x', index: 0, path: [], signedRoot: 'a.b.c' }, g).ok).toBe(false)
    }
  })
})

describe('keys', () => {
  it('a receipt signed before a rotation verifies with the JWKS published after it, not without the retired key', async () => {
    const ring = ReceiptKeyRing.generate(T0, 'old')
    const signer = new ReceiptSigner({ keys: ring })
    const [before] = await signBatch(signer, 1)
    ring.rotate(T0 + 1000, 'new')
    const [after] = await signBatch(signer, 1)
    const jwks = ring.jwks()
    expect(jwks.keys.map((k) => k.kid)).toEqual(['new', 'old'])
    expect(verifyReceipt(before, jwks)).toMatchObject({ ok: true, kid: 'old' })
    expect(verifyReceipt(after, jwks)).toMatchObject({ ok: true, kid: 'new' })
    expect(verifyReceipt(before, { keys: jwks.keys.filter((k) => k.kid !== 'old') })).toMatchObject({ ok: false, reason: 'no key old in the JWKS' })
    // a key under the wrong kid does not verify
    expect(verifyReceipt(before, { keys: [{ ...jwks.keys[0], kid: 'old' }] }).ok).toBe(false)
  })

  it('the JWS verifies with WebCrypto from the published JWK (an independent path)', async () => {
    const ring = ReceiptKeyRing.generate(T0, 'wc')
    const [r] = await signBatch(new ReceiptSigner({ keys: ring }), 3)
    const [h, p, s] = (r as Receipt).signedRoot.split('.') as [string, string, string]
    expect(JSON.parse(Buffer.from(h, 'base64url').toString())).toEqual({ alg: 'EdDSA', kid: 'wc', typ: 'idv-receipt-root' })
    const key = await webcrypto.subtle.importKey('jwk', { ...ring.jwks().keys[0] } as webcrypto.JsonWebKey, { name: 'Ed25519' }, false, ['verify'])
    expect(await webcrypto.subtle.verify({ name: 'Ed25519' }, key, Buffer.from(s, 'base64url'), Buffer.from(`${h}.${p}`))).toBe(true)
  })

  it('saves with mode 0600 and loads back, retired keys included', () => {
    const file = join(dir, 'receipt-keys.json')
    const ring = ReceiptKeyRing.loadOrCreate(file, T0)
    ring.rotate(T0 + 1)
    ring.save(file)
    expect(statSync(file).mode & 0o777).toBe(0o600)
    expect(ReceiptKeyRing.load(file).jwks()).toEqual(ring.jwks())
    expect(ReceiptKeyRing.loadOrCreate(file).current.kid).toBe(ring.current.kid)
  })
})

describe('idv receipt verify', () => {
  it('verifies a saved answer offline and refuses a changed one', async () => {
    const ring = ReceiptKeyRing.generate(T0, 'cli')
    const [receipt] = await signBatch(new ReceiptSigner({ keys: ring }), 4)
    // The answer as the service sends it: its results (what the leaf commits to), requestId and receipt.
    const answer = { requestId: 'req-0', ...leaf(0).results as object, receipt }
    const file = join(dir, 'answer.json')
    const jwksFile = join(dir, 'keys.json')
    writeFileSync(file, JSON.stringify(answer))
    writeFileSync(jwksFile, JSON.stringify(ring.jwks()))
    expect(receiptVerifyCommand({ file, jwksFile })).toMatchObject({ ok: true, exitCode: 0, message: expect.stringContaining('leaf 1 of 4 under a root signed by cli') })
    expect(receiptVerifyCommand({ file, defaultJwks: () => ring.jwks() })).toMatchObject({ exitCode: 0 })
    expect(receiptVerifyCommand({ file })).toMatchObject({ exitCode: 2 })

    writeFileSync(file, JSON.stringify(answer).replace('"match\\":false', '"match\\":true'))
    expect(receiptVerifyCommand({ file, jwksFile })).toMatchObject({ ok: false, exitCode: 1 })
    writeFileSync(file, JSON.stringify({ ...answer, requestId: 'req-9' }))
    expect(receiptVerifyCommand({ file, jwksFile })).toMatchObject({ ok: false, exitCode: 1, message: expect.stringContaining('requestId') })
    writeFileSync(file, JSON.stringify(receipt))
    expect(receiptVerifyCommand({ file, jwksFile })).toMatchObject({ ok: true })
    writeFileSync(file, '{not json')
    expect(receiptVerifyCommand({ file, jwksFile })).toMatchObject({ exitCode: 2 })
  })

  it('compares every field the party sees with the leaf: an edited or made-up answer is NOT VERIFIED, naming the field', async () => {
    const ring = ReceiptKeyRing.generate(T0, 'cli')
    const receipts = await signBatch(new ReceiptSigner({ keys: ring }), 3)
    const jwksFile = join(dir, 'keys-fields.json')
    writeFileSync(jwksFile, JSON.stringify(ring.jwks()))
    const file = join(dir, 'edited.json')
    const check = (doc: unknown): ReturnType<typeof receiptVerifyCommand> => { writeFileSync(file, JSON.stringify(doc)); return receiptVerifyCommand({ file, jwksFile }) }
    const genuine: Record<string, unknown> = { requestId: 'req-0', ...leaf(0).results as Record<string, unknown>, receipt: receipts[0] }
    expect(check(genuine)).toMatchObject({ ok: true, exitCode: 0 })
    // The same answer with its fields in another order and whitespace is still the answer signed.
    writeFileSync(file, JSON.stringify({ receipt: receipts[0], attributes: { dateOfBirth: 'mismatch', fullName: 'match' }, citizen: 'active', match: false, requestId: 'req-0' }, null, 2))
    expect(receiptVerifyCommand({ file, jwksFile })).toMatchObject({ ok: true })

    expect(check({ ...genuine, match: true })).toMatchObject({ exitCode: 1, message: 'NOT VERIFIED: match is true in the answer but false in the receipt' })
    expect(check({ ...genuine, attributes: { fullName: 'match', dateOfBirth: 'match' } })).toMatchObject({ exitCode: 1, message: expect.stringContaining('attributes.dateOfBirth is "match" in the answer but "mismatch"') })
    expect(check({ ...genuine, citizen: 'inactive' })).toMatchObject({ exitCode: 1, message: expect.stringContaining('citizen') })
    expect(check({ ...genuine, extra: 'added' })).toMatchObject({ exitCode: 1, message: expect.stringContaining('extra is "added" in the answer but absent') })
    const { citizen: _, ...withoutCitizen } = genuine
    expect(check(withoutCitizen)).toMatchObject({ exitCode: 1, message: expect.stringContaining('citizen is absent in the answer') })
    // A made-up answer reusing another answer's receipt: right requestId, other results.
    expect(check({ requestId: 'req-1', ...leaf(0).results as object, receipt: receipts[1] })).toMatchObject({ exitCode: 1 })
    expect(check({ requestId: 'req-1', ...leaf(1).results as object, receipt: receipts[1] })).toMatchObject({ exitCode: 0 })
  })

  it('checks a batch answer\'s results against the digest its leaf commits to', async () => {
    const ring = ReceiptKeyRing.generate(T0, 'cli')
    const results = [{ match: true, citizen: 'active', attributes: { fullName: 'match' } }, { error: { code: 'IDV_ERR_INVALID_PIN' } }]
    const batchLeaf = { ...leaf(0), results: { items: 2, sha256: resultsDigest(results) } }
    const receipt = await new ReceiptSigner({ keys: ring }).sign(batchLeaf)
    const jwksFile = join(dir, 'keys-batch.json')
    writeFileSync(jwksFile, JSON.stringify(ring.jwks()))
    const file = join(dir, 'batch.json')
    const check = (doc: unknown): ReturnType<typeof receiptVerifyCommand> => { writeFileSync(file, JSON.stringify(doc)); return receiptVerifyCommand({ file, jwksFile }) }
    expect(check({ requestId: 'req-0', results, receipt })).toMatchObject({ exitCode: 0 })
    expect(check({ requestId: 'req-0', results: [{ ...results[0], match: false }, results[1]], receipt })).toMatchObject({ exitCode: 1, message: expect.stringContaining('SHA-256') })
    expect(check({ requestId: 'req-0', results: [results[0]], receipt })).toMatchObject({ exitCode: 1, message: expect.stringContaining('1 results, the receipt 2') })
    expect(check({ requestId: 'req-0', results, note: 'x', receipt })).toMatchObject({ exitCode: 1, message: expect.stringContaining('note') })
  })
})

describe('the leaf written by concatenation (issue 24)', () => {
  const text = fc.string({ unit: 'binary', maxLength: 12 })
  const json: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
    value: fc.oneof({ depthSize: 'small' }, fc.constant(null), fc.boolean(), fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }), text,
      fc.array(tie('value'), { maxLength: 3 }), fc.dictionary(text, tie('value'), { maxKeys: 4, noNullPrototype: true }))
  })).value
  it('is exactly canonicalJson({ v: 1, ...leaf }) for any strings and results', () => {
    fc.assert(fc.property(text, text, text, text, fc.array(text, { maxLength: 4 }), json, (requestId, partyId, time, pinHash, attributes, results) => {
      const leaf = { requestId, partyId, time, pinHash, attributes, results } as ReceiptLeaf
      expect(encodeLeaf(leaf)).toBe(canonicalJson({ v: 1, ...leaf }))
    }), { numRuns: 2000 })
  })

  it('keeps the leaf hash its batch computed, equal to hashing the leaf again', async () => {
    const keys = ReceiptKeyRing.generate()
    const signer = new ReceiptSigner({ keys })
    const receipt = await signer.sign({ requestId: 'r', partyId: 'p', time: '2026-01-01T00:00:00.000Z', pinHash: 'h', attributes: [], results: { match: true } })
    const copy: Receipt = { ...receipt }
    expect(receiptLeafHash(receipt)).toBe(receiptLeafHash(copy)) // the copy is hashed afresh
  })
})
