/**
 * `idv load` and snapshots for one or more population sizes and both engines,
 * in one run, with the parts measured apart so the result shows where the time goes:
 *   - encode only: validate + canonicalise + hash + sort each chunk, all threads, no store;
 *   - write only: the sorted records of the encode run merged and written (append), no hashing;
 *   - end to end: the real pipeline (loadFile) from the NDJSON file into an empty index;
 *   - snapshot create (from the loaded index) and restore (into an empty directory);
 *   - bytes per citizen on disk.
 * Ratios (issue 20): end to end ≥ 80% of encode only; the largest size's end-to-end
 * rate ≥ 90% of the smallest's; restore ≥ 10× end to end.
 * Usage: npm run bench:load -- [--citizens 1000000,10000000] [--threads T] [--engines lmdb,native-free]
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { availableParallelism, cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { Piscina } from 'piscina'
import { RECORD_BYTES, RECORD_VERSION, RecordCodec } from '../../dist/src/domain/record.js'
import { DEFAULT_CHUNK_BYTES, ENCODE_WORKER, loadFile } from '../../dist/src/bulk-load/loader.js'
import { openExtract } from '../../dist/src/bulk-load/extract.js'
import { chunkCursor, RunMerger } from '../../dist/src/bulk-load/sorted-runs.js'
import { bindHashKey, openStore } from '../../dist/src/store/open.js'
import type { StoreEntry } from '../../dist/src/store/types.js'
import type { StoreKind } from '../../dist/src/config.js'
import type { EncodedChunk } from '../../dist/src/bulk-load/encode-chunk.js'
import type { EncodeTask } from '../../dist/src/bulk-load/encode-worker.js'
import { createSnapshot, restoreSnapshot } from '../../dist/src/snapshot/index.js'
import { writePopulation } from '../../dist/src/population/generate.js'
import { packageRoot } from '../../dist/src/paths.js'
import { BENCH_KEY } from './lib/dataset.js'

const { values } = parseArgs({ options: { citizens: { type: 'string', default: '1000000' }, threads: { type: 'string' }, engines: { type: 'string', default: 'lmdb,native-free' } } })
const sizes = values.citizens.split(',').map(Number)
const engines = values.engines.split(',') as StoreKind[]
const threads = values.threads !== undefined ? Number(values.threads) : availableParallelism()
/** The README figure before issue 20: encode only, 2 threads, 1M citizens. */
const BEFORE_ENCODE_RATE = 53_787
const root = join(packageRoot(), '.bench-data')
mkdirSync(root, { recursive: true })
const scratch = mkdtempSync(join(tmpdir(), 'idv-bench-load-'))

interface Row { engine: StoreKind, citizens: number, encode: number, write: number, endToEnd: number, create: number, restore: number, bytesPerCitizen: number, snapshotBytesPerCitizen: number }
const rows: Row[] = []
const encodeRates = new Map<number, number>()
/** Measured CPU per citizen of encode only (reading, validating, hashing, sorting), in µs: what a core does, however busy the machine. */
const encodeCpu = new Map<number, number>()

async function populationFile (n: number): Promise<string> {
  const file = join(root, `population-${n}-1-v${RECORD_VERSION}.ndjson`) // the file lib/dataset.ts builds
  if (!existsSync(file)) {
    console.error(`generating ${n} citizens → ${file}`)
    await writePopulation({ count: n, seed: 1, out: file })
  }
  return file
}

/** encode: every chunk validated, hashed and sorted on all threads; the sorted chunks kept for the write-only run. */
async function encodeOnly (file: string): Promise<{ seconds: number, cpuSeconds: number, chunks: EncodedChunk[] }> {
  const pool = new Piscina<EncodeTask, EncodedChunk>({ filename: ENCODE_WORKER(), minThreads: threads, maxThreads: threads })
  const chunks: EncodedChunk[] = []
  const inFlight = new Set<Promise<void>>()
  const t = performance.now()
  const cpu = process.cpuUsage() // the whole process, worker threads included
  for await (const chunk of openExtract(file, DEFAULT_CHUNK_BYTES).chunks) {
    const p: Promise<void> = pool.run({ hashKey: BENCH_KEY, chunk, firstLine: 1 }).then((r) => { chunks.push(r) }).finally(() => { inFlight.delete(p) })
    inFlight.add(p)
    if (inFlight.size >= threads * 2) await Promise.race(inFlight)
  }
  await Promise.all(inFlight)
  const seconds = (performance.now() - t) / 1000
  const used = process.cpuUsage(cpu)
  await pool.destroy()
  return { seconds, cpuSeconds: (used.user + used.system) / 1e6, chunks }
}

/** write: the merge of pre-encoded sorted chunks, appended in durable batches, no hashing. */
async function writeOnly (engine: StoreKind, chunks: EncodedChunk[], dir: string): Promise<number> {
  const store = await openStore(engine, dir)
  const merger = new RunMerger(chunks.map(chunkCursor))
  const t = performance.now()
  let batch: StoreEntry[] = []
  let buffer = new Uint8Array(200_000 * RECORD_BYTES)
  let writing: Promise<void> = Promise.resolve()
  while (merger.next()) {
    const slot = batch.length * RECORD_BYTES
    buffer.set(merger.bytes.subarray(merger.offset, merger.offset + RECORD_BYTES), slot)
    batch.push({ key: merger.key, value: buffer.subarray(slot, slot + RECORD_BYTES) })
    if (batch.length === 200_000) {
      await writing
      writing = store.writeBatch(batch, undefined, { append: true })
      batch = []
      buffer = new Uint8Array(200_000 * RECORD_BYTES)
    }
  }
  await writing
  await store.writeBatch(batch, undefined, { append: true })
  await store.compact()
  const seconds = (performance.now() - t) / 1000
  await store.close()
  return seconds
}

for (const n of sizes) {
  const file = await populationFile(n)
  const encoded = await encodeOnly(file)
  encodeRates.set(n, n / encoded.seconds)
  encodeCpu.set(n, 1e6 * encoded.cpuSeconds / n)
  console.error(`${n}: encode only ${Math.round(n / encoded.seconds)} rec/s`)
  for (const engine of engines) {
    const base = join(scratch, `${engine}-${n}`)
    mkdirSync(base)
    const write = await writeOnly(engine, encoded.chunks, join(base, 'write-only'))
    rmSync(join(base, 'write-only'), { recursive: true, force: true })
    const dataDir = join(base, 'index')
    const store = await openStore(engine, dataDir)
    await bindHashKey(store, new RecordCodec(BENCH_KEY))
    const summary = await loadFile({ file, store, hashKey: BENCH_KEY, rejectFile: join(base, 'rejects'), workDir: `${dataDir}.load`, threads })
    const stats = store.stats()
    await store.close()
    const snap = join(base, 'index.snapshot')
    const created = await createSnapshot(engine, dataDir, snap)
    rmSync(dataDir, { recursive: true, force: true }) // restore into an empty directory (and keep the disk use bounded)
    const restored = await restoreSnapshot({ file: snap, engine, dataDir: join(base, 'restored'), keyFingerprint: new RecordCodec(BENCH_KEY).keyFingerprint() })
    rows.push({
      engine,
      citizens: n,
      encode: n / encoded.seconds,
      write: n / write,
      endToEnd: n / (summary.elapsedMs / 1000),
      create: n / created.seconds,
      restore: n / restored.seconds,
      bytesPerCitizen: stats.bytesOnDisk / stats.entries,
      snapshotBytesPerCitizen: created.bytes / n
    })
    console.error(`${n} ${engine}: write ${Math.round(n / write)} rec/s, end to end ${Math.round(n / (summary.elapsedMs / 1000))} rec/s (${summary.path}), snapshot ${created.seconds.toFixed(1)} s, restore ${restored.seconds.toFixed(1)} s`)
    rmSync(base, { recursive: true, force: true })
  }
}
rmSync(scratch, { recursive: true, force: true })

const k = (r: number): string => `${Math.round(r).toLocaleString('en')}`
const pct = (x: number): string => `${(100 * x).toFixed(0)}%`
const verdict = (ok: boolean): string => ok ? 'met' : 'MISSED'
console.log(`\nidv load and snapshots, ${threads} threads on ${cpus()[0]?.model ?? 'unknown CPU'} (${availableParallelism()} cores); records/s unless stated`)
console.log('| engine | citizens | encode only | write only (sorted) | end to end | snapshot create | restore | disk B/citizen | snapshot B/citizen |')
console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |')
for (const r of rows) console.log(`| ${r.engine} | ${r.citizens.toLocaleString('en')} | ${k(r.encode)} | ${k(r.write)} | ${k(r.endToEnd)} | ${k(r.create)} | ${k(r.restore)} | ${r.bytesPerCitizen.toFixed(1)} | ${r.snapshotBytesPerCitizen.toFixed(1)} |`)
console.log('\nratios:')
for (const r of rows) {
  console.log(`  ${r.engine} ${r.citizens}: end to end / encode only ${pct(r.endToEnd / r.encode)} (target ≥ 80%: ${verdict(r.endToEnd / r.encode >= 0.8)}); restore / end to end ${(r.restore / r.endToEnd).toFixed(1)}× (target ≥ 10×: ${verdict(r.restore / r.endToEnd >= 10)})`)
}
if (sizes.length > 1) {
  const small = Math.min(...sizes)
  const large = Math.max(...sizes)
  for (const engine of engines) {
    const a = rows.find((r) => r.engine === engine && r.citizens === small)!
    const b = rows.find((r) => r.engine === engine && r.citizens === large)!
    console.log(`  ${engine}: end to end at ${large} / at ${small}: ${pct(b.endToEnd / a.endToEnd)} (target ≥ 90%: ${verdict(b.endToEnd / a.endToEnd >= 0.9)})`)
  }
}
for (const [n, rate] of encodeRates) {
  console.log(`  encode only at ${n}, ${threads} threads: ${k(rate)} rec/s = ${(rate / BEFORE_ENCODE_RATE).toFixed(2)}× the figure before issue 20 (${k(BEFORE_ENCODE_RATE)}; target ≥ 2×: ${verdict(rate / BEFORE_ENCODE_RATE >= 2)}); ${encodeCpu.get(n)!.toFixed(1)} µs of CPU per citizen measured (${(1e6 * threads / rate).toFixed(1)} µs of thread time): ${k(1e6 / encodeCpu.get(n)!)} rec/s per busy core`)
}
const out = join(packageRoot(), 'bench', 'results')
mkdirSync(out, { recursive: true })
const resultFile = join(out, `bulk-load-${new Date().toISOString().replace(/[:.]/g, '-')}.json`)
writeFileSync(resultFile, JSON.stringify({ threads, cores: availableParallelism(), rows, encodeRates: Object.fromEntries(encodeRates), encodeCpuMicros: Object.fromEntries(encodeCpu) }, null, 2))
console.log(`\nresult: ${resultFile}`)

