/**
 * Signed requests and signed answers over HTTP (issue 4), one server thread,
 * measured in the same run:
 *  - unsigned POST /v1/verify (IDV_AUTH=none): the baseline;
 *  - HMAC-SHA-256-signed requests with signed answers (receipts), and without;
 *  - Ed25519-signed requests with signed answers, and without;
 *  - a raw crypto.verify Ed25519 loop on one thread (the server's one core).
 * Targets: HMAC + receipts ≥ 70% of unsigned; Ed25519 + receipts ≥ 80% of the
 * raw Ed25519 verify rate; receipts cost ≤ 10% of throughput at full load.
 *
 * Every request carries its own nonce, as in production: requests are signed
 * before each measurement (the load generator then only sends them), each is
 * sent once, and a replayed one would show up as a non-2xx.
 *
 * Usage: npm run bench:signed -- [--citizens N] [--duration S] [--connections C]
 */
import { createSecretKey, generateKeyPairSync, randomBytes, sign, verify } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import autocannon from 'autocannon'
import type { SignatureAlgorithm } from '../src/auth/message-signature.js'
import { partyAdd } from '../src/auth/party-cli.js'
import { signRequest, type SigningKey } from '../src/auth/request-signer.js'
import { ATTRIBUTES } from '../src/domain/record.js'
import { packageRoot } from '../src/paths.js'
import { ReceiptKeyRing } from '../src/receipts/keys.js'
import { startChild, type Started } from './lib/child.js'
import { ensureDataset, sampleCitizens } from './lib/dataset.js'

const { values } = parseArgs({
  options: {
    citizens: { type: 'string', default: '1000000' },
    duration: { type: 'string', default: '8' },
    warmup: { type: 'string', default: '2' },
    connections: { type: 'string', default: '100' }
  }
})
const citizens = Number(values.citizens)
const duration = Number(values.duration)
const warmup = Number(values.warmup)
const connections = Number(values.connections)
const root = packageRoot()
const dir = mkdtempSync(join(tmpdir(), 'idv-bench-signed-'))
const partiesFile = join(dir, 'parties.yaml')
const receiptKeyFile = join(dir, 'receipt-keys.json')

function party (id: string, algorithm: SignatureAlgorithm): SigningKey {
  const keyId = `${id}-1`
  const file = join(dir, `${id}.key`)
  if (algorithm === 'hmac-sha256') {
    const secret = randomBytes(32)
    writeFileSync(file, secret.toString('hex'), { mode: 0o600 })
    partyAdd({ file: partiesFile, id, name: id, attributes: ATTRIBUTES, rate: 1e7, burst: 1e7, keyId, hmacSecretFile: file })
    return { keyId, algorithm, key: createSecretKey(secret) }
  }
  const pair = generateKeyPairSync('ed25519')
  writeFileSync(file, pair.publicKey.export({ type: 'spki', format: 'pem' }))
  partyAdd({ file: partiesFile, id, name: id, attributes: ATTRIBUTES, rate: 1e7, burst: 1e7, keyId, publicKey: file })
  return { keyId, algorithm, key: pair.privateKey }
}

const hmac = party('bench-hmac', 'hmac-sha256')
const ed = party('bench-ed', 'ed25519')
ReceiptKeyRing.loadOrCreate(receiptKeyFile)

const bodies = sampleCitizens(Math.min(citizens, 5000)).map((c) =>
  Buffer.from(JSON.stringify({ pin: c.pin, attributes: { fullName: c.fullName, dateOfBirth: c.dateOfBirth, gender: c.gender } })))

/** `count` requests, each signed with a fresh nonce. */
function presign (key: SigningKey, count: number, authority: string): Array<{ headers: Record<string, string>, body: Buffer }> {
  const out = new Array<{ headers: Record<string, string>, body: Buffer }>(count)
  for (let i = 0; i < count; i++) {
    const body = bodies[i % bodies.length]!
    out[i] = { body, headers: signRequest({ method: 'POST', path: '/v1/verify', authority, scheme: 'http', headers: { 'content-type': 'application/json' }, body }, key) }
  }
  return out
}

interface Figures { rps: number, p50: number, p99: number, non2xx: number, errors: number, sent: number, presigned: number }

async function load (url: string, key: SigningKey | undefined, seconds: number, expectedRps: number): Promise<Figures> {
  const authority = new URL(url).host
  // Enough fresh requests for the run at up to 1.5× the expected rate; unsigned requests need none.
  const pool = key === undefined ? [] : presign(key, Math.ceil(seconds * expectedRps * 1.5), authority)
  let next = 0
  const request: autocannon.Request = key === undefined
    ? { method: 'POST', path: '/v1/verify', headers: { 'content-type': 'application/json' }, setupRequest: (req) => ({ ...req, body: bodies[next++ % bodies.length]! }) }
    : {
        method: 'POST',
        path: '/v1/verify',
        setupRequest: (req) => {
          const r = pool[next++ % pool.length]!
          return { ...req, headers: r.headers, body: r.body }
        }
      }
  const r = await autocannon({ url, connections, duration: seconds, pipelining: 1, requests: [request] })
  return { rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, non2xx: r.non2xx, errors: r.errors, sent: next, presigned: pool.length }
}

async function serve (env: NodeJS.ProcessEnv): Promise<{ server: Started, url: string }> {
  const dataset = await ensureDataset('lmdb', citizens)
  const server = await startChild(
    [join(root, 'dist', 'src', 'cli.js'), 'serve', '--data-dir', dataset.dataDir, '--hash-key-file', dataset.hashKeyFile, '--port', '0', '--parties-file', partiesFile],
    /"url":"([^"]+)"/, { IDV_LOG_LEVEL: 'info', IDV_RECEIPT_KEY_FILE: receiptKeyFile, ...env }
  )
  return { server, url: server.match[1]! }
}

/** Measures each case on a server started with `env`. */
async function onServer (env: NodeJS.ProcessEnv, cases: Array<[string, SigningKey | undefined, number]>): Promise<Record<string, Figures>> {
  const { server, url } = await serve(env)
  const out: Record<string, Figures> = {}
  try {
    for (const [name, key, expected] of cases) {
      await load(url, key, warmup, expected)
      out[name] = await load(url, key, duration, expected)
    }
  } finally {
    await server.stop()
  }
  return out
}

/** Raw Ed25519 verifications per second on this thread, over a signature-base-sized message. */
function rawEd25519 (seconds: number): number {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519')
  const data = Buffer.from(`"@method": POST\n"@authority": 127.0.0.1:8080\n"@path": /v1/verify\n"content-digest": sha-256=:${randomBytes(32).toString('base64')}:\n"@signature-params": ("@method" "@authority" "@path" "content-digest");created=1700000000;keyid="bench-ed-1";nonce="abcdefghijklmnopqrstuv";alg="ed25519"`)
  const signature = sign(null, data, privateKey)
  const end = performance.now() + seconds * 1000
  let n = 0
  while (performance.now() < end) { for (let i = 0; i < 50; i++) verify(null, data, publicKey, signature); n += 50 }
  return n / seconds
}

try {
  const unsigned = await onServer({ IDV_AUTH: 'none' }, [['unsigned', undefined, 0]])
  const withReceipts = await onServer({}, [['hmac + receipts', hmac, 20_000], ['ed25519 + receipts', ed, 12_000]])
  const withoutReceipts = await onServer({ IDV_RECEIPTS: 'off' }, [['hmac, no receipts', hmac, 20_000], ['ed25519, no receipts', ed, 12_000]])
  const raw = rawEd25519(duration / 2)
  const all = { ...unsigned, ...withReceipts, ...withoutReceipts }
  console.log(`\nPOST /v1/verify over ${citizens.toLocaleString('en')} citizens, ${connections} connections, ${duration} s, 1 server thread`)
  for (const [name, f] of Object.entries(all)) {
    console.log(`  ${name.padEnd(22)} ${Math.round(f.rps).toString().padStart(7)} req/s  p50 ${f.p50} ms  p99 ${f.p99} ms  non-2xx ${f.non2xx}  errors ${f.errors}${f.presigned > 0 && f.sent > f.presigned ? '  (pre-signed pool wrapped: replays refused)' : ''}`)
  }
  console.log(`  raw Ed25519 verify     ${Math.round(raw).toString().padStart(7)} /s (one thread)`)
  const pct = (x: number): string => `${(x * 100).toFixed(1)}%`
  const hmacRatio = all['hmac + receipts']!.rps / all.unsigned!.rps
  const edRatio = all['ed25519 + receipts']!.rps / raw
  const receiptCostHmac = 1 - all['hmac + receipts']!.rps / all['hmac, no receipts']!.rps
  const receiptCostEd = 1 - all['ed25519 + receipts']!.rps / all['ed25519, no receipts']!.rps
  console.log(`  HMAC-signed + receipts / unsigned:       ${pct(hmacRatio)} (target ≥ 70%)`)
  console.log(`  Ed25519-signed + receipts / raw verify:  ${pct(edRatio)} (target ≥ 80%)`)
  console.log(`  receipt cost at full load:               ${pct(receiptCostHmac)} (HMAC), ${pct(receiptCostEd)} (Ed25519) (target ≤ 10%)`)
} finally {
  rmSync(dir, { recursive: true, force: true })
}
