/**
 * `idv load` throughput for N citizens (default 1M; the figure is 10M),
 * with the two parts it is made of measured in the same run so the result shows
 * where the time goes:
 *   - encode: validate + canonicalise + 8 keyed hashes per citizen, all threads, no store;
 *   - store:  durable LMDB writes of pre-encoded records, no hashing;
 *   - load:   the real pipeline (idv load), file to durable index.
 * Usage: npm run bench:load -- [--citizens N] [--threads T]
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs'
import { availableParallelism, tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { Piscina } from 'piscina'
import { RECORD_BYTES } from '../../dist/src/domain/record.js'
import { DEFAULT_CHUNK_BYTES, ENCODE_WORKER, lineChunks, loadFile } from '../../dist/src/bulk-load/loader.js'
import { openStore } from '../../dist/src/store/open.js'
import type { StoreEntry } from '../../dist/src/store/types.js'
import type { EncodedChunk } from '../../dist/src/bulk-load/encode-chunk.js'
import type { EncodeTask } from '../../dist/src/bulk-load/encode-worker.js'
import { BENCH_KEY } from './lib/dataset.js'
import { writePopulation } from '../../dist/src/population/generate.js'
import { existsSync, mkdirSync } from 'node:fs'
import { RECORD_VERSION } from '../../dist/src/domain/record.js'
import { packageRoot } from '../../dist/src/paths.js'

const { values } = parseArgs({ options: { citizens: { type: 'string', default: '1000000' }, threads: { type: 'string' } } })
const citizens = Number(values.citizens)
const threads = values.threads !== undefined ? Number(values.threads) : availableParallelism()
const root = join(packageRoot(), '.bench-data')
mkdirSync(root, { recursive: true })
const file = join(root, `population-${citizens}-1-v${RECORD_VERSION}.ndjson`) // same file as lib/dataset.ts builds
if (!existsSync(file)) {
  console.error(`generating ${citizens} citizens → ${file}`)
  await writePopulation({ count: citizens, seed: 1, out: file })
}
const scratch = mkdtempSync(join(tmpdir(), 'idv-bench-load-'))

/** encode: all threads hash every chunk, nothing is stored (records kept for the store-only run up to 2M). */
async function encodeOnly (): Promise<{ seconds: number, encoded: EncodedChunk[] | undefined }> {
  const pool = new Piscina<EncodeTask, EncodedChunk>({ filename: ENCODE_WORKER(), minThreads: threads, maxThreads: threads })
  const keep = citizens <= 2_000_000
  const encoded: EncodedChunk[] = []
  const inFlight = new Set<Promise<void>>()
  const t = performance.now()
  for await (const chunk of lineChunks(file, DEFAULT_CHUNK_BYTES)) {
    const p: Promise<void> = pool.run({ hashKey: BENCH_KEY, chunk, firstLine: 1 }).then((r) => { if (keep) encoded.push(r) }).finally(() => { inFlight.delete(p) })
    inFlight.add(p)
    if (inFlight.size >= threads * 2) await Promise.race(inFlight)
  }
  await Promise.all(inFlight)
  const seconds = (performance.now() - t) / 1000
  await pool.destroy()
  return { seconds, encoded: keep ? encoded : undefined }
}

/** store: pre-encoded records written as durable batches, no hashing. */
async function storeOnly (encoded: EncodedChunk[]): Promise<number> {
  const store = await openStore('lmdb', join(scratch, 'store-only'))
  const t = performance.now()
  for (const chunk of encoded) {
    const entries: StoreEntry[] = new Array(chunk.keys.length)
    for (let i = 0; i < chunk.keys.length; i++) entries[i] = { key: chunk.keys[i]!, value: chunk.values.subarray(i * RECORD_BYTES, (i + 1) * RECORD_BYTES) }
    await store.writeBatch(entries)
  }
  const seconds = (performance.now() - t) / 1000
  await store.close()
  return seconds
}

const enc = await encodeOnly()
const storeSeconds = enc.encoded !== undefined ? await storeOnly(enc.encoded) : undefined
const dataDir = join(scratch, 'load')
const store = await openStore('lmdb', dataDir)
const summary = await loadFile({ file, store, hashKey: BENCH_KEY, rejectFile: join(scratch, 'rejects'), threads })
const stats = store.stats()
await store.close()
const fileBytes = statSync(file).size
rmSync(scratch, { recursive: true, force: true })

const rate = (s: number): string => `${Math.round(citizens / s).toLocaleString('en')} records/s`
console.log(`\nidv load, ${citizens.toLocaleString('en')} citizens (${(fileBytes / 1e6).toFixed(0)} MB NDJSON), ${threads} encoding threads`)
console.log(`  encode only (all threads, no store) ${rate(enc.seconds)}`)
if (storeSeconds !== undefined) console.log(`  LMDB durable writes only           ${rate(storeSeconds)}`)
console.log(`  idv load (file → durable index)    ${rate(summary.elapsedMs / 1000)}  (target ≥ 300,000 records/s)`)
console.log(`  index on disk: ${(stats.bytesOnDisk / 1e6).toFixed(1)} MB, ${(stats.bytesOnDisk / stats.entries).toFixed(1)} bytes per citizen (record ${RECORD_BYTES} B + 5 B key)`)
