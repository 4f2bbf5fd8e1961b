/**
 * The raw-loop baseline of the SLO suite: what verification costs with no
 * HTTP and no JSON, on every core. One worker thread per core opens the same
 * LMDB index read-only and runs the service's own Verifier (one store read,
 * then the canonicalisation and keyed hash of each attribute compared with the
 * stored one) over the same verification items the scenario sends, parsed
 * once beforehand, as fast as it can. The verified records per second of all
 * threads together are the ceiling a batch endpoint is judged against
 * (telco-batch: issue 6 asks for at least 50% of it).
 *
 * The same file is the worker: run.ts calls runRawLoop(), which starts this
 * module in worker threads with `workerData.rawLoop` set.
 */
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads'
import { readFileSync } from 'node:fs'
import { ServiceError } from '../../../dist/src/errors.js'
import { readHashKey } from '../../../dist/src/files/hash-key-file.js'
import { RecordCodec } from '../../../dist/src/domain/record.js'
import { Verifier } from '../../../dist/src/verify/verifier.js'
import { parseVerifyRequest, type VerifyRequest } from '../../../dist/src/verify/verify-request.js'
import { openStore } from '../../../dist/src/store/open.js'
import type { RequestPoolFile } from './traffic-worker.js'

export interface RawLoopOptions {
  readonly dataDir: string
  readonly hashKeyFile: string
  /** The scenario's request pool (request-pool.ts): the items are taken from its bodies. */
  readonly requestsFile: string
  readonly threads: number
  readonly warmupSeconds: number
  readonly durationSeconds: number
}

export interface RawLoopResult {
  readonly threads: number
  readonly items: number
  /** Records verified in the window by all threads, per second. */
  readonly recordsPerSecond: number
  /** CPU time of this process (every thread; the main one idles) per verified record in the window, µs. */
  readonly cpuUsPerRecord: number
  /** Share of verified records that matched (a check that the work was real: the mix's ~70%). */
  readonly matchShare: number
}

interface WorkerConfig extends RawLoopOptions { readonly rawLoop: true, readonly from: number, readonly until: number, readonly offset: number }
interface WorkerReply { readonly records: number, readonly matches: number }

/** The verification items in the pool's request bodies, in order: single verifies and batch items alike. */
export function poolItems (pool: RequestPoolFile): unknown[] {
  const items: unknown[] = []
  for (const t of pool.templates) {
    const raw = Buffer.from(t.raw, 'base64')
    const body = JSON.parse(raw.subarray(raw.indexOf('\r\n\r\n') + 4).toString('utf8')) as { items?: unknown[] }
    if (Array.isArray(body.items)) items.push(...body.items)
    else items.push(body)
  }
  return items
}

export async function runRawLoop (o: RawLoopOptions): Promise<RawLoopResult> {
  const pool = JSON.parse(readFileSync(o.requestsFile, 'utf8')) as RequestPoolFile
  const items = poolItems(pool).length
  // Every thread starts the window at the same moment, after its store is open and a warm-up.
  const from = Date.now() + 2000 + o.warmupSeconds * 1000
  const until = from + o.durationSeconds * 1000
  const workers = Array.from({ length: o.threads }, (_, i) => new Worker(new URL(import.meta.url), {
    workerData: { ...o, rawLoop: true, from, until, offset: Math.floor((i * items) / o.threads) } satisfies WorkerConfig
  }))
  // process.cpuUsage() covers every thread of the process (Node 20 has no per-thread figure).
  let cpuFrom: NodeJS.CpuUsage | undefined
  let cpuWindow: NodeJS.CpuUsage | undefined
  const t1 = setTimeout(() => { cpuFrom = process.cpuUsage() }, from - Date.now())
  const t2 = setTimeout(() => { cpuWindow = process.cpuUsage(cpuFrom) }, until - Date.now())
  try {
    const replies = await Promise.all(workers.map(async (w) => await new Promise<WorkerReply>((resolve, reject) => {
      w.once('message', resolve)
      w.once('error', reject)
      w.once('exit', (code) => { reject(new Error(`raw-loop thread exited (${code}) without a result`)) })
    })))
    const records = replies.reduce((s, r) => s + r.records, 0)
    cpuWindow ??= process.cpuUsage(cpuFrom)
    const cpu = cpuWindow === undefined ? 0 : (cpuWindow.user + cpuWindow.system) / 1e6
    return {
      threads: o.threads,
      items,
      recordsPerSecond: Math.round(records / o.durationSeconds),
      cpuUsPerRecord: records === 0 ? 0 : Math.round((cpu / records) * 1e7) / 10,
      matchShare: records === 0 ? 0 : Math.round((replies.reduce((s, r) => s + r.matches, 0) / records) * 1000) / 1000
    }
  } finally {
    clearTimeout(t1)
    clearTimeout(t2)
    await Promise.all(workers.map(async (w) => await w.terminate()))
  }
}

async function work (c: WorkerConfig): Promise<void> {
  const store = await openStore('lmdb', c.dataDir, { readOnly: true })
  const verifier = new Verifier(store, new RecordCodec(readHashKey(c.hashKeyFile)))
  const pool = JSON.parse(readFileSync(c.requestsFile, 'utf8')) as RequestPoolFile
  const requests: VerifyRequest[] = []
  for (const item of poolItems(pool)) {
    const r = parseVerifyRequest(item)
    if (!(r instanceof ServiceError)) requests.push(r)
  }
  const n = requests.length
  let i = c.offset % n
  let records = 0
  let matches = 0
  // Checking the clock every 256 records costs nothing next to them.
  for (;;) {
    const now = Date.now()
    if (now >= c.until) break
    const counting = now >= c.from
    for (let k = 0; k < 256; k++) {
      const outcome = verifier.verify(requests[i]!)
      if (++i === n) i = 0
      if (counting) { records++; if (outcome.match) matches++ }
    }
  }
  await store.close()
  parentPort!.postMessage({ records, matches } satisfies WorkerReply)
}

if (!isMainThread && (workerData as Partial<WorkerConfig> | null)?.rawLoop === true) await work(workerData as WorkerConfig)
