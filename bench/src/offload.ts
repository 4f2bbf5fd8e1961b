/**
 * Where request-signature checks should run (issue 4): inline on the server
 * thread, or on a Piscina pool. Measures, in one run, Ed25519 verifications of
 * signature-base-sized messages: inline, and through a one-thread pool with 1,
 * 8 and 32 signatures per task, reporting CPU time per verification over all
 * threads (process.cpuUsage) and wall-clock rate. The pool can only win if its
 * per-task overhead is small next to a verification; with server threads on
 * every core, moving work to a pool adds no cores, only hand-offs.
 *
 * Usage: node bench/dist/offload.js [--count N]
 */
import { generateKeyPairSync, randomBytes, sign, verify } from 'node:crypto'
import { parseArgs } from 'node:util'
import { Piscina } from 'piscina'
import { benchScript } from './lib/bench-paths.js'

const { values } = parseArgs({ options: { count: { type: 'string', default: '20000' } } })
const count = Number(values.count)
const { privateKey, publicKey } = generateKeyPairSync('ed25519')
const items = Array.from({ length: count }, () => {
  const data = Buffer.from(`"@method": POST\n"@authority": 127.0.0.1:8080\n"@path": /v1/verify\n"content-digest": sha-256=:${randomBytes(32).toString('base64')}:\n"@signature-params": ("@method" "@authority" "@path" "content-digest");created=1700000000;keyid="p-1";nonce="${randomBytes(16).toString('base64url')}";alg="ed25519"`)
  return { data, signature: sign(null, data, privateKey) }
})
const spki = publicKey.export({ type: 'spki', format: 'der' })

interface Row { mode: string, perSecond: number, cpuMicros: number }

function cpuMicros (from: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(from)
  return d.user + d.system
}

function inline (): Row {
  const cpu = process.cpuUsage()
  const t = performance.now()
  let ok = 0
  for (const it of items) if (verify(null, it.data, publicKey, it.signature)) ok++
  if (ok !== count) throw new Error('inline verification failed')
  return { mode: 'inline', perSecond: count / ((performance.now() - t) / 1000), cpuMicros: cpuMicros(cpu) / count }
}

async function pooled (pool: Piscina, perTask: number): Promise<Row> {
  const cpu = process.cpuUsage()
  const t = performance.now()
  const tasks: Array<Promise<number>> = []
  for (let i = 0; i < count; i += perTask) tasks.push(pool.run({ publicKey: spki, items: items.slice(i, i + perTask) }) as Promise<number>)
  const ok = (await Promise.all(tasks)).reduce((a, b) => a + b, 0)
  if (ok !== count) throw new Error('pooled verification failed')
  return { mode: `pool, ${perTask}/task`, perSecond: count / ((performance.now() - t) / 1000), cpuMicros: cpuMicros(cpu) / count }
}

const pool = new Piscina({ filename: benchScript('lib', 'ed25519-worker.js'), minThreads: 1, maxThreads: 1 })
await pooled(pool, 32) // warm the worker
const rows: Row[] = []
for (let round = 0; round < 3; round++) {
  rows.push(inline())
  for (const perTask of [1, 8, 32]) rows.push(await pooled(pool, perTask))
}
await pool.destroy()
const best = new Map<string, Row>()
for (const r of rows) if ((best.get(r.mode)?.cpuMicros ?? Infinity) > r.cpuMicros) best.set(r.mode, r)
console.log(`Ed25519 verification of ${count} signature bases, best of 3 rounds (CPU time over all threads of the process)`)
console.table([...best.values()].map((r) => ({ mode: r.mode, 'verify/s (wall)': Math.round(r.perSecond), 'CPU µs/verify': r.cpuMicros.toFixed(1), 'vs inline CPU': `${(r.cpuMicros / best.get('inline')!.cpuMicros * 100).toFixed(0)}%` })))
