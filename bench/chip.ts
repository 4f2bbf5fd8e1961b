/**
 * Chip verifications per second on the crypto pool, beside a raw baseline in
 * the same run: a plain crypto.verify loop with the same key type on the same
 * number of worker threads. Target (issue 5): chip rate ≥ 80% of the raw
 * signature-verify rate on the cores used.
 *
 * Usage: npm run bench:chip -- [--threads N] [--seconds S]
 */
import { availableParallelism } from 'node:os'
import { parseArgs } from 'node:util'
import { Worker } from 'node:worker_threads'
import { ChipPool } from '../src/crypto/chip-pool.js'
import { AN, createTestPki, makeChip, type KeyAlg } from '../test/helpers/chip-pki.js'

const { values } = parseArgs({ options: { threads: { type: 'string' }, seconds: { type: 'string', default: '5' } } })
const threads = values.threads !== undefined ? Number(values.threads) : availableParallelism()
const seconds = Number(values.seconds)
const pki = createTestPki()

/** Raw baseline: `threads` workers each verifying one signature in a loop. */
async function rawVerifyRate (alg: KeyAlg): Promise<number> {
  const ds = pki.ds[alg]
  const data = Buffer.from('signed attributes of a Document Security Object, about this long')
  const { sign } = await import('node:crypto')
  const padding = alg === 'rsa-pss' ? { padding: 6, saltLength: 32 } : {}
  const signature = sign('sha256', data, { key: ds.keys.privateKey, ...padding })
  const publicKey = ds.keys.publicKey.export({ type: 'spki', format: 'der' })
  const code = `
    const { parentPort, workerData } = require('node:worker_threads')
    const { verify, createPublicKey } = require('node:crypto')
    const key = createPublicKey({ key: Buffer.from(workerData.publicKey), format: 'der', type: 'spki' })
    const opts = workerData.pss ? { key, padding: 6, saltLength: 32 } : key
    const end = Date.now() + workerData.ms
    let n = 0
    while (Date.now() < end) { for (let i = 0; i < 20; i++) verify('sha256', workerData.data, opts, workerData.signature); n += 20 }
    parentPort.postMessage(n)`
  const counts = await Promise.all(Array.from({ length: threads }, async () => await new Promise<number>((resolve, reject) => {
    const w = new Worker(code, { eval: true, workerData: { publicKey, data, signature, pss: alg === 'rsa-pss', ms: seconds * 1000 } })
    w.once('message', (n: number) => { resolve(n); void w.terminate() })
    w.once('error', reject)
  })))
  return counts.reduce((a, b) => a + b, 0) / seconds
}

/** Chips through the real pool (batching, workers, trust store), kept busy for `seconds`. */
async function chipRate (alg: KeyAlg): Promise<{ rate: number, itemsPerTask: number, valid: boolean }> {
  const chip = makeChip({ citizen: AN, ds: pki.ds[alg] })
  const item = { sod: chip.sod, dataGroups: [...chip.dataGroups] as Array<[number, Uint8Array]> }
  const pool = new ChipPool({ threads, maxQueue: 100_000, trustDir: pki.trustDir })
  let valid = true
  const pump = async (until: number): Promise<number> => {
    let done = 0
    const inFlight = new Set<Promise<void>>()
    while (performance.now() < until) {
      while (inFlight.size < threads * 64) {
        const p: Promise<void> = pool.submit(item)!.then((r) => { valid &&= r.valid; done++ }).finally(() => { inFlight.delete(p) })
        inFlight.add(p)
      }
      await Promise.race(inFlight)
    }
    await Promise.all(inFlight)
    return done
  }
  await pump(performance.now() + 1000) // warm-up: workers start, trust store loads, JIT
  const before = { ...pool.stats }
  const t = performance.now()
  const done = await pump(t + seconds * 1000)
  const rate = done / ((performance.now() - t) / 1000)
  const itemsPerTask = (pool.stats.items - before.items) / (pool.stats.tasks - before.tasks)
  await pool.close()
  return { rate, itemsPerTask, valid }
}

console.log(`chip passive authentication, ${threads} pool threads, ${seconds} s per measurement (SOD with DG1, DG2 16 KB, DG13)`)
const rows: Array<Record<string, string | number>> = []
for (const alg of ['ecdsa', 'rsa', 'rsa-pss'] as KeyAlg[]) {
  const raw = await rawVerifyRate(alg)
  const chip = await chipRate(alg)
  rows.push({ signature: alg, 'raw verify/s': Math.round(raw), 'chips/s': Math.round(chip.rate), 'chips/raw': `${(chip.rate / raw * 100).toFixed(1)}%`, 'chips per task': chip.itemsPerTask.toFixed(1), 'all valid': String(chip.valid) })
}
console.table(rows)
