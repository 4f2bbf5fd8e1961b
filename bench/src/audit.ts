/**
 * The audit log at scale (issue 22), in-process on the real writer and reader
 * (src/audit): no HTTP, so the figures are the log's own.
 *
 *  1. builds a log of --entries entries (default 10,000,000) through
 *     AuditLog.append in batches (segments, fdatasync, LMDB index), spread over
 *     --citizens citizens (default 1,000,000, uniformly: ~10 entries each, plus
 *     one citizen with 20,000), and reports the write rate and bytes per entry;
 *  2. times --queries history queries (default 5,000) of random citizens, as
 *     GET /v1/audit/citizens/{pin}/accesses makes them (the reader's newest-first
 *     page of 50, then the JSON answer): p50, p99, max;
 *  3. builds a --verify-entries log (default 1,000,000), times `idv audit
 *     verify` on it, flips one byte in the middle and times it again: the bad
 *     entry must be named.
 *
 * Usage: npm run bench:audit -- [--entries N] [--citizens N] [--queries N] [--verify-entries N] [--dir DIR]
 * (--dir: where to build the logs, default the system temp directory; they are removed after.)
 */
import { createHash } from 'node:crypto'
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { AuditLog } from '../../dist/src/audit/audit-log.js'
import { auditVerifyCommand } from '../../dist/src/audit/audit-cli.js'
import { generateSignerKey, parseSignerKey } from '../../dist/src/audit/checkpoint.js'
import type { AuditRecord } from '../../dist/src/audit/entry.js'
import { AuditReader } from '../../dist/src/audit/reader.js'
import { createLogger } from '../../dist/src/log.js'

const { values } = parseArgs({
  options: {
    entries: { type: 'string', default: '10000000' },
    citizens: { type: 'string', default: '1000000' },
    queries: { type: 'string', default: '5000' },
    'verify-entries': { type: 'string', default: '1000000' },
    dir: { type: 'string' }
  }
})
const ENTRIES = Number(values.entries)
const CITIZENS = Number(values.citizens)
const QUERIES = Number(values.queries)
const VERIFY_ENTRIES = Number(values['verify-entries'])
const HOT = 20_000
const root = mkdtempSync(join(values.dir ?? tmpdir(), 'idv-bench-audit-'))
const signer = parseSignerKey(generateSignerKey('idv.audit/bench'))
const PARTIES = ['bank-a', 'bank-b', 'telco-1', 'portal']

const pinHash = (citizen: number): string => createHash('sha256').update(`citizen-${citizen}`).digest().subarray(0, 16).toString('base64url')

/** Entry i: a citizen drawn by a fixed LCG (uniform), every 500th the hot citizen 0. */
function record (i: number): AuditRecord {
  const citizen = i % 500 === 0 && i / 500 < HOT ? 0 : 1 + ((i * 2_654_435_761) >>> 0) % CITIZENS
  const match = i % 10 !== 0
  return {
    requestId: `bench${i.toString(36).padStart(8, '0')}`,
    partyId: PARTIES[i % PARTIES.length]!,
    endpoint: '/v1/verify',
    pinHash: pinHash(citizen),
    attributes: ['fullName', 'dateOfBirth', 'gender'],
    results: { match, citizen: 'active', attributes: { fullName: match ? 'match' : 'mismatch', dateOfBirth: 'match', gender: 'match' } },
    receiptLeafHash: createHash('sha256').update(String(i)).digest('base64url')
  }
}

async function build (dir: string, entries: number): Promise<{ seconds: number }> {
  const log = await AuditLog.open({ dir, node: 'bench', origin: 'idv.audit/bench', signer, segmentEntries: 1 << 20, segmentSeconds: 86_400, retentionSeconds: 183 * 86_400, checkpointMs: 1000, log: createLogger('silent') })
  const start = performance.now()
  const chunk = 10_000
  for (let i = 0; i < entries; i += chunk) {
    const records = Array.from({ length: Math.min(chunk, entries - i) }, (_, j) => record(i + j))
    await new Promise<void>((resolve, reject) => { log.append(records, resolve, (r) => { reject(new Error(r)) }) })
    if (i % 1_000_000 === 0 && i > 0) process.stderr.write(`  ${i.toLocaleString('en')} entries, ${Math.round(i / ((performance.now() - start) / 1000)).toLocaleString('en')}/s\n`)
  }
  await log.close()
  return { seconds: (performance.now() - start) / 1000 }
}

function bytesOf (dir: string): { segments: number, index: number } {
  const segments = readdirSync(join(dir, 'segments')).reduce((n, f) => n + statSync(join(dir, 'segments', f)).size, 0)
  return { segments, index: statSync(join(dir, 'index', 'data.mdb')).blocks * 512 }
}

function quantile (sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!
}

try {
  console.log(`audit log: ${ENTRIES.toLocaleString('en')} entries over ${CITIZENS.toLocaleString('en')} citizens (one with ${HOT.toLocaleString('en')})`)
  const big = join(root, 'big', 'bench')
  const built = await build(big, ENTRIES)
  const bytes = bytesOf(big)
  console.log(`  written in ${built.seconds.toFixed(1)} s: ${Math.round(ENTRIES / built.seconds).toLocaleString('en')} entries/s (batches of 10,000, one fdatasync each)`)
  console.log(`  on disk: ${(bytes.segments / ENTRIES).toFixed(0)} bytes/entry in segments + ${(bytes.index / ENTRIES).toFixed(0)} bytes/entry in the index = ${((bytes.segments + bytes.index) / ENTRIES).toFixed(0)} bytes/entry`)

  const reader = new AuditReader(join(root, 'big'), 'bench')
  const times: number[] = []
  let found = 0
  for (let q = 0; q < QUERIES; q++) {
    const citizen = q % 100 === 0 ? 0 : 1 + Math.floor(Math.random() * CITIZENS)
    const t = performance.now()
    const page = reader.history(Buffer.from(pinHash(citizen), 'base64url'), undefined, 50)
    const body = JSON.stringify({ accesses: page.entries.map((e) => ({ time: e.time, node: e.node, party: { id: e.partyId, name: e.partyId }, endpoint: e.endpoint, attributes: e.attributes, results: e.results })), next: page.next === undefined ? null : Buffer.from(JSON.stringify(page.next)).toString('base64url') })
    times.push(performance.now() - t)
    found += page.entries.length
    if (body.length === 0) throw new Error('empty answer')
  }
  await reader.close()
  times.sort((a, b) => a - b)
  console.log(`  history query (page of 50, newest first, JSON answer), ${QUERIES.toLocaleString('en')} random citizens (1% the hot one): p50 ${quantile(times, 0.5).toFixed(3)} ms, p99 ${quantile(times, 0.99).toFixed(3)} ms, max ${times[times.length - 1]!.toFixed(3)} ms; ${(found / QUERIES).toFixed(1)} entries per answer (target p99 < 20 ms)`)
  rmSync(join(root, 'big'), { recursive: true, force: true })

  const small = join(root, 'verify', 'bench')
  const b2 = await build(small, VERIFY_ENTRIES)
  let t = performance.now()
  const ok = auditVerifyCommand({ dir: small })
  console.log(`  idv audit verify, ${VERIFY_ENTRIES.toLocaleString('en')} entries (built in ${b2.seconds.toFixed(1)} s): ${((performance.now() - t) / 1000).toFixed(1)} s — ${ok.message.slice(0, 60)}`)
  // Flip one byte of the middle entry's request id.
  const k = Math.floor(VERIFY_ENTRIES / 2)
  const segFile = join(small, 'segments', readdirSync(join(small, 'segments')).sort().filter((n) => Number(n.slice(0, 16)) <= k).pop()!)
  const bytesOfSeg = readFileSync(segFile)
  let at = 0
  for (let i = Number(segFile.slice(-20, -4)); i < k; i++) at += 4 + bytesOfSeg.readUInt32BE(at)
  const digit = bytesOfSeg.indexOf('bench', at) + 6
  bytesOfSeg[digit] = bytesOfSeg[digit] === 0x30 ? 0x31 : 0x30
  writeFileSync(segFile, bytesOfSeg)
  t = performance.now()
  const bad = auditVerifyCommand({ dir: small })
  console.log(`  one byte flipped in entry ${k.toLocaleString('en')}: ${((performance.now() - t) / 1000).toFixed(1)} s — ${bad.message} (named ${String(bad.badEntry)}: ${bad.badEntry === k ? 'right' : 'WRONG'})`)
  if (bad.badEntry !== k) process.exitCode = 1
} finally {
  rmSync(root, { recursive: true, force: true })
}
