/**
 * Recovery: a torn log tail is truncated silently, damage before the tail is a
 * thrown error with a stable code, and segments are verified before use.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import fs from 'node:fs'
import path from 'node:path'
import { open, ERROR_CODES } from '../src/index.js'
import { removeDir, sameBytes, tempDir, valueFor } from './helpers.js'

let dir: string
beforeEach(() => { dir = tempDir('recovery') })
afterEach(() => { removeDir(dir) })

const walPaths = (d: string): string[] => fs.readdirSync(d).filter((n) => n.startsWith('wal-')).sort().map((n) => path.join(d, n))
const segPath = (d: string): string => path.join(d, fs.readdirSync(d).find((n) => n.startsWith('seg-'))!)

function flipByte (file: string, offset: number): void {
  const fd = fs.openSync(file, 'r+')
  const b = Buffer.alloc(1)
  fs.readSync(fd, b, 0, 1, offset)
  b[0] = b[0]! ^ 0x5a
  fs.writeSync(fd, b, 0, 1, offset)
  fs.closeSync(fd)
}

const batch = (b: number, n = 2): Array<{ key: number, value: Uint8Array }> =>
  Array.from({ length: n }, (_, i) => ({ key: b * 100 + i, value: valueFor(b * 100 + i, b, 24) }))

async function expectBatches (d: string, present: number[], absent: number[], readOnly = false): Promise<void> {
  const engine = await open(d, { readOnly })
  try {
    for (const b of present) for (const e of batch(b)) expect(sameBytes(engine.get(e.key), e.value)).toBe(true)
    for (const b of absent) for (const e of batch(b)) expect(engine.get(e.key)).toBeUndefined()
    expect(engine.count()).toBe(present.length * 2)
  } finally {
    await engine.close()
  }
}

describe('log recovery', () => {
  it('truncates a torn last record at every byte offset, and zero-filled tails too', async () => {
    const engine = await open(dir)
    for (let b = 0; b < 4; b++) await engine.writeBatch(batch(b))
    const before = engine.stats().logBytes
    await engine.writeBatch(batch(4))
    const after = engine.stats().logBytes
    await engine.close()
    const wal = walPaths(dir)[0]!
    const full = fs.readFileSync(wal)
    expect(full.length).toBe(after)
    const work = tempDir('torn')
    try {
      for (let cut = before; cut < after; cut++) {
        for (const zeroFill of [false, true]) {
          removeDir(work)
          fs.mkdirSync(work)
          const torn = Buffer.alloc(zeroFill ? after : cut)
          full.copy(torn, 0, 0, cut)
          const walCopy = path.join(work, path.basename(wal))
          fs.writeFileSync(walCopy, torn)
          await expectBatches(work, [0, 1, 2, 3], [4], true)
          expect(fs.statSync(walCopy).size).toBe(torn.length) // read-only opens never truncate
          await expectBatches(work, [0, 1, 2, 3], [4])
          expect(fs.statSync(walCopy).size).toBe(before)
        }
      }
      // After truncation the store keeps working and appends where the tail was cut.
      const reopened = await open(work)
      await reopened.writeBatch(batch(5))
      await reopened.close()
      await expectBatches(work, [0, 1, 2, 3, 5], [4])
    } finally {
      removeDir(work)
    }
  })

  it('throws NFI_ERR_LOG_CORRUPT for damage before the tail', async () => {
    const engine = await open(dir)
    const ends: number[] = [0]
    for (let b = 0; b < 5; b++) {
      await engine.writeBatch(batch(b))
      ends.push(engine.stats().logBytes)
    }
    await engine.close()
    const wal = walPaths(dir)[0]!
    const pristine = fs.readFileSync(wal)
    // Every byte of record 2 except the reserved word (bytes 28..31), which carries no meaning.
    for (let off = ends[1]!; off < ends[2]!; off++) {
      if (off - ends[1]! >= 28 && off - ends[1]! < 32) continue
      fs.writeFileSync(wal, pristine)
      flipByte(wal, off)
      await expect(open(dir, { readOnly: true })).rejects.toMatchObject({ code: ERROR_CODES.LOG_CORRUPT })
      await expect(open(dir)).rejects.toMatchObject({ code: ERROR_CODES.LOG_CORRUPT })
    }
    fs.writeFileSync(wal, pristine)
    await expectBatches(dir, [0, 1, 2, 3, 4], [])
  })

  it('treats a bad record inside the last write group as a torn tail', async () => {
    const engine = await open(dir)
    await engine.writeBatch(batch(0))
    const groupStart = engine.stats().logBytes
    // Batch 1 starts a group; 2, 3 and 4 queue behind it and are written as one group.
    await engine.writeBatch(batch(1))
    const second = engine.stats().logBytes
    await Promise.all([engine.writeBatch(batch(2)), engine.writeBatch(batch(3)), engine.writeBatch(batch(4))])
    await engine.close()
    const wal = walPaths(dir)[0]!
    const pristine = fs.readFileSync(wal)
    expect(groupStart).toBeGreaterThan(0)
    // Damage to the first record of the last group: the later records of that group are dropped too.
    flipByte(wal, second + 40)
    await expectBatches(dir, [0, 1], [2, 3, 4])
    // Damage to a record of an earlier group is corruption.
    fs.writeFileSync(wal, pristine)
    flipByte(wal, groupStart + 40)
    await expect(open(dir)).rejects.toMatchObject({ code: ERROR_CODES.LOG_CORRUPT })
  })

  it('refuses a torn tail in a log that is not the newest, and a missing log', async () => {
    const engine = await open(dir)
    await engine.writeBatch(batch(0))
    await engine.compact()
    await engine.writeBatch(batch(1))
    await engine.close()
    const [wal] = walPaths(dir)
    const gen = Number(/wal-(\d+)/.exec(wal!)![1])
    const name = (g: number): string => path.join(dir, `wal-${String(g).padStart(12, '0')}.log`)
    fs.writeFileSync(name(gen + 2), '')
    await expect(open(dir)).rejects.toMatchObject({ code: ERROR_CODES.LOG_CORRUPT })
    fs.renameSync(name(gen + 2), name(gen + 1))
    await expectBatches(dir, [0, 1], [])
    fs.truncateSync(wal!, fs.statSync(wal!).size - 3)
    await expect(open(dir)).rejects.toMatchObject({ code: ERROR_CODES.LOG_CORRUPT })
  })
})

describe('segment verification', () => {
  it('throws NFI_ERR_SEGMENT_CORRUPT for any damaged section or length', async () => {
    const engine = await open(dir)
    for (let b = 0; b < 10; b++) await engine.writeBatch(batch(b))
    await engine.writeBatch([], { fp: new Uint8Array([1, 2, 3]) })
    await engine.compact()
    await engine.close()
    const seg = segPath(dir)
    const pristine = fs.readFileSync(seg)
    // Header, keys, values and metadata (the last bytes), plus the header checksum.
    const offsets = [0, 20, 100, 124, 130, 128 + 8 * 20 + 3, pristine.length - 60, pristine.length - 1]
    for (const off of offsets) {
      fs.writeFileSync(seg, pristine)
      flipByte(seg, off)
      await expect(open(dir, { readOnly: true })).rejects.toMatchObject({ code: ERROR_CODES.SEGMENT_CORRUPT })
    }
    fs.writeFileSync(seg, pristine.subarray(0, pristine.length - 1))
    await expect(open(dir)).rejects.toMatchObject({ code: ERROR_CODES.SEGMENT_CORRUPT })
    fs.writeFileSync(seg, pristine)
    await expectBatches(dir, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [])
  })

  it('ignores and removes a leftover temporary segment from an interrupted compaction', async () => {
    const engine = await open(dir)
    await engine.writeBatch(batch(0))
    await engine.close()
    fs.writeFileSync(path.join(dir, 'seg-000000000001.tmp'), 'half-written')
    await expectBatches(dir, [0], [])
    expect(fs.readdirSync(dir).some((n) => n.endsWith('.tmp'))).toBe(false)
  })
})
