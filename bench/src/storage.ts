/**
 * The two storage engines on the same work, in one run: bulk load (durable
 * batches of 50,000 pre-encoded records), random point reads from 1 and 2
 * threads, multi-get of 1,000 keys, bytes per record on disk and in memory,
 * and time to open. Records are 131 random bytes (the service's record size);
 * keys are structurally valid PINs in random order.
 *
 * Usage: npm run bench:storage -- [--citizens N[,N…]] [--seconds S]
 * Prints one table and writes bench/results/<date>-<sha>-storage.json.
 */
import { execSync } from 'node:child_process'
import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { Worker } from 'node:worker_threads'
import type { StoreKind } from '../../dist/src/config.js'
import { packageRoot } from '../../dist/src/paths.js'
import { openStore } from '../../dist/src/store/open.js'
import type { StoreEntry, StoreHandle } from '../../dist/src/store/types.js'
import { randomPins } from './lib/pins.js'
import { RESULTS_DIR } from './lib/bench-paths.js'

const { values } = parseArgs({ options: { citizens: { type: 'string', default: '1000000' }, seconds: { type: 'string', default: '3' } } })
const sizes = values.citizens!.split(',').map(Number)
const seconds = Number(values.seconds)
const root = packageRoot()
const RECORD = 131
const BATCH = 50_000

interface Row {
  engine: StoreKind
  citizens: number
  loadPerSecond: number
  reads1PerSecond: number
  reads2PerSecond: number
  multiGet1000PerSecond: number
  diskBytesPerRecord: number
  memoryBytesPerRecord: number
  openMs: number
}

/** Point reads from `threads` worker threads for `seconds`, each opening the store from its handle. */
async function threadedReads (handle: StoreHandle, keys: Float64Array, threads: number): Promise<number> {
  const code = `
    const { parentPort, workerData } = require('node:worker_threads')
    import(workerData.openUrl).then(async ({ openSharedStore }) => {
      const store = await openSharedStore(workerData.handle)
      const keys = workerData.keys
      let n = 0, hits = 0
      const end = Date.now() + workerData.ms
      while (Date.now() < end) {
        for (let i = 0; i < 1000; i++) { if (store.getFast(keys[(n + i * 7919) % keys.length]) !== undefined) hits++ }
        n += 1000
      }
      await store.close()
      parentPort.postMessage({ n, hits })
    })`
  const openUrl = new URL('../../dist/src/store/open.js', import.meta.url).href
  const results = await Promise.all(Array.from({ length: threads }, async (_, t) => await new Promise<{ n: number, hits: number }>((resolve, reject) => {
    const w = new Worker(code, { eval: true, workerData: { handle, keys: keys.subarray(t * 1000), ms: seconds * 1000, openUrl } })
    w.once('message', (m: { n: number, hits: number }) => { resolve(m); void w.terminate() })
    w.once('error', reject)
  })))
  for (const r of results) if (r.hits !== r.n) throw new Error(`reader missed ${r.n - r.hits} keys`)
  return results.reduce((a, r) => a + r.n, 0) / seconds
}

async function measure (engine: StoreKind, citizens: number, keys: Float64Array, dir: string): Promise<Row> {
  rmSync(dir, { recursive: true, force: true })
  const value = new Uint8Array(RECORD)
  let store = await openStore(engine, dir)
  let t = performance.now()
  for (let i = 0; i < citizens; i += BATCH) {
    const entries: StoreEntry[] = []
    for (let j = i; j < Math.min(citizens, i + BATCH); j++) {
      const v = value.slice()
      new DataView(v.buffer).setFloat64(0, keys[j]!)
      entries.push({ key: keys[j]!, value: v })
    }
    await store.writeBatch(entries)
  }
  await store.compact() // part of the load: leaves native-free in its ≤16 B/record form
  const loadPerSecond = citizens / ((performance.now() - t) / 1000)
  await store.close()

  t = performance.now()
  store = await openStore(engine, dir)
  store.getFast(keys[0]!)
  const openMs = performance.now() - t

  // Single-threaded point reads in this thread.
  let n = 0
  const end = performance.now() + seconds * 1000
  while (performance.now() < end) {
    for (let i = 0; i < 1000; i++) {
      if (store.getFast(keys[(n + i * 7919) % citizens]!) === undefined) throw new Error('miss')
    }
    n += 1000
  }
  const reads1PerSecond = n / seconds
  const reads2PerSecond = await threadedReads(store.shareHandle(), keys.subarray(0, citizens), 2)

  const batchKeys = Array.from(keys.subarray(0, 1000))
  let m = 0
  const endMulti = performance.now() + seconds * 1000
  while (performance.now() < endMulti) { store.getMany(batchKeys); m++ }
  const stats = store.stats()
  await store.close()
  return {
    engine,
    citizens,
    loadPerSecond,
    reads1PerSecond,
    reads2PerSecond,
    multiGet1000PerSecond: m / seconds,
    diskBytesPerRecord: stats.bytesOnDisk / citizens,
    memoryBytesPerRecord: stats.bytesInMemory / citizens,
    openMs
  }
}

const rows: Row[] = []
const scratch = join(tmpdir(), 'idv-bench-storage')
for (const citizens of sizes) {
  const keys = randomPins(citizens + 2000, 7)
  for (const engine of ['lmdb', 'native-free'] as StoreKind[]) {
    rows.push(await measure(engine, citizens, keys, join(scratch, engine)))
  }
}
rmSync(scratch, { recursive: true, force: true })

const fmt = (x: number): string => Math.round(x).toLocaleString('en')
console.log(`\nstorage engines, ${cpus()[0]?.model ?? 'cpu'} × ${cpus().length}, ${seconds} s per read measurement`)
console.table(rows.map((r) => ({
  engine: r.engine,
  citizens: fmt(r.citizens),
  'load rec/s': fmt(r.loadPerSecond),
  'reads/s 1 thr': fmt(r.reads1PerSecond),
  'reads/s 2 thr': fmt(r.reads2PerSecond),
  'getMany(1000)/s': fmt(r.multiGet1000PerSecond),
  'disk B/rec': r.diskBytesPerRecord.toFixed(1),
  'memory B/rec': r.memoryBytesPerRecord.toFixed(1),
  'open ms': r.openMs.toFixed(0)
})))
for (const citizens of sizes) {
  const l = rows.find((r) => r.engine === 'lmdb' && r.citizens === citizens)!
  const f = rows.find((r) => r.engine === 'native-free' && r.citizens === citizens)!
  console.log(`${fmt(citizens)}: native-free point reads ${(f.reads1PerSecond / l.reads1PerSecond * 100).toFixed(0)}% of LMDB (target ≥ 50%), load ${(f.loadPerSecond / l.loadPerSecond * 100).toFixed(0)}% of LMDB (target ≥ 100%)`)
}
const git = (() => { try { return execSync('git rev-parse --short HEAD', { cwd: root }).toString().trim() } catch { return 'unknown' } })()
mkdirSync(RESULTS_DIR, { recursive: true })
const file = join(RESULTS_DIR, `${new Date().toISOString().slice(0, 10)}-${git}-storage.json`)
writeFileSync(file, JSON.stringify({ scenario: 'storage', git, node: process.version, cpu: cpus()[0]?.model, cores: cpus().length, seconds, rows }, null, 2))
console.log(`result: ${file}`)
