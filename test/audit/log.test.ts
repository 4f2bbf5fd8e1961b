/**
 * The log on disk (src/audit/audit-log.ts) and `idv audit verify`: a log
 * written through the real writer (segments, fsync, LMDB index, signed
 * checkpoints) is recomputed; then copies of it are tampered with one way
 * each (a flipped byte, a deleted, a swapped pair, a truncation, a forged
 * checkpoint) and the first bad entry must be named. Retention removes
 * whole segments and keeps what the remaining proofs need.
 */
import { cpSync, readdirSync, readFileSync, rmSync, writeFileSync, appendFileSync } from 'node:fs'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { AuditLog, CHECKPOINTS_FILE } from '../../src/audit/audit-log.js'
import { auditVerifyCommand } from '../../src/audit/audit-cli.js'
import { generateSignerKey, openCheckpoint, parseSignerKey, parseVerifierKey, signCheckpoint } from '../../src/audit/checkpoint.js'
import { AuditReader } from '../../src/audit/reader.js'
import type { AuditRecord } from '../../src/audit/entry.js'
import { nodeHash, verifyInclusion } from '../../src/merkle/rfc6962.js'
import { verifyConsistency } from '../../src/merkle/proofs.js'
import { createLogger } from '../../src/log.js'
import { tempDir } from '../helpers/temp.js'

/** Entries in the tamper log; the 1M-entry run is `npm run bench:audit` (bench/README.md). */
const ENTRIES = 60_000
const SEGMENT = 16_384
const signer = parseSignerKey(generateSignerKey('idv.audit/t'))

function record (i: number): AuditRecord {
  return { requestId: `req-${i}`, partyId: i % 3 === 0 ? null : `party-${i % 3}`, endpoint: '/v1/verify', pinHash: Buffer.alloc(16, i % 251).toString('base64url'), attributes: ['fullName'], results: { match: i % 2 === 0, citizen: 'active', attributes: { fullName: i % 2 === 0 ? 'match' : 'mismatch' } } }
}

async function openLog (dir: string, now?: () => number, segmentEntries = SEGMENT): Promise<AuditLog> {
  return await AuditLog.open({ dir, node: 't', origin: 'idv.audit/t', signer, segmentEntries, segmentSeconds: 86_400 * 365, retentionSeconds: 183 * 86_400, checkpointMs: 60_000, log: createLogger('silent'), ...(now === undefined ? {} : { now }) })
}

async function fill (log: AuditLog, from: number, to: number, chunk = 2000): Promise<void> {
  for (let i = from; i < to; i += chunk) {
    const records = Array.from({ length: Math.min(chunk, to - i) }, (_, j) => record(i + j))
    await new Promise<void>((resolve, reject) => { log.append(records, resolve, (r) => { reject(new Error(r)) }) })
    // A checkpoint now and then, as the timer would sign them.
    if ((i / chunk) % 7 === 3) await log.publishCheckpoint()
  }
  await log.publishCheckpoint()
}

/** [offset, length] of every record of a segment file. */
function records (file: string): Array<[number, number]> {
  const b = readFileSync(file)
  const out: Array<[number, number]> = []
  for (let at = 0; at < b.length;) { const len = b.readUInt32BE(at); out.push([at, 4 + len]); at += 4 + len }
  return out
}

function segmentFile (dir: string, entry: number): { file: string, record: number } {
  const starts = readdirSync(join(dir, 'segments')).map((n) => Number(n.slice(0, 16))).sort((a, b) => a - b)
  const start = starts.filter((s) => s <= entry).pop()!
  return { file: join(dir, 'segments', `${String(start).padStart(16, '0')}.log`), record: entry - start }
}

describe('the audit log on disk', () => {
  let pristine: string
  beforeAll(async () => {
    pristine = join(tempDir('idv-audit-log'), 't')
    const log = await openLog(pristine)
    await fill(log, 0, ENTRIES)
    await log.close()
  }, 60_000)

  const copy = (): string => { const dir = join(tempDir('idv-audit-copy'), 't'); cpSync(pristine, dir, { recursive: true }); return dir }

  it('recomputes to its checkpoints', () => {
    const r = auditVerifyCommand({ dir: pristine })
    expect(r.message).toMatch(new RegExp(`^OK: ${ENTRIES} entries`))
    expect(r.exitCode).toBe(0)
  })

  it('names a flipped byte\'s entry', () => {
    const dir = copy()
    const k = 31_337
    const { file, record } = segmentFile(dir, k)
    const [offset] = records(file)[record]!
    const b = readFileSync(file)
    const at = b.indexOf('req-', offset) + 4 // a digit of the request id: the JSON stays valid
    b[at] = b[at] === 0x31 ? 0x32 : 0x31
    writeFileSync(file, b)
    expect(auditVerifyCommand({ dir })).toMatchObject({ exitCode: 1, badEntry: k })
  })

  it('names the place of a deleted entry', () => {
    const dir = copy()
    const k = 20_001
    const { file, record } = segmentFile(dir, k)
    const [offset, length] = records(file)[record]!
    const b = readFileSync(file)
    writeFileSync(file, Buffer.concat([b.subarray(0, offset), b.subarray(offset + length)]))
    expect(auditVerifyCommand({ dir })).toMatchObject({ exitCode: 1, badEntry: k })
  })

  it('names the first of two swapped entries', () => {
    const dir = copy()
    const k = 45_000
    const { file, record } = segmentFile(dir, k)
    const recs = records(file)
    const [o1, l1] = recs[record]!
    const [o2, l2] = recs[record + 1]!
    const b = readFileSync(file)
    writeFileSync(file, Buffer.concat([b.subarray(0, o1), b.subarray(o2, o2 + l2), b.subarray(o1, o1 + l1), b.subarray(o2 + l2)]))
    expect(auditVerifyCommand({ dir })).toMatchObject({ exitCode: 1, badEntry: k })
  })

  it('names where a truncated log ends', () => {
    const dir = copy()
    const k = 50_000
    const { file, record } = segmentFile(dir, k)
    const [offset] = records(file)[record]!
    writeFileSync(file, readFileSync(file).subarray(0, offset))
    for (const n of readdirSync(join(dir, 'segments'))) if (Number(n.slice(0, 16)) > k) rmSync(join(dir, 'segments', n))
    const r = auditVerifyCommand({ dir })
    expect(r).toMatchObject({ exitCode: 1, badEntry: k })
    expect(r.message).toMatch(/truncated/)
  })

  it('narrows a change down to two checkpoints even when the index was rewritten to match', () => {
    const dir = copy()
    const k = 12_345
    const { file, record } = segmentFile(dir, k)
    const [offset] = records(file)[record]!
    const b = readFileSync(file)
    const at = b.indexOf('req-', offset) + 4
    b[at] = b[at] === 0x31 ? 0x32 : 0x31
    writeFileSync(file, b)
    rmSync(join(dir, 'index'), { recursive: true })
    const r = auditVerifyCommand({ dir })
    expect(r.exitCode).toBe(1)
    const m = /entries (\d+) to (\d+) do not match/.exec(r.message)
    expect(Number(m?.[1])).toBeLessThanOrEqual(k)
    expect(Number(m?.[2])).toBeGreaterThanOrEqual(k)
  })

  it('refuses a forged checkpoint and one signed by another key', () => {
    const forged = copy()
    const notes = readFileSync(join(forged, CHECKPOINTS_FILE))
    const len = notes.readUInt32BE(0)
    const first = notes.subarray(4, 4 + len).toString('utf8')
    const changed = Buffer.from(first.replace(/\n(\d+)\n/, (_m, n: string) => `\n${Number(n) + 1}\n`))
    const head = Buffer.alloc(4); head.writeUInt32BE(changed.length)
    writeFileSync(join(forged, CHECKPOINTS_FILE), Buffer.concat([head, changed, notes.subarray(4 + len)]))
    expect(auditVerifyCommand({ dir: forged }).message).toMatch(/^BAD: checkpoint 1 does not verify/)

    const other = copy()
    const impostor = parseSignerKey(generateSignerKey('idv.audit/t'))
    const note = Buffer.from(signCheckpoint('idv.audit/t', ENTRIES, Buffer.alloc(32), impostor).note)
    const h = Buffer.alloc(4); h.writeUInt32BE(note.length)
    appendFileSync(join(other, CHECKPOINTS_FILE), Buffer.concat([h, note]))
    expect(auditVerifyCommand({ dir: other }).exitCode).toBe(1)
  })

  it('serves inclusion and consistency proofs that check against the checkpoint', () => {
    const reader = new AuditReader(join(pristine, '..'), 't')
    try {
      const opened = openCheckpoint(reader.checkpoint()!, parseVerifierKey(signer.verifierKey), 'idv.audit/t')
      expect(opened.ok).toBe(true)
      const cp = opened.ok ? opened.checkpoint : undefined
      for (const i of [0, 1, 16_383, 16_384, 40_000, ENTRIES - 1]) {
        const p = reader.inclusion(i, cp!.size)!
        expect(verifyInclusion(p.leafHash, i, cp!.size, p.path, cp!.root)).toBe(true)
      }
      for (const first of [1, 2, 1000, 16_384, 33_333]) {
        const path = reader.consistency(first, cp!.size)!
        expect(verifyConsistency(first, cp!.size, path, rootAt(reader, first), cp!.root)).toBe(true)
      }
    } finally {
      void reader.close()
    }
  })
})

/** The root of the first `size` entries: entry size-1 is the rightmost leaf, so its path folds in from the left. */
function rootAt (reader: AuditReader, size: number): Buffer {
  const p = reader.inclusion(size - 1, size)!
  let r = p.leafHash
  for (const h of p.path) r = nodeHash(h, r)
  return r
}

describe('retention', () => {
  let dir: string
  let now = Date.parse('2026-01-01T00:00:00Z')

  it('removes whole old segments, keeps the right edge, and proofs of what remains still verify', async () => {
    dir = join(tempDir('idv-audit-retain'), 't')
    let log = await openLog(dir, () => now, 1000)
    await fill(log, 0, 5500, 500)
    const early = log.checkpoint!
    now += 200 * 86_400_000
    await fill(log, 5500, 7300, 500)
    expect(await log.retain()).toBe(5) // segments [0,1000) … [4000,5000): their successors began before the cutoff
    const late = await log.publishCheckpoint()
    await log.close()
    expect(readdirSync(join(dir, 'segments')).length).toBe(3)

    expect(auditVerifyCommand({ dir })).toMatchObject({ exitCode: 0 })
    log = await openLog(dir, () => now, 1000) // reopens over the removed prefix
    await fill(log, 7300, 7400, 50)
    await log.close()
    expect(auditVerifyCommand({ dir })).toMatchObject({ exitCode: 0 })

    const reader = new AuditReader(join(dir, '..'), 't')
    try {
      const cp = openCheckpoint(reader.checkpoint()!, parseVerifierKey(signer.verifierKey))
      const c = cp.ok ? cp.checkpoint : undefined
      const p = reader.inclusion(5000, c!.size)!
      expect(verifyInclusion(p.leafHash, 5000, c!.size, p.path, c!.root)).toBe(true)
      expect(reader.inclusion(4999, c!.size)).toBeUndefined()
      expect(verifyConsistency(late!.size, c!.size, reader.consistency(late!.size, c!.size)!, late!.root, c!.root)).toBe(true)
      expect(early.size).toBe(5500)
      expect(reader.consistency(4000, c!.size)).toBeUndefined()
    } finally {
      await reader.close()
    }
  }, 30_000)
})
