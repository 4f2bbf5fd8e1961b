/**
 * Readers in real worker threads share the writer's memory and see consistent,
 * advancing snapshots while the writer commits, grows its buffers and compacts.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { Worker } from 'node:worker_threads'
import path from 'node:path'
import { open } from '../src/index.js'
import type { Engine, SharedHandle } from '../src/index.js'
import { PACKAGE_DIR, compiledEntry, removeDir, tempDir, valueFor } from './helpers.js'

const WORKER = path.join(PACKAGE_DIR, 'test', 'fixtures', 'reader-worker.mjs')
const KEYS = Array.from({ length: 40 }, (_, i) => 100_000_000_000 + i * 7_919)

let dir: string
let engine: Engine | undefined
beforeEach(() => { dir = tempDir('threads') })
afterEach(async () => {
  await engine?.close()
  engine = undefined
  removeDir(dir)
})

interface ReaderReport { reads: number, last: number, distinct: number, epochs: number, violations: string[], count: number }

function startReader (entry: string, handle: SharedHandle, stop: SharedArrayBuffer): Promise<ReaderReport> {
  const worker = new Worker(WORKER, { workerData: { entry, handle, keys: KEYS, stop } })
  return new Promise((resolve, reject) => {
    worker.once('message', resolve)
    worker.once('error', reject)
    worker.once('exit', (code) => { if (code !== 0) reject(new Error(`reader exited with ${code}`)) })
  })
}

const writeVersion = async (e: Engine, version: number): Promise<void> => {
  await e.writeBatch(KEYS.map((key) => ({ key, value: valueFor(key, version) })), version % 25 === 0 ? { version: new Uint8Array([version & 0xff]) } : {})
}

describe('shared readers in worker threads', () => {
  it('see whole batches only, never go back, and see the final commit without waiting', async () => {
    const entry = compiledEntry()
    // Tiny delta and chunks: many epochs (buffer growth), plus compactions below.
    engine = await open(dir, { deltaCapacity: 16, chunkBits: 14 })
    await writeVersion(engine, 1)
    const stop = new SharedArrayBuffer(4)
    const readers = [startReader(entry, engine.shareHandle(), stop), startReader(entry, engine.shareHandle(), stop)]
    const finalVersion = 300
    for (let v = 2; v <= finalVersion; v++) {
      await writeVersion(engine, v)
      if (v % 60 === 0) await engine.compact()
    }
    Atomics.store(new Int32Array(stop), 0, 1)
    const reports = await Promise.all(readers)
    for (const r of reports) {
      expect(r.violations).toEqual([])
      expect(r.last).toBe(finalVersion)
      expect(r.count).toBe(KEYS.length)
      expect(r.reads).toBeGreaterThan(10)
      expect(r.distinct).toBeGreaterThan(1)
      expect(r.epochs).toBeGreaterThan(1)
    }
  }, 60_000)

  it('a view opened from a stale handle catches up with the writer', async () => {
    const entry = compiledEntry()
    engine = await open(dir)
    await writeVersion(engine, 1)
    const stale = engine.shareHandle()
    await engine.compact()
    await writeVersion(engine, 2)
    const stop = new SharedArrayBuffer(4)
    const reader = startReader(entry, stale, stop)
    // Give the reader's 'want' request a chance to reach this thread and be answered.
    await new Promise((resolve) => setTimeout(resolve, 300))
    Atomics.store(new Int32Array(stop), 0, 1)
    const report = await reader
    expect(report.violations).toEqual([])
    expect(report.last).toBe(2)
  }, 30_000)
})
