/**
 * POST /v1/verify/stream: any number of {ref, pin, attributes} items as NDJSON
 * or a MessagePack sequence; the answers stream back in input order while the
 * items are still arriving, one record per item (rows.ts), a receipt record
 * per segment of rows (segments.ts), and a last `{"end": {...}}` record.
 *
 * Memory stays flat, both ways:
 * - in: the framer holds the bytes not yet verified; past `INPUT_HIGH` the
 *   upload is paused (res.pause: uWS stops reading the socket, so TCP pushes
 *   back on the client) and resumed once verification has caught up;
 * - out: answers are written a slice at a time with res.write, whose return
 *   value says whether uWS had to buffer; then verification stops (and so,
 *   soon, does reading) until onWritable says the socket drained.
 * uWS traps (v20.30): with onWritable registered, uWS drains its buffer only
 *   when the handler writes (an empty res.cork() suffices); a write that
 *   leaves backpressure turns reading back on, so the pause is renewed after
 *   it; a paused socket gets no writable events either, and
 *   pausing turns uWS's own idle timeout off. So while paused for a slow
 *   reader the session probes: it resumes for a moment (a writable event comes
 *   first if the client read anything; a data event is taken in and the socket
 *   paused again), and it closes the connection itself once nothing has moved
 *   for `streamIdleSeconds`.
 *
 * Audit: every row is an entry in the audit log before its record is written
 * (row-audit.ts). The rows verified in one event-loop turn are recorded as one
 * batch (the log group-commits them with other answers) and their records
 * wait, in order, in an output queue until the batch is durable; receipt
 * records and the end record take their place in that queue, so nothing
 * overtakes the rows it follows. Verification goes on while a batch is being
 * written, up to AUDIT_HELD_ROWS rows held.
 *
 * Errors: a bad item is its own error record and the stream goes on; a framing
 * error (a line over the limit, bytes that are not MessagePack), the daily
 * quota running out or the service shutting down end the stream with a final
 * `{"error": {code, detail}, "index": N}` record (N: the first item not
 * answered) after the records of every item before it; everything before it
 * stands. If the audit log cannot be written, the stream ends at once with an
 * `IDV_ERR_AUDIT_UNAVAILABLE` error record whose index is the first row not
 * sent: rows whose entries were not durable are never sent.
 *
 * Authentication: the signature covers the request line and headers only (no
 * Content-Digest: the body's length and digest are unknown until it ends, and
 * uWS has no trailers). The body is protected in transit by TLS; what was
 * asked is committed to by the receipts' PIN hashes and answer roots.
 */
import type { HttpRequest, HttpResponse, TemplatedApp } from 'uWebSockets.js'
import { ServiceError } from '../errors.js'
import { refuseBadFraming, refuseCapturedFraming } from '../http/framing.js'
import type { Lifecycle, RequestScope } from '../http/lifecycle.js'
import { noteResponse } from '../http/lifecycle.js'
import type { RequestIds } from '../http/request-id.js'
import { sendError, sendFailure, statusLine } from '../http/respond.js'
import { packr } from '../http/media.js'
import type { Logger } from '../log.js'
import type { Admission, Caller } from '../admission/index.js'
import type { ReceiptSigner, Receipt } from '../receipts/index.js'
import type { AuditTrail } from '../audit/index.js'
import type { Party } from '../parties/registry.js'
import type { OutcomeRecorder, Verifier } from '../verify/index.js'
import { clip } from '../clip.js'
import { FramingError, ItemFramer, NEED_MORE, STREAM_TYPES, streamFormat, type StreamFormat } from './framing.js'
import { verifyRow, type RowContext, type RowResult } from './rows.js'
import { rowEntries } from './row-audit.js'
import { SegmentReceipts, receiptRecord } from './segments.js'
import { RowBudget } from './budget.js'
import './codes.js'

export interface StreamDeps {
  readonly verifier: Verifier
  readonly outcomes: OutcomeRecorder
  readonly admission: Admission | undefined
  readonly receipts: ReceiptSigner | undefined
  /** Records every row before it is sent; undefined when the audit log is off. */
  readonly audit: AuditTrail | undefined
  readonly ids: RequestIds
  readonly log: Logger
  readonly lifecycle: Lifecycle
  readonly route: number
  readonly limits: StreamLimits
}

export interface StreamLimits {
  /** Longest item (one NDJSON line or MessagePack value). */
  readonly maxItemBytes: number
  /** Close a stream on which nothing moved (no answer read, no item sent) for this long. */
  readonly streamIdleSeconds: number
  /** Rows per receipt. */
  readonly receiptRows: number
}

/** Items verified between budget grants. */
const SLICE = 64
/** Rows verified and waiting for their audit entries to be durable, past which verification waits (bounds the output held). */
const AUDIT_HELD_ROWS = 2048
/** CPU time one stream may take per event-loop turn before yielding, so it never starves the other clients of its thread (portals' p99). */
const TURN_MS = 2
/** Unverified input held before the upload is paused. */
export const INPUT_HIGH = 1024 * 1024
/** Beyond this, probes stop taking in data: only writable events or the idle limit end the wait. */
const INPUT_MAX = 4 * INPUT_HIGH
const PROBE_MS = 20

export function registerStreamRoute (app: TemplatedApp, deps: StreamDeps): void {
  app.post('/v1/verify/stream', (res, req) => { openStream(res, req, deps) })
}

function openStream (res: HttpResponse, req: HttpRequest, deps: StreamDeps): void {
  const requestId = deps.ids.next()
  const scope = deps.lifecycle.track(res, deps.route, requestId)
  const signed = deps.admission?.capture(req)
  if (signed === undefined ? refuseBadFraming(res, req, requestId) : refuseCapturedFraming(res, signed, requestId)) return
  if (!deps.lifecycle.ready) { sendError(res, 'IDV_ERR_NOT_READY', 'the service is starting or shutting down', requestId, true); return }
  const contentType = req.getHeader('content-type')
  const format = streamFormat(contentType)
  const fromRow = Number(new URLSearchParams(req.getQuery() ?? '').get('from') ?? '0')
  let party
  let caller: Caller | undefined
  try {
    if (signed !== undefined) {
      const unsigned = deps.admission!.unsigned(signed)
      if (unsigned !== undefined) throw unsigned
      // The signature covers the head only (see above): authenticate against an empty body.
      caller = deps.admission!.authenticate(signed, EMPTY)
      party = caller.party
      scope.setParty(party.id)
      deps.admission!.admit(caller, { endpoint: '/v1/verify/stream' }, 0)
    }
    if (format === undefined) throw new ServiceError('IDV_ERR_UNSUPPORTED_MEDIA_TYPE', `Content-Type ${JSON.stringify(clip(contentType))} is not application/x-ndjson or application/vnd.msgpack-seq`)
    if (!Number.isSafeInteger(fromRow) || fromRow < 0) throw new ServiceError('IDV_ERR_INVALID_FIELD', 'the from query parameter must be a non-negative integer (the number of the first row)')
  } catch (err) {
    // Not closed at once: a client streaming its body reads this answer more surely while uWS reads and drops the
    // rest of the body (it stops sending on the answer); a client that does not is cut by uWS's idle timeout.
    res.onAborted(() => {})
    res.onData(() => {})
    sendFailure(res, err, requestId)
    return
  }
  const session = new StreamSession(res, scope, deps, format, requestId, party, fromRow)
  // The body is taken from now on (uWS hands it only to handlers set in this callback); nothing is verified before open().
  session.start()
  if (caller === undefined) { session.open(); return }
  // On a fleet node the nonce is also checked fleet-wide (src/fleet-security): maybe a NATS round trip first.
  deps.admission!.fleetChecked(caller, 0, () => { session.open() }, (err) => { session.refuse(err) })
}

const EMPTY = new Uint8Array(0)

class StreamSession {
  readonly #res: HttpResponse
  readonly #deps: StreamDeps
  readonly #format: StreamFormat
  readonly #framer: ItemFramer
  readonly #rows: RowContext
  readonly #budget: RowBudget
  readonly #segments: SegmentReceipts | undefined
  readonly #end: () => void
  readonly #requestId: string
  readonly #fromRow: number
  /** Records verified and not yet written, in order: rows waiting for their audit entries, receipts for their signature, the last record. */
  readonly #queue: OutputPiece[] = []
  /** Items verified. */
  #index = 0
  /** Items whose records were written. */
  #sent = 0
  /** Rows waiting for their audit entries. */
  #held = 0
  #matches = 0
  #errors = 0
  #inputDone = false
  /** Every item of the body has been verified. */
  #exhausted = false
  /** The last record is queued: nothing more is verified. */
  #ending = false
  #closed = false
  /** Admitted (open()): verifying and answering; before, the body waits in the framer. */
  #open = false
  #paused = false
  #blocked = false
  #scheduled = false
  #waitingForBudget = false
  #lastMove = Date.now()
  #probe: NodeJS.Timeout | undefined
  #idle: NodeJS.Timeout | undefined

  constructor (res: HttpResponse, scope: RequestScope, deps: StreamDeps, format: StreamFormat, requestId: string, party: Party | undefined, fromRow: number) {
    this.#res = res
    this.#deps = deps
    this.#format = format
    this.#requestId = requestId
    this.#fromRow = fromRow
    this.#framer = new ItemFramer(format, deps.limits.maxItemBytes)
    this.#rows = { verifier: deps.verifier, outcomes: deps.outcomes, party, partySlot: scope.party }
    this.#budget = new RowBudget(deps.admission, party)
    this.#segments = party === undefined || deps.receipts === undefined
      ? undefined
      : new SegmentReceipts({ signer: deps.receipts, verifier: deps.verifier, partyId: party.id, requestId, rowsPerSegment: deps.limits.receiptRows, firstRow: fromRow })
    this.#end = deps.lifecycle.begin(scope)
  }

  get signed (): boolean {
    return this.#segments !== undefined
  }

  /** Admitted: the answer's head, then rows as they are verified. */
  open (): void {
    if (this.#closed) return
    this.#corked(() => {
      const res = this.#res
      noteResponse(res, 200)
      res.writeStatus(statusLine(200)).writeHeader('content-type', STREAM_TYPES[this.#format]).writeHeader('cache-control', 'no-store').writeHeader('x-request-id', this.#requestId)
      // Tells a resuming client that rows are signed for in segments of this many (idv check resumes from the last signed row).
      if (this.signed) res.writeHeader('idv-receipt-rows', String(this.#deps.limits.receiptRows))
    })
    this.#open = true
    this.#schedule()
  }

  /** Refused before anything was answered (the fleet's check): the problem, and the rest of the body read and dropped. */
  refuse (err: unknown): void {
    if (this.#closed) return
    // Read on (a pause would leave the client waiting on a body nobody reads): the rest is dropped (#onData).
    if (this.#paused) { this.#paused = false; this.#res.resume() }
    this.#res.cork(() => { sendFailure(this.#res, err, this.#requestId) })
    this.#finish()
  }

  start (): void {
    const res = this.#res
    res.onAborted(() => { this.#finish() })
    res.onData((chunk, isLast) => { this.#onData(chunk, isLast) })
    res.onWritable(() => {
      // uWS (v20.30) drains its own buffer here only when the handler writes: an empty cork flushes it,
      // and the pump writes the next slice (each write drains what is buffered first).
      this.#moved()
      this.#blocked = false
      this.#corked(() => { this.#pump() })
      return true
    })
    const idleMs = this.#deps.limits.streamIdleSeconds * 1000
    this.#idle = setInterval(() => {
      if (this.#closed) return
      if (Date.now() - this.#lastMove > idleMs) {
        this.#deps.log.info({ rows: this.#index }, 'stream closed: idle')
        this.#res.close() // onAborted runs: the client stopped reading (or sending)
      }
    }, Math.max(50, Math.min(1000, idleMs / 4)))
  }

  #moved (): void {
    this.#lastMove = Date.now()
  }

  #onData (chunk: ArrayBuffer, isLast: boolean): void {
    if (this.#closed) return
    this.#moved()
    this.#framer.push(new Uint8Array(chunk))
    if (isLast) { this.#inputDone = true; this.#framer.end() }
    // Verified on the next turn, not here: uWS uncorks after this callback returns, and that write could turn
    // reading back on after a pause (below); #corked renews the pause after its writes.
    this.#schedule()
    if (!this.#closed && !this.#inputDone && !this.#paused && this.#framer.buffered >= INPUT_HIGH) this.#pause()
  }

  #pause (): void {
    this.#paused = true
    this.#res.pause()
    this.#startProbe()
  }

  #resume (): void {
    this.#paused = false
    this.#res.resume()
  }

  /** While paused for a slow reader, give writable events a chance (see the module comment). */
  #startProbe (): void {
    if (this.#probe !== undefined) return
    this.#probe = setInterval(() => {
      if (this.#closed || !this.#paused) { this.#stopProbe(); return }
      if (!this.#blocked && this.#framer.buffered < INPUT_HIGH) { this.#stopProbe(); this.#resume(); return }
      if (this.#framer.buffered < INPUT_MAX) {
        this.#res.resume()
        setImmediate(() => { if (!this.#closed && this.#paused) this.#res.pause() })
      }
    }, PROBE_MS)
  }

  #stopProbe (): void {
    if (this.#probe !== undefined) clearInterval(this.#probe)
    this.#probe = undefined
  }

  /** Writes corked; the flush at the end may leave backpressure, which turns reading back on: renew a pause. */
  #corked (fn: () => void): void {
    this.#res.cork(fn)
    if (this.#paused && !this.#closed) this.#res.pause()
  }

  #schedule (): void {
    if (this.#scheduled || this.#closed) return
    this.#scheduled = true
    setImmediate(() => {
      this.#scheduled = false
      if (!this.#closed) this.#corked(() => { this.#pump() })
    })
  }

  /** One turn: verify what has arrived, record the turn's rows in the audit log, queue their records, write what is ready. */
  #pump (): void {
    const turn: Turn = { rows: [], receipts: [], last: undefined }
    const more = this.#verifyTurn(turn)
    this.#queueTurn(turn)
    this.#flush()
    if (more) this.#schedule()
  }

  /**
   * Verifies a slice at a time until the turn's CPU time is used (true: go on
   * next turn), the input runs dry, the socket pushes back, the budget says
   * wait, too many rows wait for the audit log, or the stream must end
   * (turn.last: queued after the turn's rows).
   */
  #verifyTurn (turn: Turn): boolean {
    const started = performance.now()
    while (performance.now() - started < TURN_MS) {
      if (!this.#open || this.#closed || this.#ending || this.#blocked || this.#waitingForBudget || this.#held >= AUDIT_HELD_ROWS) return false
      if (this.#deps.lifecycle.stopped) { turn.last = new ServiceError('IDV_ERR_NOT_READY', 'the service is shutting down'); return false }
      const grant = this.#budget.grant(SLICE)
      if ('stop' in grant) { turn.last = grant.stop; return false }
      if ('waitMs' in grant) {
        this.#waitingForBudget = true
        setTimeout(() => { this.#waitingForBudget = false; this.#moved(); this.#schedule() }, grant.waitMs)
        return false
      }
      let n = 0
      while (n < grant.rows) {
        const item = this.#framer.next()
        if (item === NEED_MORE) break
        if (item instanceof FramingError) { turn.last = new ServiceError('IDV_ERR_STREAM_FRAMING', `item ${this.#index}: ${item.detail}`); return false }
        const row = verifyRow(item, this.#format, this.#rows)
        turn.rows.push(row)
        if (row.error) this.#errors++
        else if (row.match) this.#matches++
        this.#index++
        n++
        const receipt = this.#segments?.add(row)
        if (receipt !== undefined) turn.receipts.push(receipt)
      }
      // Tokens granted and not used (the input ran dry) are simply not spent; the bucket was charged for them.
      if (n < grant.rows) {
        if (this.#inputDone) this.#exhausted = true
        else if (this.#paused && !this.#blocked && this.#framer.buffered < INPUT_HIGH) this.#resume()
        return false
      }
    }
    return true
  }

  /** Queues the turn's rows (ready once their audit entries are durable), then its receipts, then the last record if the stream ends. */
  #queueTurn (turn: Turn): void {
    if (turn.rows.length > 0) {
      const piece: OutputPiece = { records: turn.rows.map((r) => r.record), rows: turn.rows.length, ready: this.#deps.audit === undefined }
      this.#queue.push(piece)
      if (this.#deps.audit !== undefined) this.#audit(turn.rows, piece)
    }
    for (const receipt of turn.receipts) this.#awaitReceipt(receipt)
    if (turn.last !== undefined) this.#queueLast(this.#record({ error: { code: turn.last.code, detail: turn.last.detail ?? turn.last.message }, index: this.#index }))
    else if (this.#exhausted) this.#complete()
  }

  #audit (rows: RowResult[], piece: OutputPiece): void {
    const audit = this.#deps.audit!
    this.#held += rows.length
    const entries = rowEntries(audit, rows, {
      requestId: this.#requestId, partyId: this.#rows.party?.id ?? null, endpoint: '/v1/verify/stream', firstRow: this.#fromRow + this.#index - rows.length
    })
    audit.record(entries, () => {
      this.#held -= rows.length
      piece.ready = true
      if (this.#closed) return
      // Rows going out are movement: a stream is not idle while it waits on the audit log.
      this.#moved()
      this.#corked(() => { this.#flush() })
      this.#schedule()
    }, (err) => {
      this.#held -= rows.length
      if (!this.#closed) this.#corked(() => { this.#fail(err) })
    })
  }

  /** Writes the queue's ready head, in order. */
  #flush (): void {
    while (!this.#closed && this.#queue.length > 0 && this.#queue[0]!.ready) {
      const piece = this.#queue.shift()!
      if (piece.records.length > 0 && !this.#write(piece.records)) this.#blocked = true
      this.#sent += piece.rows
      if (piece.last === true) {
        this.#closed = true
        // A plain end: uWS v20.30 writes `Connection: close` after the chunks already sent (breaking the framing)
        // when asked to close here. Whatever of the body still comes is read and dropped (#onData), a chunk at a time.
        this.#res.end()
        this.#finish()
      }
    }
  }

  #write (records: ReadonlyArray<string | Uint8Array>): boolean {
    const ok = this.#format === 'ndjson'
      ? this.#res.write(`${records.join('\n')}\n`)
      : this.#res.write(Buffer.concat(records.map((r) => typeof r === 'string' ? Buffer.from(r) : r)))
    // uWS trap: a write that leaves backpressure makes uWS poll the socket for reading again, pause or not.
    if (!ok && this.#paused) this.#res.pause()
    return ok
  }

  #record (o: object): string | Uint8Array {
    return this.#format === 'ndjson' ? JSON.stringify(o) : packr.pack(o)
  }

  /** Queues a segment's receipt record, written once signed and once every row before it is written. */
  #awaitReceipt (p: Promise<Receipt>): void {
    const piece: OutputPiece = { records: [], rows: 0, ready: false }
    this.#queue.push(piece)
    p.then((r) => {
      piece.records = [this.#format === 'ndjson' ? receiptRecord(r) : packr.pack({ receipt: r })]
      piece.ready = true
      if (!this.#closed) this.#corked(() => { this.#flush() })
    }, (err: unknown) => {
      this.#deps.log.error({ err }, 'signing a stream receipt failed')
      if (!this.#closed) this.#corked(() => { this.#fail(new ServiceError('IDV_ERR_INTERNAL', 'a receipt could not be signed')) })
    })
  }

  /** All input verified: the last segment's receipt, then the end record, each after what precedes it. */
  #complete (): void {
    if (this.#ending) return
    const last = this.#segments?.close()
    if (last !== undefined) this.#awaitReceipt(last)
    this.#queueLast(this.#record({ end: { rows: this.#index, matches: this.#matches, errors: this.#errors } }))
  }

  #queueLast (record: string | Uint8Array): void {
    this.#ending = true
    this.#queue.push({ records: [record], rows: 0, ready: true, last: true })
  }

  /** Ends the stream at once with a final error record naming the first item whose record was not written. */
  #fail (err: ServiceError): void {
    if (this.#closed) return
    this.#write([this.#record({ error: { code: err.code, detail: err.detail ?? err.message }, index: this.#sent })])
    this.#closed = true
    this.#res.end()
    this.#finish()
  }

  #finish (): void {
    this.#closed = true
    this.#queue.length = 0
    this.#stopProbe()
    if (this.#idle !== undefined) clearInterval(this.#idle)
    this.#idle = undefined
    this.#end()
  }
}

/** What one turn verified: its rows, the receipts of segments they completed, and the error that ends the stream, if any. */
interface Turn {
  rows: RowResult[]
  receipts: Array<Promise<Receipt>>
  last: ServiceError | undefined
}

/** Records waiting to be written in order; `rows`: how many items they answer. */
interface OutputPiece {
  records: Array<string | Uint8Array>
  readonly rows: number
  ready: boolean
  readonly last?: boolean
}
