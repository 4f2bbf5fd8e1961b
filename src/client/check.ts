/**
 * `idv check FILE`: the operator's client for bulk verification. It reads a
 * CSV export or NDJSON items (check-input.ts), signs its requests (RFC 9421,
 * the party's key), and either streams the rows through POST
 * /v1/verify/stream (default) or runs them as a job (--job: chunked upload,
 * then the results downloaded with range requests). It writes the answers
 * (NDJSON as received, so receipts verify against them, or CSV), the receipt
 * records beside them (OUT.receipts.ndjson), and shows a progress bar.
 *
 * Resuming (--resume, and automatically after a lost connection, up to
 * --retries times): the rows already answered are not sent again. A stream
 * resumes from the last row a receipt covers when the service signs answers
 * (rows answered after it, but not yet signed for, are dropped from the file
 * and asked again), so every row is answered exactly once in the file and
 * every answer is covered by a receipt. A job resumes its upload from the
 * offset the service holds and its download from the size of the file.
 *
 * Exit codes (CheckError): 0 done; 1 the service refused the input (a
 * framing error: the message names the row); 2 usage; 3 connection lost and
 * not recovered; 4 authentication or policy refused; 5 rate or quota.
 */
import { randomUUID } from 'node:crypto'
import { closeSync, existsSync, ftruncateSync, openSync, readFileSync, readSync, renameSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs'
import { Readable } from 'node:stream'
import { ATTRIBUTES } from '../domain/record.js'
import { UsageError } from '../errors.js'
import { signRequest, type SigningKey } from '../signatures/request-signer.js'
import { readSigningKey } from './call.js'
import { countRows, itemLines } from './check-input.js'

export interface CheckOptions {
  readonly file: string
  readonly url: string
  readonly keyId: string
  readonly keyFile: string
  /** Default: FILE.results.ndjson (or .csv). */
  readonly out?: string | undefined
  readonly format: 'ndjson' | 'csv'
  readonly resume: boolean
  readonly job: boolean
  /** Reconnections after a lost connection before giving up. */
  readonly retries: number
  /** Called as rows are answered (the progress bar). */
  readonly onProgress?: (p: CheckProgress) => void
  /** Upload chunk size of a job. */
  readonly chunkBytes?: number
}

export interface CheckProgress {
  readonly total: number
  readonly rows: number
  readonly matches: number
  readonly errors: number
}

export interface CheckSummary extends CheckProgress {
  readonly out: string
  readonly receipts: string
  /** Rows found answered when the run started (resumed). */
  readonly resumedFrom: number
  readonly reconnects: number
}

export class CheckError extends Error {
  readonly exitCode: number
  constructor (exitCode: number, message: string) {
    super(message)
    this.name = 'CheckError'
    this.exitCode = exitCode
  }
}

/** A lost connection (to retry), as opposed to an answer that ends the run. */
class Lost extends Error {}

const RESUME = '; run the same command with --resume to continue once the service answers again'
/** Codes by which the service says it cannot answer now (a drain, its audit log, its crypto pool, the fleet): come back later. */
const NOT_NOW = new Set(['IDV_ERR_NOT_READY', 'IDV_ERR_AUDIT_UNAVAILABLE', 'IDV_ERR_OVERLOADED', 'IDV_ERR_FLEET_UNAVAILABLE'])

/**
 * The exit code for a refusal (with its HTTP status) or a run the service
 * ended (code only): 5 rate or quota, 4 authentication or policy, 3 the service
 * cannot answer now (as a lost connection: resume later), 1 the input or
 * anything else.
 */
export function exitCodeFor (code: string | undefined, status?: number): number {
  if (code === 'IDV_ERR_QUOTA_EXCEEDED' || code === 'IDV_ERR_RATE_LIMITED' || status === 429) return 5
  if (status === 401 || status === 403) return 4
  if ((code !== undefined && NOT_NOW.has(code)) || status === 503) return 3
  return 1
}

export function outputPaths (o: Pick<CheckOptions, 'file' | 'out' | 'format'>): { out: string, receipts: string, state: string } {
  const out = o.out ?? `${o.file}.results.${o.format}`
  return { out, receipts: `${out}.receipts.ndjson`, state: `${out}.check.json` }
}

export async function check (o: CheckOptions): Promise<CheckSummary> {
  const key = readSigningKey(o.keyId, o.keyFile)
  let base: URL
  try {
    base = new URL(o.url)
  } catch {
    throw new UsageError(`--url ${o.url} is not a valid URL (e.g. http://127.0.0.1:8080)`)
  }
  const paths = outputPaths(o)
  if (!o.resume && (existsSync(paths.out) || existsSync(paths.state))) throw new UsageError(`${paths.out} already exists: add --resume to continue it, or remove it`)
  const total = await countRows(o.file)
  const run = new Run(o, key, base, paths, total)
  return o.job ? await run.job() : await run.stream()
}

interface Paths { readonly out: string, readonly receipts: string, readonly state: string }

class Run {
  readonly #o: CheckOptions
  readonly #key: SigningKey
  readonly #base: URL
  readonly #paths: Paths
  readonly #total: number
  #matches = 0
  #errors = 0
  #rows = 0
  #reconnects = 0
  #resumedFrom = 0

  constructor (o: CheckOptions, key: SigningKey, base: URL, paths: Paths, total: number) {
    this.#o = o
    this.#key = key
    this.#base = base
    this.#paths = paths
    this.#total = total
  }

  #summary (): CheckSummary {
    return { out: this.#paths.out, receipts: this.#paths.receipts, total: this.#total, rows: this.#rows, matches: this.#matches, errors: this.#errors, resumedFrom: this.#resumedFrom, reconnects: this.#reconnects }
  }

  #progress (): void {
    this.#o.onProgress?.({ total: this.#total, rows: this.#rows, matches: this.#matches, errors: this.#errors })
  }

  #signed (method: string, path: string, headers: Record<string, string>, body: Uint8Array = new Uint8Array(0)): Record<string, string> {
    const target = new URL(path, this.#base)
    return signRequest({ method, path: target.pathname + target.search, authority: target.host, scheme: target.protocol === 'https:' ? 'https' : 'http', headers, body }, this.#key)
  }

  /** Refusals that end the run, by status. */
  async #refused (res: Response, what: string): Promise<CheckError> {
    let detail = ''
    let problemCode: string | undefined
    try {
      const p = await res.json() as { code?: string, detail?: string, title?: string }
      problemCode = p.code
      detail = `${p.code ?? ''}: ${p.detail ?? p.title ?? ''}`
    } catch { detail = res.statusText }
    const code = exitCodeFor(problemCode, res.status)
    const retry = res.headers.get('retry-after')
    return new CheckError(code, `${what} refused with ${res.status} ${detail}${retry !== null ? ` (retry after ${retry} s)` : ''}${code === 3 ? RESUME : ''}`)
  }

  /** Streams the rows not yet answered; reconnects after a lost connection. */
  async stream (): Promise<CheckSummary> {
    let first = true
    for (let attempt = 0; ; attempt++) {
      const done = this.#resumePoint()
      if (first) { this.#resumedFrom = done; first = false }
      try {
        await this.#streamFrom(done)
        rmSync(this.#paths.state, { force: true })
        return this.#summary()
      } catch (err) {
        if (!(err instanceof Lost)) throw err
        if (attempt >= this.#o.retries) throw new CheckError(3, `connection lost after ${this.#rows} of ${this.#total} rows (${err.message}); run the same command with --resume to continue`)
        this.#reconnects++
        await new Promise((resolve) => setTimeout(resolve, Math.min(5000, 100 * 2 ** attempt)))
      }
    }
  }

  /** Rows answered in the file (cut back to the last signed row when the service signs); truncates a partial last line. */
  #resumePoint (): number {
    const state = readState(this.#paths.state)
    const lines = completeLines(this.#paths.out)
    let rows = this.#o.format === 'csv' ? Math.max(0, lines.count - 1) : lines.count
    if (state.receiptRows !== undefined) {
      const covered = coveredRows(this.#paths.receipts)
      if (covered < rows) rows = covered
    }
    cutToLines(this.#paths.out, this.#o.format === 'csv' ? (rows === 0 && lines.count === 0 ? 0 : rows + 1) : rows)
    this.#rows = rows
    const counts = countOutcomes(this.#paths.out, this.#o.format)
    this.#matches = counts.matches
    this.#errors = counts.errors
    return rows
  }

  async #streamFrom (from: number): Promise<void> {
    const path = `/v1/verify/stream?from=${from}`
    const headers = this.#signed('POST', path, { 'content-type': 'application/x-ndjson', accept: 'application/x-ndjson' })
    const body = Readable.from(linesFrom(this.#o.file, from))
    let res: Response
    try {
      res = await fetch(new URL(path, this.#base), { method: 'POST', headers, body: body as unknown as ReadableStream, duplex: 'half' } as RequestInit)
    } catch (err) {
      body.destroy()
      throw new Lost(describe(err))
    }
    if (res.status !== 200) { body.destroy(); throw await this.#refused(res, 'the stream was') }
    const receiptRows = res.headers.get('idv-receipt-rows')
    writeState(this.#paths.state, { receiptRows: receiptRows === null ? undefined : Number(receiptRows) })
    const out = openSync(this.#paths.out, 'a')
    const receipts = openSync(this.#paths.receipts, 'a')
    try {
      if (this.#o.format === 'csv' && statSync(this.#paths.out).size === 0) writeSync(out, `${CSV_HEADER}\n`)
      let rest = ''
      let ended = false
      const decoder = new TextDecoder()
      try {
        for await (const part of res.body as unknown as AsyncIterable<Uint8Array>) {
          rest += decoder.decode(part, { stream: true })
          let results = ''
          let signed = ''
          let nl: number
          let start = 0
          while ((nl = rest.indexOf('\n', start)) >= 0) {
            const line = rest.slice(start, nl)
            start = nl + 1
            const kind = this.#take(line)
            if (kind === 'result') results += `${this.#o.format === 'csv' ? csvRow(line) : line}\n`
            else if (kind === 'receipt') signed += `${line}\n`
            else if (kind === 'end') ended = true
          }
          rest = rest.slice(start)
          // Answers before the receipt that covers them: a cut between the two leaves a row unsigned, never a receipt without its rows.
          if (results !== '') writeSync(out, results)
          if (signed !== '') writeSync(receipts, signed)
          this.#progress()
        }
      } catch (err) {
        if (err instanceof CheckError) throw err
        throw new Lost(describe(err))
      }
      if (!ended) throw new Lost('the answer stream ended early')
    } finally {
      body.destroy()
      closeSync(out)
      closeSync(receipts)
    }
  }

  /** Classifies one record; a final error record ends the run. */
  #take (line: string): 'result' | 'receipt' | 'end' | 'blank' {
    if (line === '') return 'blank'
    if (line.startsWith('{"receipt":')) return 'receipt'
    if (line.startsWith('{"end":')) return 'end'
    if (!line.startsWith('{"ref":')) {
      const r = JSON.parse(line) as { error?: { code: string, detail: string }, index?: number }
      if (r.error !== undefined) {
        const code = exitCodeFor(r.error.code)
        throw new CheckError(code, `the service stopped at row ${(r.index ?? 0) + this.#resumedFrom}: ${r.error.code}: ${r.error.detail}${code === 3 ? RESUME : ''}`)
      }
    }
    this.#rows++
    if (line.includes('"error":{')) this.#errors++
    else if (line.includes('"match":true')) this.#matches++
    return 'result'
  }

  /** Runs the rows as a job: create (or find, by the saved Idempotency-Key), upload the rest, wait, download the rest. */
  async job (): Promise<CheckSummary> {
    const state = readState(this.#paths.state)
    const idem = state.idempotencyKey ?? randomUUID()
    writeState(this.#paths.state, { ...state, idempotencyKey: idem })
    const ndjsonOut = this.#o.format === 'csv' ? `${this.#paths.out}.ndjson` : this.#paths.out
    let attempt = 0
    for (;;) {
      try {
        const job = await this.#call('POST', '/v1/jobs', { 'content-type': 'application/json', 'idempotency-key': idem }, Buffer.from(JSON.stringify({ format: 'ndjson' })))
        const id = job.id as string
        await this.#upload(id, (job.upload as { bytes: number, complete: boolean }))
        await this.#wait(id)
        await this.#download(id, 'results', ndjsonOut, true)
        await this.#download(id, 'receipts', this.#paths.receipts, false)
        break
      } catch (err) {
        if (!(err instanceof Lost)) throw err
        if (attempt++ >= this.#o.retries) throw new CheckError(3, `connection lost (${err.message}); run the same command with --resume to continue`)
        this.#reconnects++
        await new Promise((resolve) => setTimeout(resolve, Math.min(5000, 100 * 2 ** attempt)))
      }
    }
    if (ndjsonOut !== this.#paths.out) {
      const lines = readFileSync(ndjsonOut, 'utf8').split('\n').filter((l) => l !== '')
      writeFileSync(`${this.#paths.out}.tmp`, `${CSV_HEADER}\n${lines.map(csvRow).join('\n')}\n`)
      renameSync(`${this.#paths.out}.tmp`, this.#paths.out)
      rmSync(ndjsonOut, { force: true })
    }
    const counts = countOutcomes(this.#paths.out, this.#o.format)
    this.#rows = this.#o.format === 'csv' ? completeLines(this.#paths.out).count - 1 : completeLines(this.#paths.out).count
    this.#matches = counts.matches
    this.#errors = counts.errors
    this.#progress()
    rmSync(this.#paths.state, { force: true })
    return this.#summary()
  }

  async #call (method: string, path: string, headers: Record<string, string>, body?: Uint8Array): Promise<Record<string, unknown>> {
    const signed = this.#signed(method, path, headers, body)
    let res: Response
    try {
      res = await fetch(new URL(path, this.#base), { method, headers: signed, ...(body !== undefined ? { body } : {}) })
    } catch (err) {
      throw new Lost(describe(err))
    }
    if (res.status >= 300) throw await this.#refused(res, `${method} ${path} was`)
    try {
      return await res.json() as Record<string, unknown>
    } catch (err) {
      throw new Lost(describe(err))
    }
  }

  async #upload (id: string, upload: { bytes: number, complete: boolean }): Promise<void> {
    if (upload.complete) return
    const size = this.#o.chunkBytes ?? 4 * 1024 * 1024
    let offset = 0
    let pending: Buffer[] = []
    let pendingBytes = 0
    const send = async (complete: boolean): Promise<void> => {
      const chunk = Buffer.concat(pending)
      pending = []
      pendingBytes = 0
      if (offset + chunk.length <= upload.bytes && !complete) { offset += chunk.length; return } // sent before the interruption
      if (offset < upload.bytes) throw new CheckError(1, `the service holds ${upload.bytes} bytes of this job, which is not where a chunk of this file ends: was the file changed?`)
      await this.#call('PUT', `/v1/jobs/${id}/input`, { 'content-type': 'application/x-ndjson', 'upload-offset': String(offset), 'upload-complete': complete ? '?1' : '?0' }, chunk)
      offset += chunk.length
    }
    for await (const line of itemLines(this.#o.file)) {
      const b = Buffer.from(`${line}\n`)
      if (pendingBytes + b.length > size && pendingBytes > 0) await send(false)
      pending.push(b)
      pendingBytes += b.length
    }
    await send(true)
  }

  async #wait (id: string): Promise<void> {
    for (;;) {
      const s = await this.#call('GET', `/v1/jobs/${id}`, { accept: 'application/json' })
      this.#rows = s.rows as number
      this.#matches = s.matches as number
      this.#errors = s.errors as number
      this.#progress()
      if (s.state === 'done') return
      if (s.state === 'failed') {
        const e = s.error as { code: string, detail: string } | undefined
        throw new CheckError(exitCodeFor(e?.code), `the job failed: ${e?.code ?? ''}: ${e?.detail ?? ''}`)
      }
      await new Promise((resolve) => setTimeout(resolve, 250))
    }
  }

  /** Appends what the file lacks (Range from its size); `resume`: keep what is there. */
  async #download (id: string, what: 'results' | 'receipts', file: string, resume: boolean): Promise<void> {
    const have = resume && existsSync(file) ? statSync(file).size : 0
    const path = `/v1/jobs/${id}/${what}`
    const headers = this.#signed('GET', path, have > 0 ? { range: `bytes=${have}-` } : {})
    let res: Response
    try {
      res = await fetch(new URL(path, this.#base), { headers })
    } catch (err) {
      throw new Lost(describe(err))
    }
    if (res.status === 416) return // nothing more to fetch
    if (res.status !== 200 && res.status !== 206) throw await this.#refused(res, `GET ${path} was`)
    const fd = openSync(file, have > 0 ? 'a' : 'w')
    try {
      for await (const part of res.body as unknown as AsyncIterable<Uint8Array>) writeSync(fd, part)
    } catch (err) {
      throw new Lost(describe(err))
    } finally {
      closeSync(fd)
    }
  }
}

const CSV_HEADER = ['ref', 'match', 'citizen', ...ATTRIBUTES, 'errorCode', 'errorDetail'].join(',')

/** One answer record as a CSV row (RFC 4180 quoting where needed). */
function csvRow (line: string): string {
  const r = JSON.parse(line) as { ref: unknown, match?: boolean, citizen?: string, attributes?: Record<string, string>, error?: { code: string, detail: string } }
  const cells = [r.ref ?? '', r.match ?? '', r.citizen ?? '', ...ATTRIBUTES.map((a) => r.attributes?.[a] ?? ''), r.error?.code ?? '', r.error?.detail ?? '']
  return cells.map((c) => { const s = String(c); return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s }).join(',')
}

async function * linesFrom (file: string, from: number): AsyncGenerator<Buffer> {
  let n = 0
  let batch = ''
  for await (const line of itemLines(file)) {
    if (n++ < from) continue
    batch += `${line}\n`
    if (batch.length >= 64 * 1024) { yield Buffer.from(batch); batch = '' }
  }
  if (batch !== '') yield Buffer.from(batch)
}

interface State { readonly receiptRows?: number | undefined, readonly idempotencyKey?: string }

function readState (file: string): State {
  try { return JSON.parse(readFileSync(file, 'utf8')) as State } catch { return {} }
}

function writeState (file: string, s: State): void {
  writeFileSync(file, JSON.stringify(s))
}

/** Complete lines in a file and the byte length they span (a last line without its newline was cut). */
function completeLines (file: string): { count: number, bytes: number } {
  if (!existsSync(file)) return { count: 0, bytes: 0 }
  const fd = openSync(file, 'r')
  try {
    const buf = Buffer.allocUnsafe(1 << 20)
    let count = 0
    let bytes = 0
    let pos = 0
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, pos)
      if (n <= 0) break
      for (let i = buf.indexOf(10); i >= 0 && i < n; i = buf.indexOf(10, i + 1)) { count++; bytes = pos + i + 1 }
      pos += n
    }
    return { count, bytes }
  } finally {
    closeSync(fd)
  }
}

/** Keeps the first `lines` lines of a file. */
function cutToLines (file: string, lines: number): void {
  if (!existsSync(file)) return
  const text = readFileSync(file)
  let at = 0
  for (let i = 0; i < lines; i++) at = text.indexOf(10, at) + 1
  const fd = openSync(file, 'r+')
  try { ftruncateSync(fd, at) } finally { closeSync(fd) }
}

/** Rows the receipts file covers from row 0 without a gap. */
function coveredRows (file: string): number {
  if (!existsSync(file)) return 0
  const segments: Array<[number, number]> = []
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (line === '') continue
    try {
      const r = JSON.parse(line) as { receipt: { leaf: string } }
      const results = (JSON.parse(r.receipt.leaf) as { results: { firstRow: number, rows: number } }).results
      segments.push([results.firstRow, results.rows])
    } catch { break }
  }
  segments.sort((a, b) => a[0] - b[0])
  let covered = 0
  for (const [first, rows] of segments) if (first <= covered) covered = Math.max(covered, first + rows)
  return covered
}

function countOutcomes (file: string, format: 'ndjson' | 'csv'): { matches: number, errors: number } {
  if (!existsSync(file)) return { matches: 0, errors: 0 }
  let matches = 0
  let errors = 0
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (line === '' || line.startsWith('ref,')) continue
    if (format === 'csv') {
      if (/,IDV_ERR_/.test(line)) errors++
      else if (/^[^,]*,true,/.test(line) || /^"(?:[^"]|"")*",true,/.test(line)) matches++
    } else if (line.includes('"error":{')) errors++
    else if (line.includes('"match":true')) matches++
  }
  return { matches, errors }
}

function describe (err: unknown): string {
  const cause = (err as { cause?: { code?: string, message?: string } }).cause
  return cause?.code ?? cause?.message ?? (err as Error).message ?? String(err)
}
