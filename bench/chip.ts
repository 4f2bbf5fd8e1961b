/**
 * Chip verifications per second on the crypto pool, beside raw baselines
 * measured in the same run on the same number of threads (issue 5: chip rate
 * ≥ 80% of the raw signature-verify rate per core used).
 *
 * Per signature algorithm, each round measures, on `threads` threads:
 *   raw verify    a plain crypto.verify loop with the DS key (the baseline)
 *   crypto floor  the same loop plus the hashes every chip needs whatever the
 *                 code does (each data group, and the messageDigest over the
 *                 LDSSecurityObject): the best a chip can do
 *   pool          distinct chips (each its own citizen, DG1, DG2, DG13, SOD
 *                 and signature; one DS, as in production) through the real
 *                 ChipPool, driven from the main thread as the route drives it
 * with and without the 16 KB DG2, so the image hash's share is visible.
 * Rounds interleave the measurements and the median of each is reported.
 *
 * "Per core used": the raw loops and the pool both get `threads` worker
 * threads, but the pool also uses the main thread (submitting, packing,
 * answering). Its share is reported as `main thread`; on a machine with
 * exactly `threads` cores it competes with the workers, as it would in the
 * server.
 *
 * Pool overhead = process CPU time per chip through the pool (all threads)
 * − CPU time per chip of the same chips verified inline on one thread, per
 * task and as a share of the inline cost (target < 10%). CPU time rather
 * than wall time, so other load on a shared machine is not counted.
 *
 * Usage: npm run bench:chip -- [--threads N] [--seconds S] [--rounds R]
 */
import { availableParallelism } from 'node:os'
import { parseArgs } from 'node:util'
import { Worker } from 'node:worker_threads'
import { loadTrustStore, verifyChip, type ChipInput } from '../src/chip/index.js'
import { ChipPool } from '../src/crypto/chip-pool.js'
import type { ChipTaskItem } from '../src/workers/chip-worker.js'
import { AN, DUONG, createTestPki, makeChip, type KeyAlg, type TestCitizen } from '../test/helpers/chip-pki.js'

const { values } = parseArgs({ options: { threads: { type: 'string' }, seconds: { type: 'string', default: '2' }, rounds: { type: 'string', default: '3' } } })
const threads = values.threads !== undefined ? Number(values.threads) : availableParallelism()
const seconds = Number(values.seconds)
const rounds = Number(values.rounds)
const DISTINCT_CHIPS = 256
const pki = createTestPki()

/** Distinct citizens: PINs (and so DG1, DG2's seed, DG13, SOD, signature) differ per chip. */
function citizen (i: number): TestCitizen {
  const base = i % 2 === 0 ? AN : DUONG
  return { ...base, pin: base.pin.slice(0, 6) + String(100_000 + (i * 7919) % 900_000).slice(-6) }
}

function makeChips (alg: KeyAlg, dataGroups: number[]): ChipTaskItem[] {
  return Array.from({ length: DISTINCT_CHIPS }, (_, i) => {
    const chip = makeChip({ citizen: citizen(i), ds: pki.ds[alg], dataGroups })
    return { sod: chip.sod, dataGroups: [...chip.dataGroups] }
  })
}

/**
 * `threads` workers, each looping crypto.verify over one signature, plus
 * (when `hashes` is given) a SHA-256 of each of those byte strings per verify.
 */
async function rawRate (alg: KeyAlg, hashes: Uint8Array[]): Promise<number> {
  const { sign } = await import('node:crypto')
  const ds = pki.ds[alg]
  const data = new Uint8Array(200).fill(7) // signed attributes are ~200 bytes
  const padding = alg === 'rsa-pss' ? { padding: 6, saltLength: 32 } : {}
  const signature = sign('sha256', data, { key: ds.keys.privateKey, ...padding })
  const publicKey = ds.keys.publicKey.export({ type: 'spki', format: 'der' })
  const code = `
    const { parentPort, workerData: w } = require('node:worker_threads')
    const { verify, createPublicKey, hash } = require('node:crypto')
    const key = createPublicKey({ key: Buffer.from(w.publicKey), format: 'der', type: 'spki' })
    const opts = w.pss ? { key, padding: 6, saltLength: 32 } : key
    const one = () => { for (const h of w.hashes) hash('sha256', h, 'buffer'); return verify('sha256', w.data, opts, w.signature) }
    if (!one()) throw new Error('baseline signature does not verify')
    const end = Date.now() + w.ms
    let n = 0
    while (Date.now() < end) { for (let i = 0; i < 20; i++) one(); n += 20 }
    parentPort.postMessage(n)`
  const counts = await Promise.all(Array.from({ length: threads }, async () => await new Promise<number>((resolve, reject) => {
    const w = new Worker(code, { eval: true, workerData: { publicKey, data, signature, hashes, pss: alg === 'rsa-pss', ms: seconds * 1000 } })
    w.once('message', (n: number) => { resolve(n); void w.terminate() })
    w.once('error', reject)
  })))
  return counts.reduce((a, b) => a + b, 0) / seconds
}

/** The byte strings every chip must hash: its data groups, and the LDSSecurityObject (~the SOD's size minus the rest; 200 bytes). */
function unavoidableHashes (item: ChipTaskItem): Uint8Array[] {
  return [...item.dataGroups.map(([, dg]) => dg), new Uint8Array(200)]
}

interface PoolRun { rate: number, cpuUs: number, itemsPerTask: number, valid: boolean, mainShare: number }

/** Keeps `threads × 64` chips in flight for `ms`, one submit and one callback per chip, as the route does. */
async function drive (pool: ChipPool, chips: readonly ChipTaskItem[], ms: number): Promise<{ done: number, valid: boolean }> {
  const until = performance.now() + ms
  let done = 0
  let inFlight = 0
  let next = 0
  let valid = true
  return await new Promise((resolve, reject) => {
    const fill = (): void => {
      while (inFlight < threads * 64 && performance.now() < until) {
        const pending = pool.submit(chips[next++ % chips.length] as ChipTaskItem)
        if (pending === undefined) { reject(new Error('pool refused a chip')); return }
        inFlight++
        pending.then((r) => {
          valid &&= r.valid
          done++
          inFlight--
          fill()
          if (inFlight === 0) resolve({ done, valid })
        }, reject)
      }
    }
    fill()
  })
}

async function poolRate (chips: readonly ChipTaskItem[]): Promise<PoolRun> {
  const pool = new ChipPool({ threads, maxQueue: 100_000, trustDir: pki.trustDir })
  try {
    await drive(pool, chips, 1000) // warm-up: workers start, trust store loads, templates, JIT
    const before = { ...pool.stats }
    const cpu = process.cpuUsage()
    const elu = performance.eventLoopUtilization()
    const t = performance.now()
    const { done, valid } = await drive(pool, chips, seconds * 1000)
    const wallMs = performance.now() - t
    const used = process.cpuUsage(cpu)
    return {
      rate: done / (wallMs / 1000),
      cpuUs: (used.user + used.system) / done,
      itemsPerTask: (pool.stats.items - before.items) / (pool.stats.tasks - before.tasks),
      valid,
      mainShare: performance.eventLoopUtilization(elu).active / wallMs
    }
  } finally {
    await pool.close()
  }
}

/**
 * CPU time per chip of verifyChip called inline on the main thread (no pool),
 * the same chips: what the pool adds is measured against this. CPU time, not
 * wall time, so other load on a shared machine does not count as overhead.
 */
function inlineCpuUs (chips: readonly ChipTaskItem[]): number {
  const trust = loadTrustStore(pki.trustDir)
  const inputs = chips.map(c => ({ sod: c.sod, dataGroups: new Map(c.dataGroups) }))
  for (let i = 0; i < 1000; i++) verifyChip(inputs[i % inputs.length] as ChipInput, trust)
  const cpu = process.cpuUsage()
  const until = performance.now() + seconds * 1000
  let n = 0
  while (performance.now() < until) {
    for (let i = 0; i < 32; i++) verifyChip(inputs[(n + i) % inputs.length] as ChipInput, trust)
    n += 32
  }
  const used = process.cpuUsage(cpu)
  return (used.user + used.system) / n
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number
const pct = (x: number): string => `${(x * 100).toFixed(1)}%`
const int = (x: number): string => Math.round(x).toLocaleString('en-US')

console.log(`chip passive authentication: ${threads} threads, ${rounds} rounds × ${seconds} s per measurement (median), ${DISTINCT_CHIPS} distinct chips per set, 32 chips/task max`)
const rows: Array<Record<string, string>> = []
for (const alg of ['ecdsa', 'rsa', 'rsa-pss'] as KeyAlg[]) {
  const sets = [{ label: 'DG1+DG2+DG13', chips: makeChips(alg, [1, 2, 13]) }, { label: 'DG1+DG13', chips: makeChips(alg, [1, 13]) }]
  const raw: number[] = []
  const floors = sets.map(() => [] as number[])
  const runs = sets.map(() => [] as PoolRun[])
  const inline = sets.map(() => [] as number[])
  for (let r = 0; r < rounds; r++) {
    raw.push(await rawRate(alg, []))
    for (const [i, set] of sets.entries()) {
      floors[i]?.push(await rawRate(alg, unavoidableHashes(set.chips[0] as ChipTaskItem)))
      runs[i]?.push(await poolRate(set.chips))
      inline[i]?.push(inlineCpuUs(set.chips))
    }
  }
  const rawRateMedian = median(raw)
  for (const [i, set] of sets.entries()) {
    const rs = runs[i] as PoolRun[]
    const floor = median(floors[i] as number[])
    const rate = median(rs.map(x => x.rate))
    const inlineUs = median(inline[i] as number[])
    const extraUs = median(rs.map(x => x.cpuUs)) - inlineUs
    const perTask = median(rs.map(x => x.itemsPerTask))
    rows.push({
      signature: alg,
      chip: set.label,
      'raw verify/s': int(rawRateMedian),
      'floor/s': int(floor),
      'chips/s': int(rate),
      'chips/raw': pct(rate / rawRateMedian),
      'floor/raw': pct(floor / rawRateMedian),
      'chips/floor': pct(rate / floor),
      'verifyChip µs': inlineUs.toFixed(1),
      'pool µs/task': int(extraUs * perTask),
      'pool/verifyChip': pct(extraUs / inlineUs),
      'main thread': pct(median(rs.map(x => x.mainShare))),
      'chips/task': perTask.toFixed(1),
      valid: String(rs.every(x => x.valid))
    })
  }
}
console.table(rows)
console.log([
  'floor: raw verify plus SHA-256 of each data group and of a 200-byte LDSSecurityObject, on the same threads (the ceiling for chips/raw)',
  'verifyChip µs: CPU per chip of verifyChip inline on one thread, no pool; pool µs/task: process CPU per task through the pool (all threads, the main thread included) minus that, and as a share of it (target < 10%)',
  'main thread: share of wall time the main thread was busy (driver, submit, packing, answers)'
].join('\n'))
