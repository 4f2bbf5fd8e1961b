/**
 * The /v1/jobs routes, on every server thread (the files are the shared
 * state, job-store.ts; the main thread's runner does the verifying):
 *
 *   POST   /v1/jobs                {format?, bytes?} + Idempotency-Key → 201 the job (200: the key's earlier job)
 *   PUT    /v1/jobs/:id/input      a chunk; Upload-Offset: where it starts; Upload-Complete: ?1 on the last
 *   GET    /v1/jobs/:id            state, rows done, match ratio, rows/s, ETA
 *   GET    /v1/jobs/:id/results    the answers so far (NDJSON); Range: bytes=N- resumes a cut download
 *   GET    /v1/jobs/:id/receipts   one receipt record per segment of rows
 *   DELETE /v1/jobs/:id            cancels and removes the job
 *
 * Every request is signed; a chunk's signature covers its Content-Digest, so
 * a chunk altered on the way (or a wrong digest) is refused before a byte is
 * stored. Another party's job id is 404, like an id that never existed.
 */
import { closeSync, openSync, readSync } from 'node:fs'
import type { HttpRequest, HttpResponse, TemplatedApp } from 'uWebSockets.js'
import { ServiceError } from '../errors.js'
import { readBody } from '../http/body.js'
import { refuseBadFraming, refuseCapturedFraming } from '../http/framing.js'
import type { Lifecycle } from '../http/lifecycle.js'
import { noteResponse } from '../http/lifecycle.js'
import type { RequestIds } from '../http/request-id.js'
import { send, sendError, sendFailure, sendProblem, statusLine } from '../http/respond.js'
import { toProblem } from '../problem.js'
import type { Logger } from '../log.js'
import type { Admission } from '../admission/index.js'
import type { JobStore, JobInfo } from './job-store.js'
import { STREAM_TYPES, type StreamFormat } from './framing.js'
import './codes.js'

export interface JobRouteDeps {
  readonly store: JobStore
  readonly admission: Admission | undefined
  readonly ids: RequestIds
  readonly log: Logger
  readonly lifecycle: Lifecycle
  readonly route: number
  readonly maxChunkBytes: number
}

const EMPTY = new Uint8Array(0)
const CREATE_LIMIT = 4096
const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,128}$/

type Handler = (res: HttpResponse, partyId: string, body: Uint8Array, ctx: { requestId: string, id: string, headers: CapturedHeaders }) => void
interface CapturedHeaders { readonly get: (name: string) => string }

export function registerJobRoutes (app: TemplatedApp, deps: JobRouteDeps): void {
  app.post('/v1/jobs', (res, req) => { route(res, req, deps, CREATE_LIMIT, (r, party, body, c) => { create(r, party, body, c.headers, c.requestId, deps) }) })
  app.get('/v1/jobs/:id', (res, req) => { route(res, req, deps, 0, (r, party, _b, c) => { send(r, 200, 'application/json', JSON.stringify(status(deps.store, deps.store.owned(c.id, party))), c.requestId) }) })
  app.del('/v1/jobs/:id', (res, req) => {
    route(res, req, deps, 0, (r, party, _b, c) => {
      deps.store.owned(c.id, party)
      deps.store.remove(c.id)
      noteResponse(r, 204)
      r.writeStatus('204 No Content').writeHeader('x-request-id', c.requestId).endWithoutBody()
    })
  })
  app.put('/v1/jobs/:id/input', (res, req) => { route(res, req, deps, deps.maxChunkBytes, (r, party, body, c) => { chunk(r, party, body, c, deps) }) })
  app.get('/v1/jobs/:id/results', (res, req) => { route(res, req, deps, 0, (r, party, _b, c) => { download(r, party, c, deps, 'results') }) })
  app.get('/v1/jobs/:id/receipts', (res, req) => { route(res, req, deps, 0, (r, party, _b, c) => { download(r, party, c, deps, 'receipts') }) })
}

/** Reads what the handler needs from the request (uWS requests die when the handler returns), the body if any, authenticates, then runs `handle`. */
function route (res: HttpResponse, req: HttpRequest, deps: JobRouteDeps, limit: number, handle: Handler): void {
  const requestId = deps.ids.next()
  const scope = deps.lifecycle.track(res, deps.route, requestId)
  const signed = deps.admission?.capture(req)
  if (signed === undefined ? refuseBadFraming(res, req, requestId) : refuseCapturedFraming(res, signed, requestId)) return
  if (!deps.lifecycle.ready) { sendError(res, 'IDV_ERR_NOT_READY', 'the service is starting or shutting down', requestId, true); return }
  const id = req.getParameter(0) ?? ''
  const headers = signed?.headers ?? captureHeaders(req)
  const captured: CapturedHeaders = { get: (name) => headers.get(name) ?? '' }
  let aborted = false
  // Authenticated and admitted by this node, then by the fleet when it shares nonces (src/fleet-security):
  // then `handle` runs at once, or after a NATS round trip (corked, unless the client went away); `done` after either.
  const run = (body: Uint8Array, done: () => void): void => {
    const go = (partyId: string): void => {
      if (!aborted) res.cork(() => { try { handle(res, partyId, body, { requestId, id, headers: captured }) } catch (err) { fail(res, err, requestId, deps) } })
      done()
    }
    try {
      if (signed === undefined) { go(''); return }
      const caller = deps.admission!.authenticate(signed, body)
      scope.setParty(caller.party.id)
      deps.admission!.admit(caller, { endpoint: '/v1/jobs' }, 0)
      deps.admission!.fleetChecked(caller, 0, () => { go(caller.party.id) }, (err) => {
        if (!aborted) res.cork(() => { fail(res, err, requestId, deps) })
        done()
      })
    } catch (err) {
      fail(res, err, requestId, deps)
      done()
    }
  }
  if (signed !== undefined) {
    const unsigned = deps.admission!.unsigned(signed)
    if (unsigned !== undefined) { sendFailure(res, unsigned, requestId, true); return }
  }
  const end = deps.lifecycle.begin(scope)
  if (limit === 0) {
    res.onAborted(() => { aborted = true })
    run(EMPTY, end)
    return
  }
  readBody(res, req.getHeader('content-length'), limit, {
    onBody (body) { if (!aborted) run(body, end); else end() },
    onTooLarge () {
      res.cork(() => { sendError(res, 'IDV_ERR_PAYLOAD_TOO_LARGE', `the body limit here is ${limit} bytes`, requestId, true) })
      end()
    },
    onAborted () { aborted = true; end() }
  })
}

function captureHeaders (req: HttpRequest): Map<string, string> {
  const headers = new Map<string, string>()
  req.forEach((name, value) => { headers.set(name, value) })
  return headers
}

function fail (res: HttpResponse, err: unknown, requestId: string, deps: JobRouteDeps): void {
  if (!(err instanceof ServiceError)) deps.log.error({ err, requestId }, 'job request failed')
  const offset = (err as { uploadOffset?: number }).uploadOffset
  if (offset !== undefined) { sendProblem(res, toProblem(err, requestId), false, { 'upload-offset': String(offset) }); return }
  sendFailure(res, err, requestId)
}

function create (res: HttpResponse, partyId: string, body: Uint8Array, headers: CapturedHeaders, requestId: string, deps: JobRouteDeps): void {
  const key = headers.get('idempotency-key')
  if (!IDEMPOTENCY_KEY.test(key)) throw new ServiceError('IDV_ERR_IDEMPOTENCY_KEY_MISSING', 'send an Idempotency-Key header of 1-128 visible ASCII characters')
  let spec: { format?: unknown, bytes?: unknown } = {}
  if (body.byteLength > 0) {
    try {
      spec = JSON.parse(Buffer.from(body).toString('utf8')) as typeof spec
    } catch {
      throw new ServiceError('IDV_ERR_MALFORMED_BODY', 'body is not JSON')
    }
    if (typeof spec !== 'object' || spec === null || Array.isArray(spec)) throw new ServiceError('IDV_ERR_INVALID_FIELD', 'body must be an object: {format?, bytes?}')
  }
  const format = spec.format ?? 'ndjson'
  if (format !== 'ndjson' && format !== 'msgpack-seq') throw new ServiceError('IDV_ERR_INVALID_FIELD', 'format must be ndjson or msgpack-seq')
  if (spec.bytes !== undefined && !(typeof spec.bytes === 'number' && Number.isSafeInteger(spec.bytes) && spec.bytes >= 0)) throw new ServiceError('IDV_ERR_INVALID_FIELD', 'bytes must be a non-negative integer')
  const made = deps.store.create(partyId, key, body, { format: format as StreamFormat, bytes: spec.bytes as number | undefined })
  res.cork(() => {
    noteResponse(res, made.created ? 201 : 200)
    res.writeStatus(made.created ? '201 Created' : statusLine(200)).writeHeader('content-type', 'application/json').writeHeader('location', `/v1/jobs/${made.job.id}`)
      .writeHeader('x-request-id', requestId).end(JSON.stringify(status(deps.store, made.job)))
  })
}

function chunk (res: HttpResponse, partyId: string, body: Uint8Array, c: { requestId: string, id: string, headers: CapturedHeaders }, deps: JobRouteDeps): void {
  deps.store.owned(c.id, partyId)
  const rawOffset = c.headers.get('upload-offset')
  const offset = /^\d{1,15}$/.test(rawOffset) ? Number(rawOffset) : NaN
  if (Number.isNaN(offset)) throw new ServiceError('IDV_ERR_INVALID_FIELD', 'send Upload-Offset: the byte offset where this chunk starts')
  const completeHeader = c.headers.get('upload-complete')
  if (completeHeader !== '' && completeHeader !== '?1' && completeHeader !== '?0') throw new ServiceError('IDV_ERR_INVALID_FIELD', 'Upload-Complete must be ?1 (last chunk) or ?0')
  const state = deps.store.appendChunk(c.id, offset, body, completeHeader === '?1')
  res.cork(() => {
    noteResponse(res, 200)
    res.writeStatus(statusLine(200)).writeHeader('content-type', 'application/json').writeHeader('upload-offset', String(state.bytes))
      .writeHeader('x-request-id', c.requestId).end(JSON.stringify({ uploadedBytes: state.bytes, complete: state.complete }))
  })
}

/** What GET /v1/jobs/{id} answers. */
export function status (store: JobStore, job: JobInfo): Record<string, unknown> {
  const upload = store.upload(job.id)
  const p = store.progress(job.id)
  // Running with an error: paused, because the audit log cannot be written (job-runner.ts); it goes on by itself.
  const state = p.state !== 'running' ? p.state : p.error !== undefined ? 'paused' : upload.complete ? 'running' : 'uploading'
  const elapsed = p.startedAt === undefined ? 0 : ((p.finishedAt ?? p.updatedAt) - p.startedAt) / 1000
  const bytesPerSecond = elapsed > 0 ? p.inputBytes / elapsed : 0
  const total = upload.complete ? upload.bytes : job.bytes
  const eta = state === 'done' || state === 'failed' ? 0 : state === 'paused' ? null : total === undefined || bytesPerSecond === 0 ? null : Math.ceil((total - p.inputBytes) / bytesPerSecond)
  return {
    id: job.id,
    state,
    format: job.format,
    createdAt: new Date(job.createdAt).toISOString(),
    expiresAt: new Date(job.createdAt + store.retentionMs).toISOString(),
    upload: { bytes: upload.bytes, complete: upload.complete, declaredBytes: job.bytes ?? null },
    rows: p.rows,
    matches: p.matches,
    errors: p.errors,
    matchRatio: p.rows - p.errors > 0 ? p.matches / (p.rows - p.errors) : null,
    rowsPerSecond: elapsed > 0 ? Math.round(p.rows / elapsed) : null,
    etaSeconds: eta,
    resultBytes: p.resultBytes,
    ...(p.error !== undefined ? { error: p.error } : {})
  }
}

const RANGE = /^bytes=(\d{1,15})-(\d{0,15})$/

/** The final part of the results (or receipts) file, whole or the Range asked, with backpressure. */
function download (res: HttpResponse, partyId: string, c: { requestId: string, id: string, headers: CapturedHeaders }, deps: JobRouteDeps, what: 'results' | 'receipts'): void {
  const job = deps.store.owned(c.id, partyId)
  const p = deps.store.progress(job.id)
  const size = what === 'results' ? p.resultBytes : p.receiptBytes
  const final = p.state !== 'running'
  const range = c.headers.get('range')
  let start = 0
  let end = size
  let status = 200
  if (range !== '') {
    const m = RANGE.exec(range)
    const from = m === null ? NaN : Number(m[1])
    const to = m === null || m[2] === '' ? size - 1 : Number(m[2])
    if (m === null || from > to || from >= size) {
      sendProblem(res, toProblem(new ServiceError('IDV_ERR_RANGE_NOT_SATISFIABLE', `the ${what} hold ${size} bytes so far`), c.requestId), false, { 'content-range': `bytes */${size}` })
      return
    }
    start = from
    end = Math.min(size, to + 1)
    status = 206
  }
  noteResponse(res, status)
  res.writeStatus(status === 206 ? '206 Partial Content' : statusLine(200)).writeHeader('content-type', STREAM_TYPES.ndjson)
    .writeHeader('accept-ranges', 'bytes').writeHeader('cache-control', 'no-store').writeHeader('x-request-id', c.requestId)
    .writeHeader('idv-job-state', final ? p.state : 'running')
  // The complete length is known only once the job is over.
  if (status === 206) res.writeHeader('content-range', `bytes ${start}-${end - 1}/${final ? String(size) : '*'}`)
  sendFileRange(res, deps.store.path(job.id, what === 'results' ? 'results.ndjson' : 'receipts.ndjson'), start, end)
}

/** Streams bytes [start, end) of a file with tryEnd/onWritable, reading 256 KB at a time. */
function sendFileRange (res: HttpResponse, file: string, start: number, end: number): void {
  const total = end - start
  if (total === 0) { res.end(); return }
  const fd = openSync(file, 'r')
  let open = true
  const close = (): void => { if (open) { open = false; closeSync(fd) } }
  const buf = Buffer.allocUnsafe(256 * 1024)
  const base = res.getWriteOffset()
  let pending: Buffer | undefined
  let pendingAt = 0
  // Sends from `sent` on; false when uWS pushed back (the rest goes from onWritable).
  const pump = (sent: number): boolean => {
    while (sent < total) {
      const n = readSync(fd, buf, 0, Math.min(buf.length, total - sent), start + sent)
      if (n <= 0) { close(); res.close(); return true } // the file shrank: the job was deleted meanwhile
      const at = res.getWriteOffset()
      const [ok, done] = res.tryEnd(buf.subarray(0, n), total)
      if (done) { close(); return true }
      if (!ok) { pending = Buffer.from(buf.subarray(0, n)); pendingAt = at; return false }
      sent += n
    }
    return true
  }
  res.onAborted(close)
  res.onWritable((offset) => {
    if (pending === undefined) return true
    const chunk = pending
    const at = pendingAt
    const [ok, done] = res.tryEnd(chunk.subarray(offset - at), total)
    if (done) { close(); return true }
    if (!ok) return false
    pending = undefined
    pump(at - base + chunk.length)
    return true
  })
  pump(0)
}
