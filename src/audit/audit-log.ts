/**
 * The node's audit log writer: one per process, on the main thread.
 *
 * Group commit: records appended during one event-loop turn (from this
 * thread, or relayed from the others) become one batch: one O_DSYNC write
 * to the newest segment (data on disk when it returns), while the next batch
 * gathers. Only once a batch is durable are its answers released (`done`), so
 * an answer is never sent unrecorded; the price is the batch's wait for the
 * disk (bench/README.md). With `sync: false` the answers wait for the write
 * to the OS only, and the segment is fdatasynced before each checkpoint.
 * Then the batch's leaf hashes extend the tree's right edge, and its hashes,
 * citizen keys and party counts go to the index in one LMDB transaction,
 * synchronous and unsynced (the index can be rebuilt from the segments; it
 * is synced to disk before each checkpoint that relies on it). Synchronous
 * also because lmdb-js leaves an unhandled rejection behind every failed
 * asynchronous commit, which would end the process on a full disk.
 *
 * Checkpoints: every `checkpointMs` while entries arrived since the last one,
 * the root of the durable tree is signed (checkpoint.ts), appended to
 * `checkpoints.log` (fsynced) and then published through the index, after
 * the hashes it covers.
 *
 * Failure: a write, fsync or index error puts the log in a failed state: every
 * append is refused at once (the routes answer 503 and /readyz turns 503)
 * until a probe, once a second, can write again (segment cut back to its
 * durable length, space for a batch, index caught up from the segments).
 *
 * Retention: a sealed segment whose every entry is older than the retention
 * period is deleted whole, with its citizen keys and the subtree hashes only
 * it needed; the hashes of the complete subtrees left of the first kept entry
 * (the right edge of the removed prefix) stay, so the roots of every kept
 * checkpoint and the proofs of every kept entry can still be computed.
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { mkdir, open as openFile, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { getSystemErrorName } from 'node:util'
import { Worker } from 'node:worker_threads'
import { packageRoot } from '../paths.js'
import type { Logger } from '../log.js'
import { leafHash } from '../merkle/rfc6962.js'
import { RightEdge, type SubtreeHash } from '../merkle/right-edge.js'
import { AuditIndex, HASH_RECORD_BYTES, PIN_RECORD_BYTES, pinKey, pinValue } from './audit-index.js'
import type { IndexReply, IndexWork } from './index-writer.js'
import { signCheckpoint, openCheckpoint, parseVerifierKey, type Checkpoint, type NoteSigner } from './checkpoint.js'
import { decodeEntry, encodeEntry, isNoMatch, type AuditEntry, type AuditRecord } from './entry.js'
import { frameRecords, listSegments, RECORD_HEADER, readRecord, scanRecords, segmentName, SegmentWriter } from './segments.js'
import { subtreeHashes } from './tree-hashes.js'

export interface AuditLogOptions {
  /** This node's log directory. */
  readonly dir: string
  readonly node: string
  /** The checkpoints' origin line (and the signer key's name). */
  readonly origin: string
  readonly signer: NoteSigner
  /** A segment is sealed at this many entries... */
  readonly segmentEntries: number
  /** ...or once its first entry is this old, so retention can remove it in time. */
  readonly segmentSeconds: number
  readonly retentionSeconds: number
  readonly checkpointMs: number
  /**
   * true: an answer waits for its batch's fdatasync (survives power loss).
   * false: for its batch's write to the OS (survives the process being
   * killed; an OS crash can lose the entries of the last checkpoint interval,
   * which no published checkpoint covers, since each is signed after an fdatasync).
   */
  readonly sync?: boolean
  readonly log: Logger
  readonly now?: () => number
}

interface Pending {
  readonly records: readonly AuditRecord[]
  readonly done: () => void
  readonly fail: (reason: string) => void
}

export interface AuditStats {
  entries: number
  bytes: number
  failures: number
  /** Entries in the tree. */
  size: number
  /** Size and time of the newest checkpoint. */
  checkpointSize: number
  checkpointTime: number
  /** When the oldest entry not covered by a checkpoint was written (0: all covered). */
  uncoveredSince: number
}

export const CHECKPOINTS_FILE = 'checkpoints.log'
/** The verifier key, beside the log, for `idv audit verify` run where the log lies. */
export const VERIFIER_KEY_FILE = 'verifier.key'
/** Bytes the probe of a failed log must be able to write: room for a typical batch. */
const PROBE_BYTES = 64 * 1024
const PROBE_MS = 1000
/** Work for the index writer that answers, without its id (which #ask adds). */
type IndexRequest = IndexWork extends infer W ? W extends { id: number } ? Omit<W, 'id'> : never : never

/** The compiled index writer (workers run built code, as the chip pool's do). */
const INDEX_WRITER = (): string => join(packageRoot(), 'dist', 'src', 'audit', 'index-writer.js')
/** How often retention looks for segments past the retention period. */
const RETAIN_EVERY_MS = 60_000

export class AuditLog {
  readonly options: AuditLogOptions
  readonly index: AuditIndex
  readonly #writer: SegmentWriter
  readonly #now: () => number
  #edge = new RightEdge()
  #pending: Pending[] = []
  #running = false
  #scheduled = false
  #failure: string | undefined
  #probe: NodeJS.Timeout | undefined
  #ticker: NodeJS.Timeout | undefined
  #segmentFirstTime = 0
  #checkpoint: Checkpoint | undefined
  #closed = false
  #retainedAt = 0
  #idle: Promise<void> = Promise.resolve()
  /** The index writer thread (index-writer.ts) and its pending answers. */
  #indexWorker: Worker | undefined
  readonly #replies = new Map<number, { resolve: () => void, reject: (err: Error) => void }>()
  #nextRequest = 0
  readonly stats: AuditStats = { entries: 0, bytes: 0, failures: 0, size: 0, checkpointSize: 0, checkpointTime: 0, uncoveredSince: 0 }
  /** Called when the log fails or recovers (undefined: healthy again). */
  onState: ((failure: string | undefined) => void) | undefined

  private constructor (options: AuditLogOptions, index: AuditIndex) {
    this.options = options
    this.index = index
    this.#writer = new SegmentWriter(join(options.dir, 'segments'), options.sync !== false)
    this.#now = options.now ?? Date.now
  }

  /** Opens (or creates) the log, replays what the index missed, and checks the newest checkpoint against the tree. */
  static async open (options: AuditLogOptions): Promise<AuditLog> {
    await mkdir(join(options.dir, 'segments'), { recursive: true })
    writeFileSync(join(options.dir, VERIFIER_KEY_FILE), `${options.signer.verifierKey}\n`)
    const log = new AuditLog(options, AuditIndex.open(join(options.dir, 'index')))
    try {
      log.#startIndexWorker()
      await log.#recover()
    } catch (err) {
      await log.#stopIndexWorker()
      await log.index.close()
      throw err
    }
    log.#ticker = setInterval(() => { void log.#tick() }, options.checkpointMs)
    log.#ticker.unref()
    return log
  }

  get size (): number {
    return this.#edge.size
  }

  /** Why the log cannot be written now; undefined while it can. */
  get failure (): string | undefined {
    return this.#failure
  }

  get checkpoint (): Checkpoint | undefined {
    return this.#checkpoint
  }

  /**
   * Records answers; `done` once they are durable, `fail` (with the reason) if
   * they cannot be, at once while the log is failed. Callbacks, not a Promise:
   * this runs once per answer.
   */
  append (records: readonly AuditRecord[], done: () => void, fail: (reason: string) => void): void {
    if (this.#failure !== undefined || this.#closed) { fail(this.#failure ?? 'the audit log is closed'); return }
    this.#pending.push({ records, done, fail })
    if (this.#running || this.#scheduled) return
    this.#scheduled = true
    // Answers of this turn join the batch; the write starts once the turn's I/O callbacks are done.
    setImmediate(() => { this.#scheduled = false; this.#idle = this.#run() })
  }

  async #run (): Promise<void> {
    if (this.#running) return
    this.#running = true
    try {
      while (this.#pending.length > 0) {
        const batch = this.#pending
        this.#pending = []
        if (this.#failure !== undefined) { for (const p of batch) p.fail(this.#failure); continue }
        await this.#write(batch)
      }
    } finally {
      this.#running = false
    }
  }

  async #write (batch: readonly Pending[]): Promise<void> {
    const nowMs = this.#now()
    const time = new Date(nowMs).toISOString()
    const entries: Buffer[] = []
    const records: AuditRecord[] = []
    for (const p of batch) for (const r of p.records) { entries.push(encodeEntry(time, this.options.node, r)); records.push(r) }
    try {
      if (this.#writer.count > 0 && (this.#writer.count + entries.length > this.options.segmentEntries || nowMs - this.#segmentFirstTime > this.options.segmentSeconds * 1000)) {
        await this.#writer.open(this.#edge.size, 0, 0)
      }
      if (this.#writer.count === 0) this.#segmentFirstTime = nowMs
      const { bytes, offsets } = frameRecords(entries)
      const base = this.#writer.length
      await this.#writer.append(bytes, entries.length)
      this.stats.entries += entries.length
      this.stats.bytes += bytes.length
      if (this.stats.uncoveredSince === 0) this.stats.uncoveredSince = nowMs
      try {
        this.#applyToIndex(entries, offsets.map((o) => base + o), records.map((r) => ({ ...r, time, node: this.options.node })))
      } catch (err) {
        // The entries are durable and their answers go out; the index catches up on recovery.
        this.#fail(err)
      }
    } catch (err) {
      this.#fail(err)
      for (const p of batch) p.fail(this.#failure!)
      return
    }
    for (const p of batch) p.done()
  }

  /** Extends the right edge and writes the batch's hashes, citizen keys and counts in one index transaction. */
  #applyToIndex (entries: readonly Buffer[], offsets: readonly number[], decoded?: readonly AuditEntry[]): void {
    const hashes: SubtreeHash[] = []
    const pins: Array<[Buffer, Buffer]> = []
    const usage = new Map<string, { party: string, day: string, requests: number, noMatch: number }>()
    for (let i = 0; i < entries.length; i++) {
      const index = this.#edge.size
      this.#edge.append(leafHash(entries[i]!), (s) => { hashes.push(s) })
      // Replayed entries are decoded from their bytes; a live batch passes what it encoded.
      const e = decoded?.[i] ?? decodeEntry(entries[i]!)
      if (e !== undefined) this.#note(e, entries[i]!.length, index, offsets[i]!, pins, usage)
    }
    const state = { size: this.#edge.size, segment: this.#writer.start, offset: this.#writer.length }
    this.stats.size = this.#edge.size
    this.#commit(hashes, pins, usage, state)
  }

  #note (e: AuditEntry, length: number, index: number, offset: number, pins: Array<[Buffer, Buffer]>, usage: Map<string, { party: string, day: string, requests: number, noMatch: number }>): void {
    if (e.pinHash !== null) pins.push([pinKey(Buffer.from(e.pinHash, 'base64url'), index), pinValue(Date.parse(e.time), offset, length)])
    if (e.partyId !== null) {
      const day = e.time.slice(0, 10)
      const key = `${e.partyId}\u0000${day}`
      let u = usage.get(key)
      if (u === undefined) { u = { party: e.partyId, day, requests: 0, noMatch: 0 }; usage.set(key, u) }
      u.requests++
      if (isNoMatch(e.results)) u.noMatch++
    }
  }

  /** Hands the batch's index writes to the index writer thread (one transaction there); a failure comes back as a message. */
  #commit (hashes: readonly SubtreeHash[], pins: ReadonlyArray<[Buffer, Buffer]>, usage: ReadonlyMap<string, { party: string, day: string, requests: number, noMatch: number }>, state: { size: number, segment: number, offset: number }): void {
    // Own ArrayBuffers (not the shared pool's), so they can be transferred rather than copied.
    const packedHashes = Buffer.allocUnsafeSlow(hashes.length * HASH_RECORD_BYTES)
    hashes.forEach((h, i) => {
      const at = i * HASH_RECORD_BYTES
      packedHashes[at] = h.level
      packedHashes.writeDoubleBE(h.index, at + 1)
      h.hash.copy(packedHashes, at + 9)
    })
    const packedPins = Buffer.allocUnsafeSlow(pins.length * PIN_RECORD_BYTES)
    pins.forEach(([k, v], i) => { k.copy(packedPins, i * PIN_RECORD_BYTES); v.copy(packedPins, i * PIN_RECORD_BYTES + k.length) })
    const work: IndexWork = { op: 'apply', hashes: packedHashes, pins: packedPins, usage: [...usage.values()].map((u) => [u.party, u.day, u.requests, u.noMatch]), state }
    this.#indexWorker!.postMessage(work, [packedHashes.buffer as ArrayBuffer, packedPins.buffer as ArrayBuffer])
  }

  #startIndexWorker (): void {
    const worker = new Worker(INDEX_WRITER(), { workerData: { dir: join(this.options.dir, 'index') } })
    worker.on('message', (r: IndexReply) => {
      const waiting = r.id === undefined ? undefined : this.#replies.get(r.id)
      if (r.id !== undefined) this.#replies.delete(r.id)
      const err = r.error === undefined ? undefined : Object.assign(new Error(r.error.message), r.error.code === undefined ? {} : { code: r.error.code })
      if (waiting !== undefined) { if (err === undefined) waiting.resolve(); else waiting.reject(err) } else if (err !== undefined) this.#fail(err)
    })
    worker.on('error', (err) => { this.#fail(err) })
    worker.unref()
    this.#indexWorker = worker
  }

  /** Sends work that answers, and waits for its answer (so for everything sent before it). */
  async #ask (work: IndexRequest): Promise<void> {
    const worker = this.#indexWorker
    if (worker === undefined) throw new Error('the audit index writer is not running')
    const id = this.#nextRequest++
    // Waiting on the writer keeps the process alive (an unref'd worker would not: a start-up replay could end the process).
    worker.ref()
    try {
      await new Promise<void>((resolve, reject) => {
        this.#replies.set(id, { resolve, reject })
        worker.postMessage({ ...work, id })
      })
    } finally {
      if (this.#replies.size === 0) worker.unref()
    }
    // This thread's LMDB read transaction may predate what the writer thread just committed.
    this.index.root.resetReadTxn()
  }

  async #stopIndexWorker (): Promise<void> {
    const worker = this.#indexWorker
    if (worker === undefined) return
    await settleWithin(this.#ask({ op: 'close' }), this.#failure === undefined ? 30_000 : 1000)
    this.#indexWorker = undefined
    await worker.terminate()
    for (const w of this.#replies.values()) w.reject(new Error('the audit index writer stopped'))
    this.#replies.clear()
  }

  /** Signs a checkpoint of the durable tree if it grew since the last one; now and then, applies retention. */
  async #tick (): Promise<void> {
    if (this.#failure !== undefined || this.#closed) return
    try {
      await this.publishCheckpoint()
      if (this.#now() - this.#retainedAt >= RETAIN_EVERY_MS) {
        this.#retainedAt = this.#now()
        const removed = await this.retain()
        if (removed > 0) this.options.log.info({ segments: removed, retained: this.index.retained() }, 'audit retention removed old segments')
      }
    } catch (err) {
      this.#fail(err)
    }
  }

  /** Signs, stores and publishes a checkpoint of the tree as it is now (when it grew); resolves with the newest. */
  async publishCheckpoint (): Promise<Checkpoint | undefined> {
    const size = this.#edge.size
    if (size === 0 || (this.#checkpoint !== undefined && this.#checkpoint.size >= size)) return this.#checkpoint
    const root = this.#edge.root()
    // Entries written without waiting for the disk become durable here, before any checkpoint covers them.
    if (this.options.sync === false) await this.#writer.sync()
    const cp = signCheckpoint(this.options.origin, size, root, this.options.signer)
    const { bytes } = frameRecords([Buffer.from(cp.note, 'utf8')])
    const file = await openFile(join(this.options.dir, CHECKPOINTS_FILE), 'a')
    try {
      await file.write(bytes)
      await file.datasync()
    } finally {
      await file.close()
    }
    // After the batches it covers: the index writer syncs them to disk, then publishes the note.
    await this.#ask({ op: 'publish', note: cp.note })
    this.#checkpoint = cp
    this.stats.checkpointSize = size
    this.stats.checkpointTime = this.#now()
    if (this.#edge.size === size) this.stats.uncoveredSince = 0
    return cp
  }

  #fail (err: unknown): void {
    const reason = `the audit log cannot be written (${errorName(err)})`
    this.stats.failures++
    if (this.#failure !== undefined) return
    this.#failure = reason
    // lmdb-js says why a commit failed a moment later: name the errno once it does.
    const commit = (err as { commitError?: unknown } | undefined)?.commitError
    if (commit instanceof Promise) commit.catch((inner: unknown) => { if (this.#failure === reason) this.#failure = `the audit log cannot be written (${errorName(inner)})` })
    this.options.log.error({ err }, 'audit log failed: verification answers are refused until it can be written')
    this.onState?.(reason)
    this.#probe = setInterval(() => { void this.#tryRecover() }, PROBE_MS)
    this.#probe.unref()
  }

  async #tryRecover (): Promise<void> {
    if (this.#running || this.#closed) return
    this.#running = true
    try {
      await this.#writer.probe(PROBE_BYTES)
      await this.#ask({ op: 'barrier' })
      await this.#recover()
    } catch (err) {
      errorName(err) // handles lmdb-js's commitError
      return
    } finally {
      this.#running = false
    }
    clearInterval(this.#probe)
    this.#probe = undefined
    this.#failure = undefined
    this.options.log.info('audit log writable again')
    this.onState?.(undefined)
    if (this.#pending.length > 0) this.#idle = this.#run()
  }

  /**
   * Brings the index up to the segments (replaying what it missed), rebuilds
   * the right edge from it, opens the newest segment past its last whole
   * record, and checks the newest checkpoint's root against the tree.
   */
  async #recover (): Promise<void> {
    const segDir = this.#writer.dir
    const starts = listSegments(segDir)
    const state = this.index.state()
    const retained = this.index.retained()
    if (starts.length === 0) {
      this.#edge = edgeAt(this.index, state.size)
      await this.#writer.open(state.size, 0, 0)
      await this.#verifyCheckpoint()
      return
    }
    // Replay every segment from the one the index stopped in.
    let size = state.size
    const from = starts.findIndex((s) => s === state.segment)
    const replay = from < 0 ? starts.filter((s) => s >= Math.max(retained, 0)) : starts.slice(from)
    this.#edge = edgeAt(this.index, state.size)
    for (const [i, start] of replay.entries()) {
      const bytes = readFileSync(join(segDir, segmentName(start)))
      const begin = start === state.segment ? state.offset : 0
      if (start !== state.segment && start !== size) throw new Error(`audit segment ${segmentName(start)} starts at ${start}, but the log before it ends at ${size}`)
      const entries: Buffer[] = []
      const offsets: number[] = []
      const end = scanRecords(bytes, begin, (entry, offset) => { entries.push(Buffer.from(entry)); offsets.push(offset) })
      if (entries.length > 0) {
        this.#applyToIndex(entries, offsets)
        size = this.#edge.size
      }
      if (i === replay.length - 1) {
        const count = size - start
        await this.#writer.open(start, end, count)
        const first = count > 0 ? readFirstTime(join(segDir, segmentName(start))) : undefined
        this.#segmentFirstTime = first ?? this.#now()
      }
    }
    this.stats.size = this.#edge.size
    // The replayed batches are committed by the index writer before the checkpoint is checked against them.
    await this.#ask({ op: 'barrier' })
    await this.#verifyCheckpoint()
  }

  async #verifyCheckpoint (): Promise<void> {
    const note = this.index.checkpoint()
    if (note === undefined) return
    const opened = openCheckpoint(note, parseVerifierKey(this.options.signer.verifierKey), this.options.origin)
    if (!opened.ok) throw new Error(`the newest audit checkpoint does not verify: ${opened.reason}`)
    const cp = opened.checkpoint
    if (cp.size > this.#edge.size) throw new Error(`the newest audit checkpoint covers ${cp.size} entries, the log holds ${this.#edge.size}: entries were lost`)
    const root = subtreeHashes((l, i) => this.index.hash(l, i))(0, cp.size)
    if (!root.equals(cp.root)) throw new Error(`the audit log does not match its newest checkpoint (size ${cp.size}): it was changed`)
    this.#checkpoint = cp
    this.stats.checkpointSize = cp.size
    this.stats.checkpointTime = this.#now()
  }

  /** Deletes sealed segments whose every entry is older than the retention period; resolves with how many. */
  async retain (): Promise<number> {
    const cutoff = this.#now() - this.options.retentionSeconds * 1000
    const starts = listSegments(this.#writer.dir)
    let removed = 0
    for (let i = 0; i + 1 < starts.length; i++) {
      const start = starts[i]!
      const next = starts[i + 1]!
      if (next > this.index.state().size) break // not indexed yet
      const nextFirst = readFirstTime(join(this.#writer.dir, segmentName(next)))
      if (nextFirst === undefined || nextFirst >= cutoff) break
      await this.#removeSegment(start, next)
      removed++
    }
    return removed
  }

  async #removeSegment (start: number, next: number): Promise<void> {
    const before = this.index.retained()
    const bytes = await readFile(join(this.#writer.dir, segmentName(start)))
    const pinKeys: Buffer[] = []
    let index = start
    scanRecords(bytes, 0, (entry) => {
      const e = decodeEntry(entry)
      if (e?.pinHash != null) pinKeys.push(pinKey(Buffer.from(e.pinHash, 'base64url'), index))
      index++
    })
    // The index writer removes the keys and every subtree hash that ends by `next` but the right edge of [0, next).
    await this.#ask({ op: 'retain', pinKeys: Buffer.concat(pinKeys), before, next })
    await this.#writer.remove(start)
  }

  /** Waits for the batch being written and the index; stops the timers. */
  async close (): Promise<void> {
    if (this.#closed) return
    await this.#idle
    await this.#run()
    if (this.#failure === undefined) await this.publishCheckpoint().catch(() => {})
    this.#closed = true
    clearInterval(this.#ticker)
    clearInterval(this.#probe)
    await this.#writer.close()
    // A failed index (a full disk) may never flush: the writer thread is given up on after a while rather than hang the shutdown.
    await this.#stopIndexWorker()
    await this.index.close()
  }
}

/**
 * The errno name of a write failure (ENOSPC, EIO): Node gives it as `code`;
 * lmdb-js gives a failed commit whose `commitError` (a Promise, handled here
 * so it is not an unhandled rejection) carries the errno number.
 */
function errorName (err: unknown): string {
  const e = err as { code?: unknown, commitError?: unknown, message?: unknown } | undefined
  if (e?.commitError instanceof Promise) e.commitError.catch(() => {})
  if (typeof e?.code === 'string') return e.code
  if (typeof e?.code === 'number') return errnoName(e.code)
  const m = typeof e?.message === 'string' ? /No space left on device|Input\/output error/.exec(e.message) : null
  if (m !== null) return m[0] === 'No space left on device' ? 'ENOSPC' : 'EIO'
  return typeof e?.message === 'string' ? e.message : String(err)
}

function errnoName (n: number): string {
  try {
    return getSystemErrorName(n > 0 ? -n : n)
  } catch {
    return `errno ${n}`
  }
}

async function settleWithin (p: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  await Promise.race([p.catch(() => {}), new Promise<void>((resolve) => { timer = setTimeout(resolve, ms) })])
  clearTimeout(timer)
}

/** The right edge of a tree of `size` leaves, read from the stored hashes. */
function edgeAt (index: AuditIndex, size: number): RightEdge {
  const pieces = RightEdge.pieces(size).map(({ level, index: i }) => {
    const hash = index.hash(level, i)
    if (hash === undefined) throw new Error(`the audit index lacks subtree ${i} at level ${level}; remove ${'index/'} to rebuild it from the segments`)
    return { level, index: i, hash }
  })
  return new RightEdge(size, pieces)
}

/** The time of a segment's first entry (ms), or undefined when it has none. */
function readFirstTime (path: string): number | undefined {
  const header = readRecord(path, -RECORD_HEADER, RECORD_HEADER)
  if (header === undefined) return undefined
  const entry = readRecord(path, 0, header.readUInt32BE(0))
  const e = entry === undefined ? undefined : decodeEntry(entry)
  return e === undefined ? undefined : Date.parse(e.time)
}

