/**
 * The crypto pool's own guarantees, with real worker threads: batching of
 * requests that arrive together, admission control, and a dying worker.
 */
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ChipPool, ChipPoolError } from '../../src/chip/pool.js'
import { AN, createTestPki, makeChip, type TestPki } from 'chip-test-pki'

let pki: TestPki
beforeAll(() => { pki = createTestPki() })

const item = () => {
  const chip = makeChip({ citizen: AN, ds: pki.ds.ecdsa })
  return { sod: chip.sod, dataGroups: [...chip.dataGroups] as Array<[number, Uint8Array]> }
}

describe('ChipPool', () => {
  let pool: ChipPool
  beforeAll(() => { pool = new ChipPool({ threads: 2, maxQueue: 64, trustDir: pki.trustDir }) })
  afterAll(async () => { await pool.close() })

  it('sends chips submitted in one event-loop turn as few tasks', async () => {
    const one = item()
    const before = { ...pool.stats }
    const results = await Promise.all(Array.from({ length: 40 }, () => pool.submit(one)!))
    expect(results.every((r) => r.valid)).toBe(true)
    expect(pool.stats.items - before.items).toBe(40)
    expect(pool.stats.tasks - before.tasks).toBeLessThanOrEqual(2)
  })

  it('recycled batch buffers never leak one batch\'s bytes into the next', async () => {
    // Big batches then small ones, valid and tampered chips interleaved: each verdict must be the chip's own.
    const big = makeChip({ citizen: AN, ds: pki.ds.rsa })
    const small = makeChip({ citizen: AN, ds: pki.ds.ecdsa, dataGroups: [1, 13] })
    const tampered = makeChip({ citizen: AN, ds: pki.ds.ecdsa, dataGroups: [1, 13], tamperDg: 13 })
    const as = (c: typeof big) => ({ sod: c.sod, dataGroups: [...c.dataGroups] as Array<[number, Uint8Array]> })
    for (const round of [[big, big, small], [small, tampered, small], [tampered, big, small]]) {
      const chips = Array.from({ length: 48 }, (_, i) => round[i % 3]!)
      const results = await Promise.all(chips.map(c => pool.submit(as(c))!))
      expect(results.map(r => r.valid)).toEqual(chips.map(c => c !== tampered))
    }
  })

  it('refuses work beyond maxQueue instead of queueing without bound', async () => {
    const small = new ChipPool({ threads: 1, maxQueue: 3, trustDir: pki.trustDir })
    try {
      const one = item()
      const accepted = [small.submit(one), small.submit(one), small.submit(one)]
      expect(small.submit(one)).toBeUndefined()
      expect(small.stats.rejected).toBe(1)
      await Promise.all(accepted)
      const again = small.submit(one)
      expect(again).toBeDefined()
      expect((await again!).valid).toBe(true)
    } finally {
      await small.close()
    }
  })
})

it('rejects (never hangs) when a worker dies, and keeps serving with a replacement', async () => {
  const pool = new ChipPool({ threads: 1, maxQueue: 8, trustDir: pki.trustDir, workerFile: join(import.meta.dirname, '..', 'fixtures', 'dying-chip-worker.mjs') })
  try {
    for (let i = 0; i < 3; i++) {
      await expect(pool.submit(item())!).rejects.toBeInstanceOf(ChipPoolError)
    }
    expect(pool.queued).toBe(0)
  } finally {
    await pool.close()
  }
})
