/**
 * Bulk load, memory per record and point-read speed of native-free-index.
 *
 *   npx tsc -p native-free-index/tsconfig.bench.json
 *   node native-free-index/dist/.bench/bench/native-free.js --records=10000000 [--batch=100000] [--dir=/tmp/x]
 *
 * Prints one JSON object. bytesPerRecord.index is the index overhead beyond the
 * values (keys, directory, the delta's fixed initial buffers); .total includes the
 * 131-byte values themselves.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { open } from '../src/index.js'
import { RECORD_BYTES, argNumber, nsPerLookup, randomPins, recordFor, timed } from './common.js'

const n = argNumber('records', 1_000_000)
const batchSize = argNumber('batch', 100_000)
const lookups = argNumber('lookups', 1_000_000)
const dirArg = process.argv.find((a) => a.startsWith('--dir='))
const dir = dirArg?.slice(6) ?? fs.mkdtempSync(path.join(os.tmpdir(), 'nfi-bench-'))

const keys = randomPins(n + lookups)
const present = keys.subarray(0, n)
const missing = keys.subarray(n)

const engine = await open(dir)
const rssBefore = process.memoryUsage().rss
const load = await timed(async () => {
  for (let i = 0; i < n; i += batchSize) {
    const batch = []
    for (let j = i; j < Math.min(n, i + batchSize); j++) batch.push({ key: present[j]!, value: recordFor(present[j]!) })
    await engine.writeBatch(batch)
  }
})
const compact = await timed(() => engine.compact())
const stats = engine.stats()
const hitKeys = new Float64Array(lookups)
for (let i = 0; i < lookups; i++) hitKeys[i] = present[Math.floor(Math.random() * n)]!
const hit = nsPerLookup(hitKeys, (k) => engine.getFast(k))
const miss = nsPerLookup(missing, (k) => engine.getFast(k))
const getCopy = nsPerLookup(hitKeys, (k) => engine.get(k))
const reopen = await timed(async () => {
  await engine.close()
  const again = await open(dir, { readOnly: true })
  const count = again.count()
  await again.close()
  return count
})
const result = {
  engine: 'native-free-index',
  node: process.version,
  cpu: os.cpus()[0]?.model,
  records: n,
  recordBytes: RECORD_BYTES,
  loadMs: Math.round(load.ms),
  loadRecordsPerSec: Math.round(n / (load.ms / 1000)),
  finalCompactMs: Math.round(compact.ms),
  compactions: stats.compactions,
  bytesPerRecord: {
    index: +(stats.indexBytes / n).toFixed(2),
    total: +(stats.bytesInMemory / n).toFixed(2),
    rssGrowth: +((process.memoryUsage().rss - rssBefore) / n).toFixed(2)
  },
  bytesOnDisk: stats.bytesOnDisk,
  getFastHitNs: +hit.ns.toFixed(0),
  getFastMissNs: +miss.ns.toFixed(0),
  getCopyHitNs: +getCopy.ns.toFixed(0),
  hitsFound: hit.hits,
  reopenReadOnlyMs: Math.round(reopen.ms),
  reopenCount: reopen.value
}
console.log(JSON.stringify(result, null, 2))
if (dirArg === undefined) fs.rmSync(dir, { recursive: true, force: true })
