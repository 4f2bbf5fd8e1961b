/**
 * The engine: opens a directory, recovers, and runs the single writer.
 *
 * Files in the directory:
 *   LOCK          the writer's lock (see lock.ts)
 *   seg-N.nfi     the newest compacted image; covers every batch in logs 1..N
 *   wal-M.log     batches after the segment, M = N+1, N+2, ... (normally one file)
 *
 * Write path: writeBatch encodes (and so validates and copies) the batch at call
 * time and queues it. One flush loop writes every queued batch as one group with
 * one fdatasync, then applies the group to the delta index, publishes it to
 * readers, and only then resolves the callers' promises: a batch is visible only
 * once durable, and readers never see a half-applied batch.
 *
 * Compaction runs between groups: it starts a new log (wal-K+1), merges the
 * snapshot covering logs <= K into a new base in memory (yielding to the event
 * loop), writes seg-K atomically, installs the new base as a new epoch (re-applying
 * the batches that arrived meanwhile) and deletes the files it superseded. A crash
 * at any point leaves either the old segment + all logs or the new segment + the
 * newer logs; both recover to the same acknowledged state.
 */
import fs from 'node:fs'
import { join } from 'node:path'
import { ERROR_CODES, NativeFreeIndexError, invalidArgument } from './errors.js'
import { BaseView, emptyBase } from './base-index.js'
import type { BaseState } from './base-index.js'
import { DeltaWriter, TOMBSTONE, emptyDelta } from './delta-index.js'
import { CTL_COMMITTED, CTL_COUNT, CTL_SLOTS, EpochView } from './epoch.js'
import type { EpochState } from './epoch.js'
import { HEADER_BYTES, encodeBatch, payloadEntryCount, visitPayload } from './log-format.js'
import type { BatchEntry, BatchVisitor, EncodedRecord } from './log-format.js'
import { LogWriter, scanLog } from './log.js'
import { readSegment, segmentName, writeSegment } from './segment.js'
import { mergeSnapshot } from './compaction.js'
import { DirectoryLock } from './lock.js'
import { Publisher } from './shared-view.js'
import type { SharedHandle } from './shared-view.js'
import { IndexReader } from './reader.js'
import { syncDirectory } from './fs-util.js'
import { viewValue } from './arena.js'

export interface OpenOptions {
  /** Open without the lock and refuse writes; the view is the state at open time. */
  readonly readOnly?: boolean
  /** Compact automatically when the log outgrows the thresholds below (default true). */
  readonly autoCompact?: boolean
  /** Never auto-compact a log smaller than this (default 64 MiB). */
  readonly compactMinLogBytes?: number
  /** Auto-compact once the log exceeds this fraction of the segment (default 0.5): keeps rewrite cost amortized O(1) per byte. */
  readonly compactLogRatio?: number
  /** Largest accepted value (default 1 MiB; at most the chunk size). */
  readonly maxValueBytes?: number
  /** Initial delta capacity in entries (default 65536; grows by doubling). */
  readonly deltaCapacity?: number
  /** log2 of the value-arena chunk size (default 30 = 1 GiB; tests use small chunks). */
  readonly chunkBits?: number
  /** Upper bound on one write group's size (default 64 MiB). */
  readonly maxGroupBytes?: number
}

const DEFAULTS = {
  readOnly: false,
  autoCompact: true,
  compactMinLogBytes: 64 << 20,
  compactLogRatio: 0.5,
  maxValueBytes: 1 << 20,
  deltaCapacity: 1 << 16,
  chunkBits: 30,
  maxGroupBytes: 64 << 20
} as const

type Options = { -readonly [K in keyof typeof DEFAULTS]: (typeof DEFAULTS)[K] extends boolean ? boolean : number }

function resolveOptions (options: OpenOptions): Options {
  const o: Options = { ...DEFAULTS }
  for (const [name, value] of Object.entries(options)) {
    if (value === undefined) continue
    if (!(name in DEFAULTS)) throw invalidArgument(`unknown option ${name}`)
    const def = DEFAULTS[name as keyof typeof DEFAULTS]
    if (typeof def === 'boolean') {
      if (typeof value !== 'boolean') throw invalidArgument(`option ${name} must be a boolean`)
    } else if (typeof value !== 'number' || !(value > 0)) {
      throw invalidArgument(`option ${name} must be a positive number`)
    }
    (o as Record<string, unknown>)[name] = value
  }
  if (!Number.isInteger(o.chunkBits) || o.chunkBits < 12 || o.chunkBits > 30) throw invalidArgument('chunkBits must be an integer in [12, 30]')
  if (options.maxValueBytes === undefined) o.maxValueBytes = Math.min(o.maxValueBytes, 2 ** o.chunkBits)
  if (o.maxValueBytes > 2 ** o.chunkBits) throw invalidArgument('maxValueBytes must not exceed the chunk size (2^chunkBits)')
  return o
}

export interface EngineStats {
  /** Number of records. */
  readonly entries: number
  /** Bytes of the segment and log files. */
  readonly bytesOnDisk: number
  /** Bytes of every shared buffer: index structures plus values. */
  readonly bytesInMemory: number
  /** Bytes of index structures alone (keys, offsets, directory, delta entries and table). */
  readonly indexBytes: number
  /** Bytes of the current log file. */
  readonly logBytes: number
  /** Entries in the delta (writes since the last compaction). */
  readonly deltaEntries: number
  readonly epoch: number
  readonly compactions: number
  /** Batches queued but not yet durable. */
  readonly pendingWrites: number
  /** Message of the last failed automatic compaction, if any. */
  readonly lastCompactionError: string | undefined
}

interface BatchJob {
  readonly kind: 'batch'
  readonly record: EncodedRecord
  readonly seq: number
  readonly resolve: () => void
  readonly reject: (err: unknown) => void
}
interface TaskJob {
  readonly kind: 'task'
  readonly run: () => Promise<void> | void
  readonly resolve: () => void
  readonly reject: (err: unknown) => void
}
type Job = BatchJob | TaskJob

const EMPTY = new Uint8Array(0)

const walName = (gen: number): string => `wal-${String(gen).padStart(12, '0')}.log`
const FILE_RE = /^(seg|wal)-(\d{12})\.(nfi|log|tmp)$/

interface DirListing { segs: number[], wals: number[], tmps: string[] }

function listDirectory (dir: string): DirListing {
  const out: DirListing = { segs: [], wals: [], tmps: [] }
  for (const name of fs.readdirSync(dir)) {
    const m = FILE_RE.exec(name)
    if (m === null) continue
    const gen = Number(m[2])
    if (m[3] === 'tmp') out.tmps.push(name)
    else if (m[1] === 'seg' && m[3] === 'nfi') out.segs.push(gen)
    else if (m[1] === 'wal' && m[3] === 'log') out.wals.push(gen)
  }
  out.segs.sort((a, b) => a - b)
  out.wals.sort((a, b) => a - b)
  return out
}

export class Engine extends IndexReader {
  readonly dir: string
  readonly readOnly: boolean
  private readonly options: Options
  private readonly publisher = new Publisher()
  private lock: DirectoryLock | null = null
  private log: LogWriter | null = null
  private segGen = 0
  private segBytes = 0
  private baseState: BaseState = emptyBase()
  private baseView: BaseView = new BaseView(this.baseState)
  private dw: DeltaWriter
  private meta = new Map<string, Uint8Array>()
  private metaChanged = false
  private recordCount = 0
  private epoch = 0
  private view!: EpochView
  private nextSeq = 1
  private lastAppliedSeq = 0
  private readonly jobs: Job[] = []
  private flushing = false
  private compacting: Promise<void> | null = null
  private compactQueued: Promise<void> | null = null
  private compactions = 0
  private lastCompactionError: string | undefined
  private failure: NativeFreeIndexError | null = null
  private closing = false
  private closePromise: Promise<void> | null = null
  private readonly applier: BatchVisitor = {
    entry: (key, payload, offset, length) => { this.applyEntry(key, payload, offset, length) },
    meta: (name, value) => { this.meta.set(name, new Uint8Array(value)); this.metaChanged = true }
  }

  private constructor (dir: string, options: Options) {
    super()
    this.dir = dir
    this.options = options
    this.readOnly = options.readOnly
    this.dw = new DeltaWriter(emptyDelta(options.deltaCapacity), 0, options.chunkBits)
  }

  /** Opens (creating if needed) the store in dir and recovers it. */
  static async open (dir: string, options: OpenOptions = {}): Promise<Engine> {
    const resolved = resolveOptions(options)
    // A read-only open races the writer's compaction, which deletes superseded files
    // between our directory listing and our reads: start over a few times.
    for (let attempt = 0; ; attempt++) {
      const engine = new Engine(dir, resolved)
      try {
        engine.recover()
        return engine
      } catch (err) {
        engine.lock?.release()
        engine.log?.close()
        engine.publisher.close()
        const vanished = (err as NodeJS.ErrnoException).code === 'ENOENT' && resolved.readOnly && fs.existsSync(dir)
        if (!vanished || attempt >= 3) throw err
      }
    }
  }

  private recover (): void {
    if (this.readOnly) {
      if (!fs.existsSync(this.dir)) throw invalidArgument(`${this.dir} does not exist`)
    } else {
      fs.mkdirSync(this.dir, { recursive: true })
      this.lock = DirectoryLock.acquire(this.dir)
    }
    const listing = listDirectory(this.dir)
    const segGen = listing.segs[listing.segs.length - 1] ?? 0
    if (segGen > 0) {
      const seg = readSegment(join(this.dir, segmentName(segGen)), this.options.chunkBits)
      this.baseState = seg.base
      this.baseView = new BaseView(seg.base)
      this.meta = new Map(seg.meta)
      this.lastAppliedSeq = seg.lastSeq
      this.segBytes = seg.fileBytes
      this.recordCount = seg.base.count
    }
    this.segGen = segGen
    const wals = listing.wals.filter((g) => g > segGen)
    wals.forEach((gen, i) => {
      if (gen !== segGen + 1 + i) {
        throw new NativeFreeIndexError(ERROR_CODES.LOG_CORRUPT, `log ${walName(segGen + 1 + i)} is missing from ${this.dir}`)
      }
    })
    let lastEnd = 0
    for (let i = 0; i < wals.length; i++) {
      const path = join(this.dir, walName(wals[i]!))
      const result = scanLog(path, {
        expectSeq: this.lastAppliedSeq + 1,
        isLast: i === wals.length - 1,
        onRecord: (seq, payload, visit) => {
          this.dw.reserve(payloadEntryCount(payload))
          visit(this.applier)
          this.lastAppliedSeq = seq
        }
      })
      lastEnd = result.validEnd
    }
    this.nextSeq = this.lastAppliedSeq + 1
    if (!this.readOnly) {
      for (const gen of listing.segs) if (gen < segGen) fs.unlinkSync(join(this.dir, segmentName(gen)))
      for (const gen of listing.wals) if (gen <= segGen) fs.unlinkSync(join(this.dir, walName(gen)))
      for (const name of listing.tmps) fs.unlinkSync(join(this.dir, name))
      const lastGen = wals[wals.length - 1]
      this.log = lastGen === undefined
        ? LogWriter.create(join(this.dir, walName(segGen + 1)), segGen + 1)
        : LogWriter.reopen(join(this.dir, walName(lastGen)), lastGen, lastEnd)
      syncDirectory(this.dir)
    }
    this.dw.changed = true
    this.publish()
  }

  // ---- reads (IndexReader) -------------------------------------------------

  protected current (): EpochView {
    return this.view
  }

  /** A structured-cloneable handle for openShared() in another thread. */
  shareHandle (): SharedHandle {
    return this.publisher.handle()
  }

  stats (): EngineStats {
    let bytesOnDisk = 0
    try {
      for (const name of fs.readdirSync(this.dir)) {
        if (FILE_RE.test(name)) bytesOnDisk += fs.statSync(join(this.dir, name)).size
      }
    } catch { /* directory removed under us: report 0 */ }
    const base = this.baseState
    const baseIndex = base.keys.byteLength + (base.offsets?.byteLength ?? 0) + base.dir.byteLength
    const d = this.dw.state
    const deltaIndex = d.keyLoc.byteLength + d.lenPrev.byteLength + d.table.byteLength
    let values = 0
    for (const c of base.chunks) values += c.byteLength
    for (const c of d.chunks) values += c.byteLength
    return {
      entries: this.recordCount,
      bytesOnDisk,
      bytesInMemory: baseIndex + deltaIndex + values,
      indexBytes: baseIndex + deltaIndex,
      logBytes: this.log?.size ?? 0,
      deltaEntries: this.dw.used,
      epoch: this.epoch,
      compactions: this.compactions,
      pendingWrites: this.jobs.length,
      lastCompactionError: this.lastCompactionError
    }
  }

  // ---- writes ----------------------------------------------------------------

  /**
   * Applies puts (value) and deletes (value null) plus metadata as one atomic unit.
   * Resolves once the batch is fsync'd and visible to readers.
   */
  writeBatch (entries: readonly BatchEntry[], meta: Readonly<Record<string, Uint8Array>> = {}): Promise<void> {
    const refused = this.refusal()
    if (refused !== null) return Promise.reject(refused)
    let record: EncodedRecord
    try {
      record = encodeBatch(entries, Object.entries(meta), this.nextSeq, this.options.maxValueBytes)
    } catch (err) {
      return Promise.reject(err)
    }
    const seq = this.nextSeq++
    return new Promise<void>((resolve, reject) => {
      this.jobs.push({ kind: 'batch', record, seq, resolve, reject })
      this.kick()
    })
  }

  /**
   * Rewrites the index into a new segment and starts an empty log. Everything
   * acknowledged before the call is in the segment when it resolves: if a
   * compaction is already running, one more runs after it (calls coalesce).
   */
  compact (): Promise<void> {
    const refused = this.refusal()
    if (refused !== null) return Promise.reject(refused)
    if (this.compacting === null) {
      this.compacting = this.runCompaction().finally(() => { this.compacting = null })
      return this.compacting
    }
    if (this.compactQueued === null) {
      this.compactQueued = this.compacting.catch(() => {}).then(() => {
        this.compactQueued = null
        return this.compact()
      })
    }
    return this.compactQueued
  }

  /** Waits for queued writes and any compaction, then releases the files. Idempotent. */
  close (): Promise<void> {
    if (this.closePromise === null) {
      this.closing = true
      this.closePromise = (async () => {
        if (this.compactQueued !== null) await this.compactQueued.catch(() => {})
        if (this.compacting !== null) await this.compacting.catch(() => {})
        if (!this.readOnly) await this.runTask(() => {}).catch(() => {})
        this.log?.close()
        this.publisher.close()
        this.lock?.release()
      })()
    }
    return this.closePromise
  }

  private refusal (): NativeFreeIndexError | null {
    if (this.readOnly) return new NativeFreeIndexError(ERROR_CODES.READ_ONLY, 'opened read-only')
    if (this.closing) return new NativeFreeIndexError(ERROR_CODES.CLOSED, 'engine is closed')
    return this.failure
  }

  private runTask (run: () => Promise<void> | void): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.jobs.push({ kind: 'task', run, resolve, reject })
      this.kick()
    })
  }

  private kick (): void {
    if (this.flushing) return
    this.flushing = true
    void this.flushLoop().finally(() => {
      this.flushing = false
      // Jobs queued after the loop's last check but before this callback ran.
      if (this.jobs.length > 0) this.kick()
    })
  }

  private async flushLoop (): Promise<void> {
    while (this.jobs.length > 0) {
      if (this.failure !== null) {
        for (const job of this.jobs.splice(0)) job.reject(this.failure)
        return
      }
      const first = this.jobs[0]!
      if (first.kind === 'task') {
        this.jobs.shift()
        try {
          await first.run()
          first.resolve()
        } catch (err) {
          first.reject(err)
        }
        continue
      }
      const group: BatchJob[] = []
      let bytes = 0
      for (const job of this.jobs) {
        if (job.kind !== 'batch') break
        if (group.length > 0 && bytes + job.record.bytes.length > this.options.maxGroupBytes) break
        group.push(job)
        bytes += job.record.bytes.length
      }
      this.jobs.splice(0, group.length)
      try {
        await this.log!.append(group.map((job) => job.record))
      } catch (err) {
        this.failure = new NativeFreeIndexError(ERROR_CODES.WRITE_FAILED, `log write failed: ${(err as Error).message}`, { cause: err })
        for (const job of group) job.reject(this.failure)
        continue
      }
      for (const job of group) {
        const payload = job.record.bytes.subarray(HEADER_BYTES)
        this.dw.reserve(job.record.entryCount)
        visitPayload(payload, this.applier)
        this.lastAppliedSeq = job.seq
      }
      this.publish()
      for (const job of group) job.resolve()
      this.maybeAutoCompact()
    }
  }

  private applyEntry (key: number, src: Uint8Array, offset: number, length: number): void {
    const dw = this.dw
    // A delete of an absent key still appends a tombstone: harmless, and it keeps
    // the write path to one hash probe.
    const prev = dw.append(key, src, offset, length)
    const existed = prev >= 0 ? dw.view.lenPrev[prev * 2] !== TOMBSTONE : this.baseView.find(key) >= 0
    if (length === TOMBSTONE) {
      if (existed) this.recordCount--
    } else if (!existed) {
      this.recordCount++
    }
  }

  /** Makes everything applied so far visible: a counter bump, or a new epoch if buffers changed. */
  private publish (): void {
    const dw = this.dw
    if (dw.changed || this.metaChanged || this.view?.state.base !== this.baseState) {
      dw.changed = false
      this.metaChanged = false
      const ctl = new SharedArrayBuffer(CTL_SLOTS * 4)
      const words = new Int32Array(ctl)
      words[CTL_COMMITTED] = dw.used
      words[CTL_COUNT] = this.recordCount
      const state: EpochState = {
        epoch: ++this.epoch,
        chunkBits: this.options.chunkBits,
        ctl,
        base: this.baseState,
        delta: dw.state,
        meta: [...this.meta]
      }
      this.view = new EpochView(state, this.baseView, dw.view)
      this.publisher.announce(state)
    } else {
      Atomics.store(this.view.ctl, CTL_COUNT, this.recordCount)
      Atomics.store(this.view.ctl, CTL_COMMITTED, dw.used)
    }
  }

  // ---- compaction ------------------------------------------------------------

  private maybeAutoCompact (): void {
    if (!this.options.autoCompact || this.compacting !== null || this.closing || this.log === null) return
    const threshold = Math.max(this.options.compactMinLogBytes, this.options.compactLogRatio * this.segBytes)
    if (this.log.size < threshold) return
    this.compact().then(
      () => { this.lastCompactionError = undefined },
      (err: unknown) => { this.lastCompactionError = (err as Error).message }
    )
  }

  private async runCompaction (): Promise<void> {
    let snapshot: { view: EpochView, committed: number, lastSeq: number, gen: number, meta: Array<[string, Uint8Array]> } | undefined
    await this.runTask(() => {
      // Between groups: everything written so far is applied and published.
      const old = this.log!
      const next = LogWriter.create(join(this.dir, walName(old.gen + 1)), old.gen + 1)
      syncDirectory(this.dir)
      this.log = next
      old.close()
      snapshot = { view: this.view, committed: this.dw.used, lastSeq: this.lastAppliedSeq, gen: old.gen, meta: [...this.meta] }
    })
    const snap = snapshot!
    const base = await mergeSnapshot(snap.view, snap.committed)
    const bytes = await writeSegment(this.dir, snap.gen, base, snap.meta, snap.lastSeq)
    this.install(base, snap.committed)
    this.segBytes = bytes
    const previous = this.segGen
    this.segGen = snap.gen
    for (let gen = previous; gen <= snap.gen; gen++) {
      for (const name of [gen < snap.gen ? segmentName(gen) : null, gen > previous ? walName(gen) : null]) {
        if (name !== null) fs.rmSync(join(this.dir, name), { force: true })
      }
    }
    syncDirectory(this.dir)
    this.compactions++
  }

  /** Swaps in a new base; delta entries after the snapshot move to a fresh delta. */
  private install (base: BaseState, committed: number): void {
    const old = this.dw
    const oldView = old.view
    this.baseState = base
    this.baseView = new BaseView(base)
    this.recordCount = base.count
    this.dw = new DeltaWriter(emptyDelta(this.options.deltaCapacity), 0, this.options.chunkBits)
    this.dw.reserve(old.used - committed)
    for (let e = committed; e < old.used; e++) {
      const key = oldView.keyLoc[e * 2]!
      const len = oldView.lenPrev[e * 2]!
      const value = len === TOMBSTONE ? EMPTY : viewValue(oldView.chunks, this.options.chunkBits, oldView.keyLoc[e * 2 + 1]!, len)
      this.applyEntry(key, value, 0, len)
    }
    this.dw.changed = true
    this.publish()
  }
}

/** Opens the store in dir (see OpenOptions). */
export async function open (dir: string, options: OpenOptions = {}): Promise<Engine> {
  return await Engine.open(dir, options)
}
