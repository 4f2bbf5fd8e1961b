/**
 * Every operation of the engine, reopen after close, batch semantics, compaction,
 * options and errors.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import fs from 'node:fs'
import path from 'node:path'
import { open, ERROR_CODES } from '../src/index.js'
import type { Engine } from '../src/index.js'
import { removeDir, sameBytes, tempDir, valueFor, versionOf } from './helpers.js'

let dir: string
let engine: Engine | undefined

beforeEach(() => { dir = tempDir('engine') })
afterEach(async () => {
  await engine?.close()
  engine = undefined
  removeDir(dir)
})

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s)
const text = (b: Uint8Array | undefined): string | undefined => b === undefined ? undefined : new TextDecoder().decode(b)

describe('engine', () => {
  it('puts, gets, deletes, counts and reads metadata', async () => {
    engine = await open(dir)
    expect(engine.count()).toBe(0)
    expect(engine.get(1)).toBeUndefined()
    await engine.writeBatch([{ key: 1, value: bytes('one') }, { key: 2, value: bytes('two') }], { fp: bytes('meta') })
    expect(text(engine.get(1))).toBe('one')
    expect(text(engine.getFast(2))).toBe('two')
    expect(text(engine.getMeta('fp'))).toBe('meta')
    expect(engine.getMeta('nope')).toBeUndefined()
    expect(engine.count()).toBe(2)
    await engine.writeBatch([{ key: 1, value: null }, { key: 3, value: null }, { key: 2, value: bytes('TWO') }])
    expect(engine.get(1)).toBeUndefined()
    expect(text(engine.get(2))).toBe('TWO')
    expect(engine.count()).toBe(1)
  })

  it('accepts the full key range and rejects keys outside it', async () => {
    engine = await open(dir)
    const max = 2 ** 40 - 1
    await engine.writeBatch([{ key: 0, value: bytes('zero') }, { key: max, value: bytes('max') }, { key: 999999999999, value: bytes('pin') }])
    expect(text(engine.get(max))).toBe('max')
    expect(text(engine.get(0))).toBe('zero')
    for (const key of [-1, 2 ** 40, 1.5, Number.NaN]) {
      await expect(engine.writeBatch([{ key, value: bytes('x') }])).rejects.toMatchObject({ code: ERROR_CODES.INVALID_ARGUMENT })
      expect(engine.get(key)).toBeUndefined()
    }
    expect(engine.count()).toBe(3)
  })

  it('get returns a private copy; getFast a view with the same bytes', async () => {
    engine = await open(dir)
    await engine.writeBatch([{ key: 7, value: valueFor(7, 1) }])
    const copy = engine.get(7)!
    copy.fill(0)
    expect(engine.get(7)).toEqual(valueFor(7, 1))
    expect(engine.getFast(7)).toEqual(valueFor(7, 1))
  })

  it('copies values at call time, so callers may reuse buffers', async () => {
    engine = await open(dir)
    const buf = bytes('first')
    const p = engine.writeBatch([{ key: 1, value: buf }])
    buf.fill(0)
    await p
    expect(text(engine.get(1))).toBe('first')
  })

  it('getMany reads one snapshot in input order', async () => {
    engine = await open(dir)
    await engine.writeBatch([{ key: 10, value: bytes('a') }, { key: 20, value: bytes('b') }])
    const got = engine.getMany([20, 15, 10])
    expect(got.map(text)).toEqual(['b', undefined, 'a'])
  })

  it('iterates in key order over a range, merging base and delta', async () => {
    engine = await open(dir)
    await engine.writeBatch([5, 1, 9, 3, 7].map((key) => ({ key, value: bytes(`v${key}`) })))
    await engine.compact()
    await engine.writeBatch([{ key: 4, value: bytes('v4') }, { key: 5, value: null }, { key: 9, value: bytes('nine') }, { key: 100, value: bytes('v100') }])
    expect([...engine.entries()].map(([k, v]) => `${k}=${text(v)}`)).toEqual(['1=v1', '3=v3', '4=v4', '7=v7', '9=nine', '100=v100'])
    expect([...engine.entries({ start: 3, end: 9 })].map(([k]) => k)).toEqual([3, 4, 7])
    expect([...engine.entries({ start: 8 })].map(([k]) => k)).toEqual([9, 100])
    expect([...engine.entries({ end: 1 })]).toEqual([])
  })

  it('applies a batch in order: the last write of a key wins', async () => {
    engine = await open(dir)
    await engine.writeBatch([{ key: 1, value: bytes('a') }, { key: 1, value: null }, { key: 1, value: bytes('c') }])
    expect(text(engine.get(1))).toBe('c')
    expect(engine.count()).toBe(1)
  })

  it('an invalid entry rejects the whole batch and writes nothing', async () => {
    engine = await open(dir)
    await expect(engine.writeBatch([{ key: 1, value: bytes('ok') }, { key: -5, value: bytes('bad') }])).rejects.toMatchObject({ code: ERROR_CODES.INVALID_ARGUMENT })
    expect(engine.get(1)).toBeUndefined()
    await engine.writeBatch([{ key: 2, value: bytes('fine') }])
    await engine.close()
    engine = await open(dir)
    expect(engine.get(1)).toBeUndefined()
    expect(text(engine.get(2))).toBe('fine')
  })

  it('resolves concurrent batches in order and groups them into few fsyncs', async () => {
    engine = await open(dir)
    const order: number[] = []
    await Promise.all(Array.from({ length: 200 }, async (_, i) => {
      await engine!.writeBatch([{ key: i, value: valueFor(i, i) }])
      order.push(i)
    }))
    expect(order).toEqual(Array.from({ length: 200 }, (_, i) => i))
    expect(engine.count()).toBe(200)
  })

  it('reopens after close with everything, including metadata and deletes', async () => {
    engine = await open(dir)
    await engine.writeBatch([{ key: 1, value: bytes('a') }, { key: 2, value: bytes('b') }], { m: bytes('1') })
    await engine.compact()
    await engine.writeBatch([{ key: 2, value: null }, { key: 3, value: bytes('c') }], { m: bytes('2') })
    await engine.close()
    await engine.close()
    engine = await open(dir)
    expect([...engine.entries()].map(([k, v]) => `${k}=${text(v)}`)).toEqual(['1=a', '3=c'])
    expect(text(engine.getMeta('m'))).toBe('2')
    expect(engine.count()).toBe(2)
  })

  it('writes after close are refused with NFI_ERR_CLOSED; close waits for pending writes', async () => {
    engine = await open(dir)
    const pending = engine.writeBatch([{ key: 1, value: bytes('a') }])
    const closed = engine.close()
    await expect(engine.writeBatch([{ key: 2, value: bytes('b') }])).rejects.toMatchObject({ code: ERROR_CODES.CLOSED })
    await pending
    await closed
    engine = await open(dir)
    expect(text(engine.get(1))).toBe('a')
  })

  it('compaction preserves data, values of any length, and shrinks the log', async () => {
    engine = await open(dir, { chunkBits: 12, deltaCapacity: 8 })
    const expected = new Map<number, Uint8Array>()
    for (let b = 0; b < 30; b++) {
      const batch = Array.from({ length: 20 }, (_, i) => {
        const key = (b * 7919 + i * 104729) % 5000
        // Lengths up to 3 KiB with 4 KiB chunks force values to straddle chunks in segments.
        const value = valueFor(key, b, 12 + ((key * 13 + b) % 3000))
        expected.set(key, value)
        return { key, value }
      })
      await engine.writeBatch(batch)
      if (b % 10 === 9) await engine.compact()
    }
    await engine.writeBatch([{ key: 17, value: new Uint8Array(0) }])
    expected.set(17, new Uint8Array(0))
    const check = (): void => {
      expect(engine!.count()).toBe(expected.size)
      for (const [key, value] of expected) expect(sameBytes(engine!.get(key), value)).toBe(true)
      expect([...engine!.entries()].map(([k]) => k)).toEqual([...expected.keys()].sort((a, b) => a - b))
    }
    check()
    await engine.compact()
    check()
    expect(engine.stats().logBytes).toBe(0)
    await engine.close()
    engine = await open(dir, { chunkBits: 12 })
    check()
  })

  it('fixed-length values compact to 8 key bytes plus a small directory per record', async () => {
    engine = await open(dir)
    const n = 20000
    await engine.writeBatch(Array.from({ length: n }, (_, i) => ({ key: 1e11 + i * 977, value: valueFor(i, 0) })))
    await engine.compact()
    const stats = engine.stats()
    expect(stats.entries).toBe(n)
    // Base: 8 B key + <= 1 B directory; the fresh delta's initial buffers are fixed overhead.
    const deltaFixed = (1 << 16) * 24 + (1 << 17) * 4
    expect((stats.indexBytes - deltaFixed) / n).toBeLessThanOrEqual(9)
    expect(stats.bytesOnDisk).toBeGreaterThan(n * 131)
  })

  it('auto-compacts once the log outgrows its threshold', async () => {
    engine = await open(dir, { compactMinLogBytes: 4096, compactLogRatio: 0.5 })
    for (let b = 0; b < 40; b++) await engine.writeBatch([{ key: b, value: valueFor(b, 0, 500) }])
    await engine.close()
    const names = fs.readdirSync(dir)
    expect(names.some((n) => n.startsWith('seg-'))).toBe(true)
    engine = await open(dir)
    expect(engine.count()).toBe(40)
    for (let b = 0; b < 40; b++) expect(engine.get(b)).toEqual(valueFor(b, 0, 500))
  })

  it('a second writer is refused with NFI_ERR_LOCKED; read-only opens are allowed', async () => {
    engine = await open(dir)
    await engine.writeBatch([{ key: 1, value: bytes('a') }])
    await expect(open(dir)).rejects.toMatchObject({ code: ERROR_CODES.LOCKED })
    const ro = await open(dir, { readOnly: true })
    expect(text(ro.get(1))).toBe('a')
    await expect(ro.writeBatch([{ key: 2, value: bytes('b') }])).rejects.toMatchObject({ code: ERROR_CODES.READ_ONLY })
    await expect(ro.compact()).rejects.toMatchObject({ code: ERROR_CODES.READ_ONLY })
    await ro.close()
    await engine.close()
    engine = await open(dir)
    expect(text(engine.get(1))).toBe('a')
  })

  it('takes over a stale lock left by a dead process', async () => {
    fs.mkdirSync(dir, { recursive: true })
    fs.writeFileSync(path.join(dir, 'LOCK'), '999999999\n')
    engine = await open(dir)
    await engine.writeBatch([{ key: 1, value: bytes('a') }])
    expect(fs.readFileSync(path.join(dir, 'LOCK'), 'utf8').trim()).toBe(String(process.pid))
  })

  it('rejects values above maxValueBytes and unknown options', async () => {
    engine = await open(dir, { maxValueBytes: 16 })
    await expect(engine.writeBatch([{ key: 1, value: new Uint8Array(17) }])).rejects.toMatchObject({ code: ERROR_CODES.INVALID_ARGUMENT })
    await expect(open(dir, { bogus: 1 } as never)).rejects.toMatchObject({ code: ERROR_CODES.INVALID_ARGUMENT })
  })

  it('reports stats', async () => {
    engine = await open(dir)
    await engine.writeBatch(Array.from({ length: 100 }, (_, i) => ({ key: i, value: valueFor(i, 3) })))
    const s = engine.stats()
    expect(s.entries).toBe(100)
    expect(s.bytesOnDisk).toBeGreaterThan(100 * 131)
    expect(s.bytesInMemory).toBeGreaterThan(s.indexBytes)
    expect(s.pendingWrites).toBe(0)
    expect(versionOf(engine.get(5)!)).toBe(3)
  })
})
