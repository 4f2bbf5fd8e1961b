/**
 * Jobs on disk, one directory each under the jobs directory (by default
 * `<data-dir>.jobs`, beside the index like the key and registry files: the
 * index directory is LMDB's and a replica may replace it wholesale, while
 * jobs belong to the node that took them):
 *
 *   <id>/job.json        what the job is (party, format, created), written once
 *   <id>/upload.json     bytes received and whether the upload is complete
 *                        (written by whichever server thread takes a chunk)
 *   <id>/input           the uploaded bytes, appended at their offsets
 *   <id>/progress.json   the runner's checkpoint: input bytes consumed, rows,
 *                        matches, errors, and how much of results/receipts
 *                        is final (only the runner writes it)
 *   <id>/results.ndjson  one answer record per row, in input order
 *   <id>/receipts.ndjson one receipt record per segment of rows
 *   idem/<hash>.json     Idempotency-Key (hashed with the party id) → job
 *
 * Every JSON file is replaced atomically (write, fsync, rename); data is
 * fsynced before the JSON that counts it, so after a crash (kill -9) the JSON
 * never claims bytes that are not there, and bytes past what it claims are
 * cut off on restart. Job ids are 128 random bits; a party sees only its own
 * jobs, any other id is "not found" (404, never 403: no oracle for ids).
 */
import { createHash, randomBytes } from 'node:crypto'
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { writeFileAtomic } from '../files/atomic-file.js'
import { ServiceError } from '../errors.js'
import type { StreamFormat } from './framing.js'
import './codes.js'

export interface JobInfo {
  readonly v: 1
  readonly id: string
  /** '' when the service runs unsigned (IDV_AUTH=none). */
  readonly partyId: string
  readonly format: StreamFormat
  /** The file's size as the client declared it (for the ETA), if it did. */
  readonly bytes: number | undefined
  /** ms since the epoch. */
  readonly createdAt: number
}

export interface UploadState {
  readonly bytes: number
  readonly complete: boolean
}

export interface Progress {
  /** Input bytes consumed (whole items only). */
  readonly inputBytes: number
  readonly rows: number
  readonly matches: number
  readonly errors: number
  /** Bytes of results.ndjson and receipts.ndjson that are final. */
  readonly resultBytes: number
  readonly receiptBytes: number
  readonly state: 'running' | 'done' | 'failed'
  readonly error?: { readonly code: string, readonly detail: string }
  /** ms since the epoch: processing began, last checkpoint, end. */
  readonly startedAt?: number
  readonly updatedAt: number
  readonly finishedAt?: number
}

export const NO_PROGRESS: Progress = { inputBytes: 0, rows: 0, matches: 0, errors: 0, resultBytes: 0, receiptBytes: 0, state: 'running', updatedAt: 0 }

const ID = /^[A-Za-z0-9_-]{22}$/
const STALE_LOCK_MS = 60_000

export class JobStore {
  readonly dir: string
  readonly retentionMs: number

  constructor (dir: string, retentionDays: number) {
    this.dir = dir
    this.retentionMs = retentionDays * 86_400_000
    mkdirSync(join(dir, 'idem'), { recursive: true })
  }

  path (id: string, file: string): string {
    return join(this.dir, id, file)
  }

  /**
   * A new job, or the one an earlier create with the same Idempotency-Key made
   * (same body); a different body under the same key is 422.
   */
  create (partyId: string, idempotencyKey: string, body: Uint8Array, spec: { format: StreamFormat, bytes: number | undefined }): { job: JobInfo, created: boolean } {
    const idem = join(this.dir, 'idem', `${createHash('sha256').update(`${partyId}\0${idempotencyKey}`).digest('hex')}.json`)
    const bodyHash = createHash('sha256').update(body).digest('base64url')
    const earlier = this.#idempotent(idem, bodyHash, partyId)
    if (earlier !== undefined) return { job: earlier, created: false }
    const job: JobInfo = { v: 1, id: randomBytes(16).toString('base64url'), partyId, format: spec.format, bytes: spec.bytes, createdAt: Date.now() }
    mkdirSync(join(this.dir, job.id))
    writeFileSync(this.path(job.id, 'input'), '')
    writeFileAtomic(this.path(job.id, 'upload.json'), JSON.stringify({ bytes: 0, complete: false } satisfies UploadState))
    writeFileAtomic(this.path(job.id, 'job.json'), JSON.stringify(job))
    try {
      writeFileSync(idem, JSON.stringify({ id: job.id, bodyHash }), { flag: 'wx' })
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
      // Another thread created under the same key a moment ago: theirs wins.
      rmSync(join(this.dir, job.id), { recursive: true, force: true })
      const theirs = this.#idempotent(idem, bodyHash, partyId)
      if (theirs !== undefined) return { job: theirs, created: false }
      throw new ServiceError('IDV_ERR_INTERNAL', 'the Idempotency-Key record could not be read')
    }
    return { job, created: true }
  }

  #idempotent (file: string, bodyHash: string, partyId: string): JobInfo | undefined {
    let seen: { id: string, bodyHash: string }
    try {
      seen = JSON.parse(readFileSync(file, 'utf8')) as { id: string, bodyHash: string }
    } catch {
      return undefined
    }
    if (seen.bodyHash !== bodyHash) throw new ServiceError('IDV_ERR_IDEMPOTENCY_KEY_REUSED', 'this Idempotency-Key made a job with another body')
    const job = this.info(seen.id)
    if (job === undefined || job.partyId !== partyId) return undefined // expired and removed: a new job
    return job
  }

  /** The job, if it exists (whoever owns it). */
  info (id: string): JobInfo | undefined {
    if (!ID.test(id)) return undefined
    try {
      return JSON.parse(readFileSync(this.path(id, 'job.json'), 'utf8')) as JobInfo
    } catch {
      return undefined
    }
  }

  /** The party's job or 404: another party's id reads exactly like one that does not exist. */
  owned (id: string, partyId: string): JobInfo {
    const job = this.info(id)
    if (job === undefined || job.partyId !== partyId) throw new ServiceError('IDV_ERR_JOB_NOT_FOUND', 'no such job')
    return job
  }

  upload (id: string): UploadState {
    return JSON.parse(readFileSync(this.path(id, 'upload.json'), 'utf8')) as UploadState
  }

  progress (id: string): Progress {
    try {
      return JSON.parse(readFileSync(this.path(id, 'progress.json'), 'utf8')) as Progress
    } catch {
      return NO_PROGRESS
    }
  }

  saveProgress (id: string, p: Progress): void {
    writeFileAtomic(this.path(id, 'progress.json'), JSON.stringify(p))
  }

  /**
   * Appends a chunk at `offset`, which must be where the upload stands (409
   * with the right offset otherwise); `complete` closes the upload. One chunk
   * at a time per job (a lock file; a stale one, left by a crash, is taken over).
   */
  appendChunk (id: string, offset: number, chunk: Uint8Array, complete: boolean): UploadState {
    const lock = this.path(id, 'upload.lock')
    takeLock(lock)
    try {
      const now = this.upload(id)
      if (now.complete) throw new ServiceError('IDV_ERR_JOB_STATE', 'the upload of this job is already complete')
      if (offset !== now.bytes) throw Object.assign(new ServiceError('IDV_ERR_UPLOAD_OFFSET', `this chunk starts at ${offset}; the upload stands at ${now.bytes}`), { uploadOffset: now.bytes })
      if (chunk.byteLength > 0) {
        const fd = openSync(this.path(id, 'input'), 'r+')
        try {
          let done = 0
          while (done < chunk.byteLength) done += writeSync(fd, chunk, done, chunk.byteLength - done, offset + done)
          fsyncSync(fd)
        } finally {
          closeSync(fd)
        }
      }
      const next: UploadState = { bytes: offset + chunk.byteLength, complete }
      writeFileAtomic(this.path(id, 'upload.json'), JSON.stringify(next))
      return next
    } finally {
      rmSync(lock, { force: true })
    }
  }

  remove (id: string): void {
    rmSync(join(this.dir, id), { recursive: true, force: true })
  }

  /** Every job id, oldest first. */
  list (): JobInfo[] {
    const jobs: JobInfo[] = []
    for (const name of readdirSync(this.dir)) {
      const job = this.info(name)
      if (job !== undefined) jobs.push(job)
    }
    return jobs.sort((a, b) => a.createdAt - b.createdAt)
  }

  /** Removes jobs older than the retention period, and idempotency records pointing at none. */
  sweep (now = Date.now()): number {
    let removed = 0
    for (const job of this.list()) {
      if (now - job.createdAt > this.retentionMs) { this.remove(job.id); removed++ }
    }
    for (const name of readdirSync(join(this.dir, 'idem'))) {
      const file = join(this.dir, 'idem', name)
      try {
        if (now - statSync(file).mtimeMs > this.retentionMs) rmSync(file, { force: true })
      } catch { /* removed meanwhile */ }
    }
    return removed
  }

  exists (id: string): boolean {
    return existsSync(this.path(id, 'job.json'))
  }
}

function takeLock (file: string): void {
  try {
    writeFileSync(file, String(Date.now()), { flag: 'wx' })
    return
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new ServiceError('IDV_ERR_JOB_NOT_FOUND', 'no such job')
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
  }
  let since = 0
  try { since = Number(readFileSync(file, 'utf8')) } catch { /* gone meanwhile */ }
  if (Date.now() - since < STALE_LOCK_MS) throw new ServiceError('IDV_ERR_JOB_STATE', 'another chunk of this job is being uploaded; retry')
  rmSync(file, { force: true })
  writeFileSync(file, String(Date.now()), { flag: 'wx' })
}
