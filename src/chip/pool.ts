/**
 * The crypto pool: Piscina worker threads that run chip passive authentication,
 * so hashing and signature checks never stall the HTTP thread.
 *
 * Batching: a Piscina task costs ~30 µs of overhead, a chip verification
 * ~100-200 µs. Requests that arrive in the same event-loop turn are sent as one
 * task (up to `maxBatch`), so the overhead shrinks as load grows, while a lone
 * request is sent at once (flushed on setImmediate, not on a timer). A batch
 * travels as one transferred ArrayBuffer (chip-batch.ts), not by structured
 * clone, and each worker holds two tasks so it never idles while the main
 * thread answers the previous batch.
 *
 * Admission: at most `maxQueue` chips may be waiting or running; beyond that
 * `submit` returns undefined and the route answers 503 with Retry-After, rather
 * than queueing without bound.
 *
 * Trust store: workers reload the CSCA directory when `trustVersion` changes;
 * `reloadTrust()` (SIGHUP, or a change in the directory) bumps it.
 */
import { watch, type FSWatcher } from 'node:fs'
import { join } from 'node:path'
import { Piscina } from 'piscina'
import type { ChipResult } from './passive-auth/types.js'
import type { PoolStats } from './pool-metrics.js'
import { packageRoot } from '../paths.js'
import type { ChipTask, ChipTaskItem, ChipTaskResult } from './worker.js'
import { packChipBatch } from './batch.js'

export interface ChipPoolOptions {
  readonly threads: number
  readonly maxQueue: number
  readonly maxBatch?: number
  readonly trustDir: string
  readonly crlFile?: string
  /** The worker module (tests substitute a failing one). */
  readonly workerFile?: string
}

/** A failure of the pool itself (a worker died, the trust store cannot load), not a verdict on a chip. */
export class ChipPoolError extends Error {
  readonly code: string
  constructor (code: string, message: string) {
    super(message)
    this.name = 'ChipPoolError'
    this.code = code
  }
}

interface Pending {
  readonly item: ChipTaskItem
  resolve (r: ChipResult): void
  reject (e: Error): void
}

export const CHIP_WORKER = (): string => join(packageRoot(), 'dist', 'src', 'chip', 'worker.js')

export class ChipPool {
  readonly #pool: Piscina<ChipTask, ChipTaskResult>
  readonly #options: ChipPoolOptions
  readonly #maxBatch: number
  #waiting: Pending[] = []
  /** Packing buffers the workers handed back (chip-batch.ts); a few, since at most 2 tasks per worker are out. */
  readonly #spareBuffers: ArrayBuffer[] = []
  #flushScheduled = false
  #inFlight = 0
  #trustVersion = 0
  #watcher: FSWatcher | undefined
  #reloadTimer: NodeJS.Timeout | undefined
  /** Counters read by metrics and benchmarks. */
  readonly stats = { tasks: 0, items: 0, rejected: 0, failures: 0 }

  constructor (options: ChipPoolOptions) {
    this.#options = options
    this.#maxBatch = options.maxBatch ?? 32
    // concurrentTasksPerWorker 2: the next batch already waits in the worker's port while it verifies the current one.
    this.#pool = new Piscina({ filename: options.workerFile ?? CHIP_WORKER(), minThreads: options.threads, maxThreads: options.threads, idleTimeout: 60_000, concurrentTasksPerWorker: 2 })
    try {
      // Pick up new CSCAs or CRLs without a restart; debounced, since a copy fires several events.
      this.#watcher = watch(options.trustDir, () => {
        clearTimeout(this.#reloadTimer)
        this.#reloadTimer = setTimeout(() => { this.reloadTrust() }, 200)
        this.#reloadTimer.unref()
      })
      this.#watcher.unref()
    } catch { /* a missing directory is reported by the workers as a trust-store failure */ }
  }

  /** Chips waiting or being verified. */
  get queued (): number {
    return this.#waiting.length + this.#inFlight
  }

  get trustVersion (): number {
    return this.#trustVersion
  }

  /** Queue, utilisation and task-time figures, read by the metrics port on scrape. */
  poolStats (): PoolStats {
    const p = this.#pool
    return {
      queuedChips: this.queued,
      maxQueuedChips: this.#options.maxQueue,
      queueSize: p.queueSize,
      utilization: p.utilization,
      threads: p.threads.length,
      completedTasks: p.completed,
      rejectedChips: this.stats.rejected,
      failedTasks: this.stats.failures,
      runTime: p.histogram.runTime,
      waitTime: p.histogram.waitTime
    }
  }

  reloadTrust (): void {
    this.#trustVersion++
  }

  /** Verifies one chip, or returns undefined when the pool is full (answer 503). */
  submit (item: ChipTaskItem): Promise<ChipResult> | undefined {
    if (this.queued >= this.#options.maxQueue) {
      this.stats.rejected++
      return undefined
    }
    const promise = new Promise<ChipResult>((resolve, reject) => { this.#waiting.push({ item, resolve, reject }) })
    if (this.#waiting.length >= this.#maxBatch) this.#flush()
    else if (!this.#flushScheduled) {
      this.#flushScheduled = true
      setImmediate(() => { this.#flush() })
    }
    return promise
  }

  #flush (): void {
    this.#flushScheduled = false
    while (this.#waiting.length > 0) {
      const batch = this.#waiting.splice(0, this.#maxBatch)
      this.#inFlight += batch.length
      this.stats.tasks++
      this.stats.items += batch.length
      const packed = packChipBatch(batch.map((p) => p.item), this.#spareBuffers)
      const task: ChipTask = {
        packed,
        trustDir: this.#options.trustDir,
        ...(this.#options.crlFile !== undefined ? { crlFile: this.#options.crlFile } : {}),
        trustVersion: this.#trustVersion
      }
      this.#pool.run(task, { transferList: [packed.buffer] }).then((result) => {
        this.#inFlight -= batch.length
        if (!result.ok) {
          this.stats.failures++
          const err = new ChipPoolError(result.code, result.message)
          for (const p of batch) p.reject(err)
          return
        }
        if (result.buffer !== undefined && this.#spareBuffers.length < this.#options.threads * 2 + 2) this.#spareBuffers.push(result.buffer)
        const results = JSON.parse(result.resultsJson) as ChipResult[]
        batch.forEach((p, i) => { p.resolve(results[i]!) })
      }, (err: unknown) => {
        // The worker threw or died; Piscina replaces it. Every request in the batch gets a problem, none hangs.
        this.#inFlight -= batch.length
        this.stats.failures++
        const e = new ChipPoolError('IDV_ERR_INTERNAL', `chip worker failed: ${(err as Error).message}`)
        for (const p of batch) p.reject(e)
      })
    }
  }

  async close (): Promise<void> {
    this.#watcher?.close()
    clearTimeout(this.#reloadTimer)
    await this.#pool.destroy()
  }
}
