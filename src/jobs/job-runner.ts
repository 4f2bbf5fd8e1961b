/**
 * The runner: verifies uploaded jobs in the background, oldest first, one at a
 * time, on the main server thread (where the Verifier already is), a slice of
 * rows per event-loop turn so the thread's other clients are served between
 * slices. One runner per jobs directory (runner.lock holds its pid), so in
 * cluster mode exactly one process works through the jobs.
 *
 * Checkpoints: the runner appends answer records to results.ndjson and, per
 * segment, a receipt record to receipts.ndjson, fsyncs both, then writes
 * progress.json (input consumed, rows, final sizes). A segment ends every
 * `receiptRows` rows, when the runner has caught up with an upload still in
 * progress, and at the end. After a crash it starts again from the last
 * checkpoint: bytes past it are cut off, the rows after it are verified again,
 * so every row is answered exactly once in the results.
 *
 * Audit: the rows of a checkpoint are entries in the audit log, with their
 * segment receipt's leaf hash, before they are appended to results.ndjson
 * (row-audit.ts). If the log cannot be written the job pauses: nothing of the
 * checkpoint is written, progress.json keeps the last checkpoint with the
 * error (GET /v1/jobs/{id} says `paused`), and the runner tries again from
 * that checkpoint every AUDIT_RETRY_MS; rows verified again then are
 * recorded again (a row may have several entries, never none).
 */
import { closeSync, fsyncSync, ftruncateSync, openSync, readFileSync, readSync, rmSync, writeFileSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import type { Admission } from '../admission/index.js'
import type { ReceiptSigner, Receipt } from '../receipts/index.js'
import type { AuditTrail } from '../audit/index.js'
import { ServiceError } from '../errors.js'
import type { OutcomeRecorder, Verifier } from '../verify/index.js'
import type { Logger } from '../log.js'
import type { Party } from '../parties/registry.js'
import { FramingError, ItemFramer, NEED_MORE } from './framing.js'
import { verifyRow, type RowResult } from './rows.js'
import { rowEntries } from './row-audit.js'
import { SegmentReceipts, receiptRecord } from './segments.js'
import { RowBudget } from './budget.js'
import type { JobInfo, JobStore, Progress } from './job-store.js'

export interface RunnerDeps {
  readonly store: JobStore
  readonly verifier: Verifier
  readonly outcomes: OutcomeRecorder
  readonly admission: Admission | undefined
  readonly receipts: ReceiptSigner | undefined
  /** Records every row before it is appended to the results; undefined when the audit log is off. */
  readonly audit: AuditTrail | undefined
  readonly log: Logger
  readonly receiptRows: number
  /** Longest item; default 64 KiB. */
  readonly maxItemBytes?: number
}

/** Rows per step, and CPU time per event-loop turn: the runner shares the main server thread with its clients. */
const SLICE = 64
const TURN_MS = 2
const READ_BYTES = 1024 * 1024
const TICK_MS = 100
const SWEEP_MS = 3_600_000
/** A job paused because the audit log could not be written is tried again after this long. */
const AUDIT_RETRY_MS = 1000

export class JobRunner {
  readonly #deps: RunnerDeps
  readonly #lock: string
  #timer: NodeJS.Timeout | undefined
  #sweeper: NodeJS.Timeout | undefined
  #busy: Promise<void> | undefined
  #stopping = false
  /** Jobs waiting on their upload: nothing to do until it grows. */
  readonly #waiting = new Map<string, number>()
  /** Jobs paused by the audit log: not before this time (ms since the epoch). */
  readonly #paused = new Map<string, number>()

  private constructor (deps: RunnerDeps, lock: string) {
    this.#deps = deps
    this.#lock = lock
  }

  /** The runner of the jobs directory, or undefined when another live process runs it. */
  static start (deps: RunnerDeps): JobRunner | undefined {
    const lock = join(deps.store.dir, 'runner.lock')
    if (!takeRunnerLock(lock)) return undefined
    const runner = new JobRunner(deps, lock)
    runner.#sweep()
    runner.#timer = setInterval(() => { runner.#tick() }, TICK_MS)
    runner.#sweeper = setInterval(() => { runner.#sweep() }, SWEEP_MS)
    runner.#timer.unref()
    runner.#sweeper.unref()
    return runner
  }

  async stop (): Promise<void> {
    this.#stopping = true
    if (this.#timer !== undefined) clearInterval(this.#timer)
    if (this.#sweeper !== undefined) clearInterval(this.#sweeper)
    await this.#busy
    rmSync(this.#lock, { force: true })
  }

  #sweep (): void {
    try {
      const removed = this.#deps.store.sweep()
      if (removed > 0) this.#deps.log.info({ removed }, 'jobs past their retention removed')
    } catch (err) {
      this.#deps.log.error({ err }, 'sweeping old jobs failed')
    }
  }

  #tick (): void {
    if (this.#busy !== undefined || this.#stopping) return
    let next: JobInfo | undefined
    try {
      for (const job of this.#deps.store.list()) {
        const p = this.#deps.store.progress(job.id)
        if (p.state !== 'running') continue
        if ((this.#paused.get(job.id) ?? 0) > Date.now()) continue
        const upload = this.#deps.store.upload(job.id)
        if (!upload.complete && this.#waiting.get(job.id) === upload.bytes) continue
        next = job
        break
      }
    } catch (err) {
      this.#deps.log.error({ err }, 'listing jobs failed')
      return
    }
    if (next === undefined) return
    const job = next
    this.#busy = this.#run(job).catch((err: unknown) => {
      this.#deps.log.error({ err, job: job.id }, 'job failed')
    }).finally(() => { this.#busy = undefined })
  }

  /** Works on one job from its last checkpoint until it is done, waits for its upload, or the runner stops. */
  async #run (job: JobInfo): Promise<void> {
    const { store, admission } = this.#deps
    const start = store.progress(job.id)
    let party: Party | undefined
    if (admission !== undefined) {
      party = admission.party(job.partyId)
      if (party === undefined || party.status !== 'active') {
        this.#save(job, { ...start, state: 'failed', error: { code: 'IDV_ERR_PARTY_DISABLED', detail: `party ${job.partyId} is disabled or was removed` }, updatedAt: Date.now(), finishedAt: Date.now() })
        return
      }
    }
    const results = openSync(store.path(job.id, 'results.ndjson'), 'a+')
    const receipts = openSync(store.path(job.id, 'receipts.ndjson'), 'a+')
    try {
      // Whatever a crash left past the checkpoint is cut off and done again.
      ftruncateSync(results, start.resultBytes)
      ftruncateSync(receipts, start.receiptBytes)
      const work = new JobWork(this.#deps, job, party, start, results, receipts)
      const outcome = await work.run(() => this.#stopping)
      if (outcome.waitingAt !== undefined) this.#waiting.set(job.id, outcome.waitingAt)
      else this.#waiting.delete(job.id)
      if (outcome.paused === true) this.#paused.set(job.id, Date.now() + AUDIT_RETRY_MS)
      else this.#paused.delete(job.id)
    } finally {
      closeSync(results)
      closeSync(receipts)
    }
  }

  #save (job: JobInfo, p: Progress): void {
    if (this.#deps.store.exists(job.id)) this.#deps.store.saveProgress(job.id, p)
  }
}

/** One job's pass: framer, budget, open segment, records not yet checkpointed. */
class JobWork {
  readonly #deps: RunnerDeps
  readonly #job: JobInfo
  readonly #party: Party | undefined
  readonly #results: number
  readonly #receipts: number
  readonly #framer: ItemFramer
  readonly #budget: RowBudget
  readonly #segments: SegmentReceipts | undefined
  #p: Progress
  #fed: number
  /** Rows verified since the last checkpoint. */
  #out: RowResult[] = []
  #open = 0
  #matches = 0
  #errors = 0

  constructor (deps: RunnerDeps, job: JobInfo, party: Party | undefined, start: Progress, results: number, receipts: number) {
    this.#deps = deps
    this.#job = job
    this.#party = party
    this.#results = results
    this.#receipts = receipts
    this.#p = start.startedAt === undefined ? { ...start, startedAt: Date.now() } : start
    this.#fed = start.inputBytes
    this.#framer = new ItemFramer(job.format, deps.maxItemBytes ?? 64 * 1024)
    this.#budget = new RowBudget(deps.admission, party)
    this.#segments = party === undefined || deps.receipts === undefined
      ? undefined
      : new SegmentReceipts({ signer: deps.receipts, verifier: deps.verifier, partyId: party.id, requestId: `job/${job.id}`, rowsPerSegment: deps.receiptRows, firstRow: start.rows })
  }

  async run (stopping: () => boolean): Promise<{ waitingAt?: number, paused?: boolean }> {
    try {
      return await this.#work(stopping)
    } catch (err) {
      if (!(err instanceof ServiceError) || err.code !== 'IDV_ERR_AUDIT_UNAVAILABLE') throw err
      // Paused: the last checkpoint stands, with the reason; the runner comes back from it (module comment).
      this.#deps.log.warn({ job: this.#job.id, detail: err.detail }, 'job paused: the audit log cannot be written')
      const p: Progress = { ...this.#p, error: { code: err.code, detail: err.detail ?? err.message }, updatedAt: Date.now() }
      if (this.#deps.store.exists(this.#job.id)) this.#deps.store.saveProgress(this.#job.id, p)
      return { paused: true }
    }
  }

  async #work (stopping: () => boolean): Promise<{ waitingAt?: number }> {
    const { store } = this.#deps
    const ctx = { verifier: this.#deps.verifier, outcomes: this.#deps.outcomes, party: this.#party, partySlot: 0 }
    for (;;) {
      if (stopping() || !store.exists(this.#job.id)) return {}
      const grant = this.#budget.grant(Math.min(SLICE, this.#deps.receiptRows - this.#open))
      if ('stop' in grant) { await this.#finish({ code: grant.stop.code, detail: `row ${this.#p.rows + this.#open}: ${grant.stop.detail ?? ''}` }); return {} }
      if ('waitMs' in grant) { await sleep(grant.waitMs); continue }
      let n = 0
      while (n < grant.rows) {
        const item = this.#framer.next()
        if (item === NEED_MORE) {
          const more = this.#read()
          if (more === 'more') continue
          if (more === 'end') { await this.#finish(); return {} }
          // Caught up with an upload in progress: checkpoint what is done, come back when it grows.
          await this.#checkpoint()
          return { waitingAt: store.upload(this.#job.id).bytes }
        }
        if (item instanceof FramingError) {
          await this.#finish({ code: 'IDV_ERR_STREAM_FRAMING', detail: `item ${this.#p.rows + this.#open}: ${item.detail}` })
          return {}
        }
        // Results files are NDJSON whatever the input format.
        const row = verifyRow(item, this.#job.format, ctx, 'ndjson')
        this.#out.push(row)
        const done = this.#segments?.add(row)
        if (done !== undefined) this.#segmentReceipt = done
        this.#open++
        n++
        if (row.error) this.#errors++
        else if (row.match) this.#matches++
      }
      if (this.#open >= this.#deps.receiptRows) await this.#checkpoint()
      if (performance.now() - this.#turn >= TURN_MS) {
        await new Promise((resolve) => setImmediate(resolve))
        this.#turn = performance.now()
      }
    }
  }

  /** Feeds the framer from the input file: 'more', 'end' (all read, upload complete) or 'wait' (upload in progress). */
  #read (): 'more' | 'end' | 'wait' {
    const upload = this.#deps.store.upload(this.#job.id)
    if (this.#fed < upload.bytes) {
      const fd = openSync(this.#deps.store.path(this.#job.id, 'input'), 'r')
      try {
        const buf = Buffer.allocUnsafe(Math.min(READ_BYTES, upload.bytes - this.#fed))
        const n = readSync(fd, buf, 0, buf.length, this.#fed)
        this.#framer.push(buf.subarray(0, n))
        this.#fed += n
      } finally {
        closeSync(fd)
      }
      return 'more'
    }
    if (!upload.complete) return 'wait'
    if (!this.#ended) { this.#ended = true; this.#framer.end(); return 'more' }
    return 'end'
  }

  #ended = false
  #turn = performance.now()
  /** The receipt of a segment that filled up, to be written at the next checkpoint. */
  #segmentReceipt: Promise<Receipt> | undefined

  /**
   * Records the rows since the last checkpoint in the audit log, appends
   * them and their segment's receipt, fsyncs, and records the checkpoint.
   * Throws IDV_ERR_AUDIT_UNAVAILABLE (nothing written) if the log cannot take them.
   */
  async #checkpoint (state: Progress['state'] = 'running', error?: Progress['error']): Promise<void> {
    let receipt: Receipt | undefined
    const pending = this.#segmentReceipt ?? this.#segments?.close()
    this.#segmentReceipt = undefined
    if (pending !== undefined) receipt = await pending
    const audit = this.#deps.audit
    if (audit !== undefined && this.#out.length > 0) {
      const entries = rowEntries(audit, this.#out, {
        requestId: `job/${this.#job.id}`,
        partyId: this.#party?.id ?? null,
        endpoint: '/v1/jobs',
        firstRow: this.#p.rows,
        ...(receipt !== undefined ? { receiptLeafHash: audit.receiptLeafHash(receipt.leaf) } : {})
      })
      await new Promise<void>((resolve, reject) => { audit.record(entries, resolve, reject) })
    }
    const now = Date.now()
    let resultBytes = this.#p.resultBytes
    let receiptBytes = this.#p.receiptBytes
    if (this.#out.length > 0) resultBytes += writeAll(this.#results, `${this.#out.map((r) => r.record as string).join('\n')}\n`)
    if (receipt !== undefined) receiptBytes += writeAll(this.#receipts, `${receiptRecord(receipt)}\n`)
    fsyncSync(this.#results)
    fsyncSync(this.#receipts)
    // A pause's reason goes once a checkpoint is made again.
    const { error: _paused, ...last } = this.#p
    this.#p = {
      ...last,
      inputBytes: this.#fed - this.#framer.buffered,
      rows: this.#p.rows + this.#open,
      matches: this.#p.matches + this.#matches,
      errors: this.#p.errors + this.#errors,
      resultBytes,
      receiptBytes,
      state,
      ...(error !== undefined ? { error } : {}),
      updatedAt: now,
      ...(state !== 'running' ? { finishedAt: now } : {})
    }
    this.#out = []
    this.#open = 0
    this.#matches = 0
    this.#errors = 0
    if (this.#deps.store.exists(this.#job.id)) this.#deps.store.saveProgress(this.#job.id, this.#p)
  }

  async #finish (error?: { code: string, detail: string }): Promise<void> {
    await this.#checkpoint(error === undefined ? 'done' : 'failed', error)
  }
}

function writeAll (fd: number, text: string): number {
  const bytes = Buffer.from(text, 'utf8')
  let done = 0
  while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done)
  return bytes.length
}

async function sleep (ms: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms))
}

/** Takes runner.lock unless a live process holds it (a lock left by a dead one is taken over). */
function takeRunnerLock (file: string): boolean {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(file, String(process.pid), { flag: 'wx' })
      return true
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
    }
    let pid = 0
    try { pid = Number(readFileSync(file, 'utf8')) } catch { continue }
    if (pid !== process.pid && alive(pid)) return false
    rmSync(file, { force: true })
  }
  return false
}

function alive (pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

