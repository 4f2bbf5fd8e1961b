/**
 * One conformance suite for every storage engine: each engine's test file calls
 * runStorageConformance() with its opener, and the same cases run unchanged.
 * Engines that need the built code (worker threads, child processes) use dist/.
 */
import { spawn } from 'node:child_process'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { tempDir } from '../helpers/temp.js'
import { Worker } from 'node:worker_threads'
import { beforeAll, describe, expect, it } from 'vitest'
import { StoreConflictError, type StorageCore, type StoreEntry } from '../../src/store/types.js'

export interface ConformanceTarget {
  readonly name: 'lmdb' | 'native-free'
  open (dir: string): Promise<StorageCore>
  /** Extra crash-trial variants: environment for the reopening process (e.g. LMDB_RESTORE=safe). */
  readonly crashVariants?: ReadonlyArray<{ readonly label: string, readonly env: Record<string, string> }>
  /** Called after each crash trial's reopen with the directory: an independent reader's check. */
  readonly independentCheck?: (dir: string, expectedEntries: number) => void
}

const FIXTURES = join(import.meta.dirname, '..', 'fixtures')
const KEYS_PER_BATCH = 300
const value = (seed: number, length = 131): Uint8Array => {
  const v = new Uint8Array(length)
  for (let i = 0; i < length; i++) v[i] = (seed * 31 + i * 7) & 0xff
  return v
}
const entry = (key: number, seed = key): StoreEntry => ({ key, value: value(seed) })
/** Plain Uint8Array copies, so engines returning Buffers and engines returning Uint8Arrays compare alike. */
const plain = (b: Uint8Array | undefined): Uint8Array | undefined => b === undefined ? undefined : new Uint8Array(b)
const plainAll = (bs: Array<Uint8Array | undefined>): Array<Uint8Array | undefined> => bs.map(plain)

export function runStorageConformance (target: ConformanceTarget): void {
  describe(`storage conformance: ${target.name}`, () => {
    let root: string
    let n = 0
    const fresh = async (): Promise<{ dir: string, store: StorageCore }> => {
      const dir = join(root, `s${n++}`)
      return { dir, store: await target.open(dir) }
    }
    beforeAll(() => { root = tempDir(`idv-conf-${target.name}`) })

    it('starts empty', async () => {
      const { store } = await fresh()
      expect(store.kind).toBe(target.name)
      expect(store.count()).toBe(0)
      expect(store.getFast(1_099_012_345)).toBeUndefined()
      expect(store.get(1_099_012_345)).toBeUndefined()
      expect(store.getMany([1, 2])).toEqual([undefined, undefined])
      expect(store.getMeta('x')).toBeUndefined()
      expect([...store.entries()]).toEqual([])
      await store.close()
    })

    it('puts, reads back (fast, copying, many), counts and iterates in key order', async () => {
      const { store } = await fresh()
      const keys = [999_999_999_999, 0, 1_099_012_345, 2 ** 32 + 5, 2 ** 32 - 1, 79_301_004_567]
      await store.writeBatch(keys.map((k) => entry(k)))
      expect(store.count()).toBe(keys.length)
      for (const k of keys) {
        expect(plain(store.getFast(k)), String(k)).toEqual(value(k))
        expect(plain(store.get(k))).toEqual(value(k))
      }
      expect(plainAll(store.getMany([keys[0]!, 12345, keys[2]!]))).toEqual([value(keys[0]!), undefined, value(keys[2]!)])
      const sorted = [...keys].sort((a, b) => a - b)
      expect([...store.entries()].map(([k]) => k)).toEqual(sorted)
      expect([...store.entries({ start: 2 ** 32 - 1, end: 999_999_999_999 })].map(([k]) => k)).toEqual(sorted.filter((k) => k >= 2 ** 32 - 1 && k < 999_999_999_999))
      await store.close()
    })

    it('appends sorted batches (the bulk load\'s write path) into the same store a put would make, and refuses or keeps whole an out-of-order append', async () => {
      const { dir, store } = await fresh()
      const keys = Array.from({ length: 3000 }, (_, i) => 1_000_000 + i * 7)
      for (let i = 0; i < keys.length; i += 1000) await store.writeBatch(keys.slice(i, i + 1000).map((k) => entry(k)), { progress: Uint8Array.of(i / 1000) }, { append: true })
      const { store: reference } = await fresh()
      await reference.writeBatch([...keys].reverse().map((k) => entry(k)))
      expect([...store.entries()]).toEqual([...reference.entries()])
      expect(store.count()).toBe(keys.length)
      expect(plain(store.getMeta('progress'))).toEqual(Uint8Array.of(2))
      // A batch below the last key: an engine that appends refuses all of it; one that ignores the hint keeps all of it.
      const stray = [entry(5), entry(2_000_000_000)]
      const refused = await store.writeBatch(stray, undefined, { append: true }).then(() => false, () => true)
      expect(store.count()).toBe(keys.length + (refused ? 0 : 2))
      expect(store.get(5) === undefined).toBe(refused)
      await store.close()
      await reference.close()
      const reopened = await target.open(dir)
      expect(reopened.count()).toBe(keys.length + (refused ? 0 : 2))
      expect(plain(reopened.get(keys[1234]!))).toEqual(value(keys[1234]!))
      await reopened.close()
    })

    it('copies itself (snapshots): the copy opens as this engine\'s index with the same records and the named metadata', async () => {
      const { dir, store } = await fresh()
      await store.writeBatch(Array.from({ length: 500 }, (_, i) => entry(7_000 + i)), { kept: Uint8Array.of(1, 2), other: Uint8Array.of(3) })
      const copyDir = `${dir}-copy`
      mkdirSync(copyDir)
      await store.copyTo(copyDir, ['kept'])
      await store.writeBatch([entry(1)]) // after the copy: not in it
      const copy = await target.open(copyDir)
      expect(copy.count()).toBe(500)
      expect([...copy.entries()]).toEqual([...store.entries()].filter(([k]) => k !== 1))
      expect(plain(copy.getMeta('kept'))).toEqual(Uint8Array.of(1, 2))
      await copy.close()
      await store.close()
    })

    it('keeps copies stable while getFast reuses its buffer', async () => {
      const { store } = await fresh()
      await store.writeBatch([entry(1), entry(2)])
      const kept = store.get(1)!
      const many = store.getMany([1, 2])
      store.getFast(2)
      expect(plain(kept)).toEqual(value(1))
      expect(plainAll(many)).toEqual([value(1), value(2)])
      await store.close()
    })

    it('overwrites and deletes (status changes are rewrites)', async () => {
      const { store } = await fresh()
      await store.writeBatch([entry(1), entry(2), entry(3)])
      await store.writeBatch([{ key: 2, value: value(99) }, { key: 3, value: null }, { key: 4, value: value(4, 7) }])
      expect(plain(store.get(2))).toEqual(value(99))
      expect(store.get(3)).toBeUndefined()
      expect(plain(store.get(4))).toEqual(value(4, 7))
      expect(store.count()).toBe(3)
      await store.writeBatch([{ key: 12345, value: null }])
      expect(store.count()).toBe(3)
      await store.close()
    })

    it('stores metadata with a batch', async () => {
      const { store } = await fresh()
      await store.writeBatch([entry(1)], { fingerprint: new Uint8Array([1, 2, 3]) })
      await store.writeBatch([], { other: new Uint8Array([9]) })
      expect(plain(store.getMeta('fingerprint'))).toEqual(new Uint8Array([1, 2, 3]))
      expect(plain(store.getMeta('other'))).toEqual(new Uint8Array([9]))
      expect(store.count()).toBe(1)
      await store.close()
    })

    it('commits a conditional batch (ifMeta) only while the metadata holds the expected value, in queue order', async () => {
      const { store } = await fresh()
      const seq = (n: number): Uint8Array => new TextEncoder().encode(String(n))
      const at = (from: number | undefined, to: number, key: number): Promise<void> =>
        store.writeBatch([entry(key)], { seq: seq(to) }, { ifMeta: { name: 'seq', value: from === undefined ? undefined : seq(from) } })
      await at(undefined, 1, 1) // absent, as expected
      // Queued back to back without awaiting: the second is checked against the first, not against what is committed.
      await Promise.all([at(1, 2, 2), at(2, 3, 3)])
      await expect(at(undefined, 9, 9)).rejects.toBeInstanceOf(StoreConflictError)
      await expect(at(2, 9, 9)).rejects.toBeInstanceOf(StoreConflictError)
      const raced = [at(3, 4, 4), at(3, 4, 5)]
      const outcomes = await Promise.allSettled(raced)
      expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected'])
      expect(store.get(9)).toBeUndefined()
      expect(store.get(5)).toBeUndefined()
      expect(plain(store.getMeta('seq'))).toEqual(seq(4))
      expect(store.count()).toBe(4)
      await store.close()
    })

    it('keeps everything across close and reopen; close is idempotent', async () => {
      const { dir, store } = await fresh()
      const entries = Array.from({ length: 5000 }, (_, i) => entry(1_000_000 + i * 7919))
      await store.writeBatch(entries, { m: new Uint8Array([7]) })
      await store.writeBatch([{ key: entries[0]!.key, value: null }])
      await store.close()
      await store.close()
      const again = await target.open(dir)
      expect(again.count()).toBe(4999)
      expect(again.get(entries[0]!.key)).toBeUndefined()
      expect(plain(again.get(entries[1]!.key))).toEqual(entries[1]!.value)
      expect(plain(again.getMeta('m'))).toEqual(new Uint8Array([7]))
      const stats = again.stats()
      expect(stats.entries).toBe(4999)
      expect(stats.bytesOnDisk).toBeGreaterThan(4999 * 131)
      await again.close()
    })

    it('keeps every record and the metadata through compact()', async () => {
      const { dir, store } = await fresh()
      const entries = Array.from({ length: 3000 }, (_, i) => entry(2_000_000 + i * 31))
      await store.writeBatch(entries, { m: new Uint8Array([5]) })
      await store.writeBatch([{ key: entries[1]!.key, value: null }, { key: entries[2]!.key, value: value(7) }])
      await store.compact()
      await store.writeBatch([entry(1)])
      await store.close()
      const again = await target.open(dir)
      expect(again.count()).toBe(3000)
      expect(again.get(entries[1]!.key)).toBeUndefined()
      expect(plain(again.get(entries[2]!.key))).toEqual(value(7))
      expect(plain(again.get(entries[2999]!.key))).toEqual(entries[2999]!.value)
      expect(plain(again.getMeta('m'))).toEqual(new Uint8Array([5]))
      await again.close()
    })

    it('applies a batch atomically for readers in worker threads while a writer commits', async () => {
      const { store } = await fresh()
      const keys = Array.from({ length: 200 }, (_, i) => 5_000_000 + i * 13)
      const generation = (g: number): StoreEntry[] => keys.map((key) => {
        const v = new Uint8Array(131)
        new DataView(v.buffer).setUint32(0, g)
        return { key, value: v }
      })
      await store.writeBatch(generation(0))
      const workers = [0, 1].map(() => new Worker(join(FIXTURES, 'store-reader-worker.mjs'), { workerData: { handle: store.shareHandle(), keys } }))
      const reports = workers.map(async (w) => await new Promise<{ reads: number, torn: number, maxGeneration: number }>((resolve, reject) => {
        w.once('message', resolve)
        w.once('error', reject)
      }))
      await new Promise((resolve) => setTimeout(resolve, 200))
      for (let g = 1; g <= 40; g++) await store.writeBatch(generation(g))
      await new Promise((resolve) => setTimeout(resolve, 200))
      for (const w of workers) w.postMessage('stop')
      const results = await Promise.all(reports)
      for (const r of results) {
        expect(r.torn).toBe(0)
        expect(r.reads).toBeGreaterThan(10)
        expect(r.maxGeneration).toBe(40)
      }
      await Promise.all(workers.map(async (w) => await w.terminate()))
      await store.close()
    }, 60_000)

    const variants = [{ label: '', env: {} as Record<string, string> }, ...(target.crashVariants ?? [])]
    for (const variant of variants) {
      it(`keeps every acknowledged batch, whole, after SIGKILL at random moments (20 trials${variant.label})`, async () => {
        for (let trial = 0; trial < 20; trial++) {
          const dir = join(root, `crash-${variant.label.replace(/\W/g, '')}-${trial}`)
          const child = spawn(process.execPath, [join(FIXTURES, 'store-crash-child.mjs'), target.name, dir], { stdio: ['ignore', 'pipe', 'inherit'] })
          let acked = -1
          child.stdout.on('data', (d: Buffer) => {
            for (const m of d.toString().matchAll(/ack (\d+)/g)) acked = Math.max(acked, Number(m[1]))
          })
          const exited = new Promise<void>((resolve) => child.once('exit', () => { resolve() }))
          // Wait for the first ack, then kill at a random moment while it writes.
          while (acked < 0 && child.exitCode === null) await new Promise((resolve) => setTimeout(resolve, 5))
          await new Promise((resolve) => setTimeout(resolve, Math.random() * 300))
          child.kill('SIGKILL')
          await exited
          const acknowledged = acked

          const saved: Record<string, string | undefined> = {}
          for (const [k, v] of Object.entries(variant.env)) { saved[k] = process.env[k]; process.env[k] = v }
          let store: StorageCore
          try {
            store = await target.open(dir)
          } finally {
            for (const [k, v] of Object.entries(saved)) { if (v === undefined) delete process.env[k]; else process.env[k] = v }
          }
          // Group what survived by batch: each batch is all there or not at all, with intact values.
          const perBatch = new Map<number, number>()
          for (const [key, v] of store.entries()) {
            const batch = Math.floor((key - 1_000_000_000) / 1000)
            expect(new DataView(v.buffer, v.byteOffset).getUint32(0)).toBe(batch)
            expect(v[130]).toBe(batch & 0xff)
            perBatch.set(batch, (perBatch.get(batch) ?? 0) + 1)
          }
          for (let b = 0; b <= acknowledged; b++) expect(perBatch.get(b), `trial ${trial}: acknowledged batch ${b}`).toBe(KEYS_PER_BATCH)
          for (const [b, count] of perBatch) expect(count, `trial ${trial}: batch ${b} is whole`).toBe(KEYS_PER_BATCH)
          const survived = Math.max(...perBatch.keys())
          expect([...perBatch.keys()].sort((a, b) => a - b)).toEqual(Array.from({ length: survived + 1 }, (_, i) => i))
          expect(plain(store.getMeta('lastBatch'))).toEqual(new Uint8Array([survived & 0xff]))
          const entries = store.count()
          await store.close()
          target.independentCheck?.(dir, entries)
        }
      }, 180_000)
    }
  })
}
