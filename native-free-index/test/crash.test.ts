/**
 * Crash safety under kill -9: a child process loads batches and prints each id once
 * its writeBatch resolved; we SIGKILL it at random moments (mid-write, mid-fsync,
 * mid-compaction), reopen, and check that every acknowledged batch is fully there,
 * unacknowledged ones are all-or-nothing and form a prefix, and nothing else exists.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { spawn } from 'node:child_process'
import path from 'node:path'
import { open } from '../src/index.js'
import { PACKAGE_DIR, compiledEntry, removeDir, sameBytes, tempDir } from './helpers.js'
// @ts-expect-error plain .mjs fixture shared with the child process, no type declarations
import { BATCH_KEYS, SHARED_KEYS, batchEntries, ownKey, valueOf } from './fixtures/crash-batches.mjs'

const WRITER = path.join(PACKAGE_DIR, 'test', 'fixtures', 'crash-writer.mjs')
const TRIALS = 24

/** mulberry32: a tiny seeded PRNG so failures can be replayed with NFI_CRASH_SEED. */
function prng (seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

interface Trial { acked: number[], killedAfterMs: number }

function runVictim (entry: string, dir: string, start: number, delayMs: number): Promise<Trial> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [WRITER, entry, dir, String(start)], { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    let timer: NodeJS.Timeout | undefined
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString()
      if (timer === undefined && out.includes('ready\n')) timer = setTimeout(() => child.kill('SIGKILL'), delayMs)
    })
    child.stderr.on('data', (chunk: Buffer) => { err += chunk.toString() })
    child.on('error', reject)
    child.on('exit', (code, signal) => {
      if (signal !== 'SIGKILL') { reject(new Error(`victim exited on its own (${code}): ${err}`)); return }
      // Only complete lines count: a partial line was not fully acknowledged to us.
      const lines = out.split('\n').slice(0, -1)
      resolve({ acked: lines.filter((l) => l.startsWith('ack ')).map((l) => Number(l.slice(4))), killedAfterMs: delayMs })
    })
  })
}

/** Returns the highest batch present, after checking the whole store against the model. */
async function verify (dir: string, acked: Set<number>): Promise<number> {
  const engine = await open(dir)
  try {
    // Present batches must be exactly 0..top: find top from the "last" metadata, then check everything.
    const metaLast = engine.getMeta('last')
    const top = metaLast === undefined ? -1 : new DataView(metaLast.buffer, metaLast.byteOffset, 4).getUint32(0, true)
    for (const b of acked) expect(b).toBeLessThanOrEqual(top)
    const expected = new Map<number, Uint8Array>()
    for (let b = 0; b <= top; b++) for (const e of batchEntries(b)) {
      if (e.value === null) expected.delete(e.key)
      else expected.set(e.key, e.value)
    }
    let n = 0
    for (const [key, value] of engine.entries()) {
      const want = expected.get(key)
      if (want === undefined || !sameBytes(value, want)) throw new Error(`unexpected record ${key} (top batch ${top})`)
      n++
    }
    expect(n).toBe(expected.size)
    expect(engine.count()).toBe(expected.size)
    // Nothing of the batch after top (it would be a partial batch if present).
    for (let i = 0; i < BATCH_KEYS; i++) expect(engine.get(ownKey(top + 1, i))).toBeUndefined()
    for (const key of SHARED_KEYS) if (top >= 0) expect(sameBytes(engine.get(key), valueOf(key, top))).toBe(true)
    return top
  } finally {
    await engine.close()
  }
}

describe('kill -9 crash safety', () => {
  let dir: string
  let entry: string
  beforeAll(() => {
    dir = tempDir('crash')
    entry = compiledEntry()
  })
  afterAll(() => { removeDir(dir) })

  it(`keeps every acknowledged batch across ${TRIALS} random SIGKILLs`, async () => {
    const seed = Number(process.env.NFI_CRASH_SEED ?? 20250711)
    const random = prng(seed)
    const acked = new Set<number>()
    let next = 0
    let totalAcked = 0
    for (let t = 0; t < TRIALS; t++) {
      const trial = await runVictim(entry, dir, next, 20 + Math.floor(random() * 400))
      for (const b of trial.acked) acked.add(b)
      totalAcked += trial.acked.length
      const top = await verify(dir, acked)
      next = top + 1
    }
    // The trials must actually have written something.
    expect(totalAcked).toBeGreaterThan(TRIALS)
  }, 120_000)
})
