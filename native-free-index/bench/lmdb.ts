/**
 * The same workload on lmdb-js, for comparison (bench-only: lmdb is the root
 * project's dependency, never this package's; the script exits if it is missing).
 *
 *   node native-free-index/dist/.bench/bench/lmdb.js --records=2000000
 *
 * Keys are 5-byte big-endian PINs (as src/store/lmdb.ts stores them); each batch
 * is one transaction and the load ends with `flushed` (durable).
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { RECORD_BYTES, argNumber, nsPerLookup, randomPins, recordFor, timed } from './common.js'

interface LmdbDb {
  put (key: Uint8Array, value: Uint8Array): unknown
  getBinaryFast (key: Uint8Array): Uint8Array | undefined
  transaction (fn: () => void): Promise<unknown>
  flushed: Promise<void>
  openDB (options: object): LmdbDb
  close (): Promise<void>
}

let lmdb: { open: (options: object) => LmdbDb }
try {
  lmdb = await import('lmdb' as string) as typeof lmdb
} catch {
  console.log(JSON.stringify({ engine: 'lmdb', skipped: 'lmdb is not installed' }))
  process.exit(0)
}

const n = argNumber('records', 1_000_000)
const batchSize = argNumber('batch', 100_000)
const lookups = argNumber('lookups', 1_000_000)
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lmdb-bench-'))

const keyBuf = Buffer.allocUnsafe(5)
function keyBytes (key: number, out = Buffer.allocUnsafe(5)): Buffer {
  const hi = Math.floor(key / 0x100000000)
  const lo = key >>> 0
  out[0] = hi; out[1] = lo >>> 24; out[2] = lo >>> 16; out[3] = lo >>> 8; out[4] = lo
  return out
}

const keys = randomPins(n + lookups)
const present = keys.subarray(0, n)
const missing = keys.subarray(n)
const root = lmdb.open({ path: dir, keyEncoding: 'binary', encoding: 'binary', compression: false, mapSize: 64 * 1024 ** 3, maxDbs: 4 })
const db = root.openDB({ name: 'citizens', keyEncoding: 'binary', encoding: 'binary', compression: false })
const load = await timed(async () => {
  for (let i = 0; i < n; i += batchSize) {
    await root.transaction(() => {
      for (let j = i; j < Math.min(n, i + batchSize); j++) db.put(keyBytes(present[j]!), recordFor(present[j]!))
    })
  }
  await root.flushed
})
const hitKeys = new Float64Array(lookups)
for (let i = 0; i < lookups; i++) hitKeys[i] = present[Math.floor(Math.random() * n)]!
const hit = nsPerLookup(hitKeys, (k) => db.getBinaryFast(keyBytes(k, keyBuf)))
const miss = nsPerLookup(missing, (k) => db.getBinaryFast(keyBytes(k, keyBuf)))
let bytesOnDisk = 0
for (const name of fs.readdirSync(dir)) bytesOnDisk += fs.statSync(path.join(dir, name)).blocks * 512
await root.close()
fs.rmSync(dir, { recursive: true, force: true })
console.log(JSON.stringify({
  engine: 'lmdb',
  node: process.version,
  records: n,
  recordBytes: RECORD_BYTES,
  loadMs: Math.round(load.ms),
  loadRecordsPerSec: Math.round(n / (load.ms / 1000)),
  bytesOnDisk,
  getBinaryFastHitNs: +hit.ns.toFixed(0),
  getBinaryFastMissNs: +miss.ns.toFixed(0),
  hitsFound: hit.hits
}, null, 2))
