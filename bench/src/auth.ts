/**
 * Cost of relying-party authentication and signed answers, one thread, in
 * process, beside raw baselines measured in the same run:
 *  - raw crypto.verify Ed25519 over a signature-base-sized message;
 *  - our full request verification (parse both headers, coverage and window,
 *    key lookup, Content-Digest over a ~100-byte body, signature base,
 *    signature, shared nonce memory) for ed25519, ecdsa-p256-sha256 and
 *    hmac-sha256; every request carries its own nonce, as in production;
 *  - the shared-memory nonce insert and rate-limit take alone, and the same in
 *    cluster mode (LMDB state shared by processes, src/admission/cluster-state.ts);
 *  - receipt signing cost per answer when 1, 10, 100 or 1000 answers share a turn.
 *
 * The machine is shared and noisy, so the cases are measured in interleaved
 * slices (every case runs one slice per round, ROUNDS rounds) and each row
 * shows the median slice rate; ratios between rows of one run are what to compare.
 *
 * Usage (after `npm run build`): node bench/dist/auth.js [--rounds N] [--slice-ms N]
 */
import { generateKeyPairSync, createSecretKey, randomBytes, sign, verify, type KeyObject } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { RequestVerifier, type SignatureAlgorithm } from '../../dist/src/signatures/message-signature.js'
import { ClusterState } from '../../dist/src/admission/cluster-state.js'
import { RateLimiter } from '../../dist/src/admission/rate-limiter.js'
import { ReplayGuard } from '../../dist/src/admission/replay-guard.js'
import { signRequest } from '../../dist/src/signatures/request-signer.js'
import { ReceiptKeyRing } from '../../dist/src/receipts/keys.js'
import { ReceiptSigner, type ReceiptLeaf } from '../../dist/src/receipts/receipt.js'

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '9' }, 'slice-ms': { type: 'string', default: '80' } } })
const ROUNDS = Number(values.rounds)
const SLICE_MS = Number(values['slice-ms'])

interface Case {
  readonly name: string
  readonly note: string
  /** Operations per call (answers per receipt turn). */
  readonly per?: number
  readonly run: (i: number) => void | Promise<void>
  next: number
  readonly rates: number[]
}
const cases: Case[] = []
function add (name: string, note: string, run: Case['run'], per = 1): void {
  cases.push({ name, note, run, per, next: 0, rates: [] })
}

const BODY = Buffer.from('{"pin":"001099012345","attributes":{"fullName":"Nguyễn Văn An","dateOfBirth":"1999-01-02"}}')
const NOW = Date.now()

function keysFor (algorithm: SignatureAlgorithm): { signing: KeyObject, verifying: KeyObject } {
  if (algorithm === 'hmac-sha256') {
    const k = createSecretKey(randomBytes(32))
    return { signing: k, verifying: k }
  }
  const pair = algorithm === 'ed25519' ? generateKeyPairSync('ed25519') : generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
  return { signing: pair.privateKey, verifying: pair.publicKey }
}

{
  // Raw baseline over a message as long as a typical signature base.
  const { privateKey, publicKey } = generateKeyPairSync('ed25519')
  const base = Buffer.alloc(330, 'x')
  const sig = sign(null, base, privateKey)
  add('raw crypto.verify ed25519', 'baseline', () => { verify(null, base, publicKey, sig) })
  add('raw crypto.sign ed25519', 'one per receipt turn', () => { sign(null, base, privateKey) })
}

for (const algorithm of ['ed25519', 'ecdsa-p256-sha256', 'hmac-sha256'] as const) {
  const { signing, verifying } = keysFor(algorithm)
  const keyId = `bench-${algorithm}`
  // Pre-signed requests with distinct nonces, so signing is not measured. When the
  // index wraps, the party id changes (nonces are remembered per party), so no request is a replay.
  const count = 4000
  const requests = Array.from({ length: count }, (_, i) => {
    const headers = signRequest({ method: 'POST', path: '/v1/verify', authority: 'idv.example.vn', headers: { 'content-type': 'application/json' }, body: BODY },
      { keyId, algorithm, key: signing }, { created: Math.floor(NOW / 1000), nonce: `n${i}-${randomBytes(8).toString('hex')}` })
    return { method: 'POST', path: '/v1/verify', authority: 'idv.example.vn', headers: (name: string) => headers[name], body: BODY }
  })
  let generation = 0
  const verifier = new RequestVerifier({
    resolveKey: (id) => ({ ok: true, key: { keyId: id, partyId: `bench-${generation}`, algorithm, key: verifying, partyActive: true } }),
    nonces: ReplayGuard.create({ slots: 1 << 20 }),
    now: () => NOW
  })
  add(`request verification ${algorithm}`, 'headers, digest, base, signature, nonce', (i) => {
    generation = Math.floor(i / count)
    if (!verifier.verify(requests[i % count] as (typeof requests)[number]).ok) throw new Error(`${algorithm} verification failed`)
  })
}

{
  const guard = ReplayGuard.create({ slots: 1 << 22 })
  const nowSec = Math.floor(NOW / 1000)
  add('nonce memory insert (SAB)', 'incl. SHA-256 of party and nonce', (i) => { guard.remember('bench', `nonce-${i}`, nowSec + 61, nowSec) })
  const limiter = RateLimiter.create()
  const limits = { perSecond: 1e9, burst: 1e9, dailyQuota: 1e15 }
  add('rate-limit take (SAB)', 'token bucket + daily quota', () => { limiter.consume('bench', limits) })
}

const stateDir = mkdtempSync(join(tmpdir(), 'idv-bench-auth-'))
{
  const state = ClusterState.open(join(stateDir, 'state'), { slots: 1 << 22 })
  const nowSec = Math.floor(NOW / 1000)
  add('nonce memory insert (cluster)', 'one LMDB write transaction', (i) => { state.remember('bench', `nonce-${i}`, nowSec + 61, nowSec) })
  const limits = { perSecond: 1e9, burst: 1e9, dailyQuota: 1e15 }
  add('rate-limit take (cluster)', 'one LMDB write transaction', () => { state.consume('bench', limits) })
  add('nonce + rate take (cluster)', 'one LMDB write transaction, as the gate does', (i) => { state.rememberAndConsume('bench', `both-${i}`, nowSec + 61, limits) })
}

const ring = ReceiptKeyRing.generate()
const leaf = (i: number): ReceiptLeaf => ({
  requestId: `01J${i.toString(36).padStart(10, '0')}`,
  partyId: 'portal-hn',
  time: new Date(NOW + i).toISOString(),
  pinHash: randomBytes(16).toString('base64url'),
  attributes: ['fullName', 'dateOfBirth'],
  results: { match: true, citizen: 'active', attributes: { fullName: 'match', dateOfBirth: 'match' } }
})
for (const batch of [1, 10, 100, 1000]) {
  const signer = new ReceiptSigner({ keys: ring, maxBatch: batch })
  const leaves = Array.from({ length: batch }, (_, i) => leaf(i))
  add(`receipt per answer, ${batch} per turn`, 'leaf encoding, tree, proofs, 1 JWS per turn', async () => {
    await Promise.all(leaves.map(async (l) => await signer.sign(l)))
  }, batch)
}

async function slice (c: Case): Promise<void> {
  const start = performance.now()
  let ops = 0
  while (performance.now() - start < SLICE_MS) {
    const r = c.run(c.next++)
    if (r !== undefined) await r
    ops += c.per ?? 1
  }
  c.rates.push(ops / ((performance.now() - start) / 1000))
}

for (const c of cases) await slice(c) // warm-up round, not recorded
for (const c of cases) c.rates.length = 0
for (let round = 0; round < ROUNDS; round++) for (const c of cases) await slice(c)

const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)] ?? 0 }
const rate = (name: string): number => median(cases.find((c) => c.name === name)?.rates ?? [])
const width = Math.max(...cases.map((c) => c.name.length))
console.log(`Node ${process.version}, one thread, ${ROUNDS} interleaved rounds of ${SLICE_MS} ms slices; median rate per row\n`)
console.log(`${'measurement'.padEnd(width)}  ${'ops/s'.padStart(10)}  ${'µs/op'.padStart(8)}  note`)
for (const c of cases) {
  const r = median(c.rates)
  console.log(`${c.name.padEnd(width)}  ${Math.round(r).toLocaleString('en-US').padStart(10)}  ${(1e6 / r).toFixed(2).padStart(8)}  ${c.note}`)
}
rmSync(stateDir, { recursive: true, force: true })
const clusterUs = 1e6 / rate('nonce + rate take (cluster)') - 1e6 / rate('nonce memory insert (SAB)') - 1e6 / rate('rate-limit take (SAB)')
console.log(`\nCluster mode adds ${clusterUs.toFixed(1)} µs per signed request (nonce + rate in one LMDB transaction instead of SharedArrayBuffers), uncontended: ${(100 * clusterUs * rate('request verification hmac-sha256') / 1e6).toFixed(0)}% of an HMAC request verification, ${(100 * clusterUs * rate('request verification ed25519') / 1e6).toFixed(0)}% of an Ed25519 one.`)
console.log(`\nEd25519 request verification at ${(100 * rate('request verification ed25519') / rate('raw crypto.verify ed25519')).toFixed(1)}% of the raw verify rate (issue 4 target: ≥ 80% on the cores used).`)
