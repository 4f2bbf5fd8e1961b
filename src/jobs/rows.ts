/**
 * One streamed row, from its bytes to its answer record: decoded by the strict
 * body decoder, checked as a verification request, checked against the
 * party's policy (attributes it may ask about), verified by the verify
 * capability's Verifier, shaped as the party may see it (answer detail), and
 * written as one record `{ref, …result}` or `{ref, error: {code, detail}}`.
 * A bad row is a record, never an exception: the stream goes on.
 *
 * Records are JSON text (NDJSON) or MessagePack values; receipts commit to the
 * exact bytes of each record (segments.ts).
 */
import { ServiceError } from '../errors.js'
import { decodeBody, packr } from '../http/media.js'
import { shapeAnswer } from '../parties/answer-shape.js'
import type { Party } from '../parties/registry.js'
import { outcomeJsonFields, parseVerifyRequest, type OutcomeRecorder, type Verifier } from '../verify/index.js'
import type { StreamFormat } from './framing.js'
import { clip } from '../clip.js'

export interface RowResult {
  /** The record's bytes (JSON text without the newline, or one MessagePack value). */
  readonly record: string | Uint8Array
  /** The PIN key (-1 when the row had none valid), for the receipt's PIN hash. */
  readonly key: number
  readonly match: boolean
  readonly error: boolean
  /** For the row's audit entry (row-audit.ts): the attribute names asked, and the outcome in full or `{error: code}`. */
  readonly attributes: readonly string[]
  readonly results: Readonly<Record<string, unknown>>
}

export interface RowContext {
  readonly verifier: Verifier
  readonly outcomes: OutcomeRecorder
  /** Undefined when the service runs unsigned (IDV_AUTH=none). */
  readonly party: Party | undefined
  /** The party's metrics slot. */
  readonly partySlot: number
}

const MAX_REF_CHARS = 200

/** What a record echoes as `ref`: a short string or a safe integer the client chose; null when none was sent. */
function refOf (item: unknown): string | number | null | ServiceError {
  if (typeof item !== 'object' || item === null || Array.isArray(item)) return null
  const ref = (item as { ref?: unknown }).ref
  if (ref === undefined || ref === null) return null
  if (typeof ref === 'string' && ref.length <= MAX_REF_CHARS) return ref
  if (typeof ref === 'number' && Number.isSafeInteger(ref)) return ref
  return new ServiceError('IDV_ERR_INVALID_FIELD', `ref must be a string of at most ${MAX_REF_CHARS} characters or an integer`)
}

/** `output`: the records' format (a job's results are NDJSON whatever it was sent). */
export function verifyRow (bytes: Uint8Array, input: StreamFormat, ctx: RowContext, format: StreamFormat = input): RowResult {
  let item: unknown
  try {
    item = decodeBody(bytes, input === 'ndjson' ? 'json' : 'msgpack')
  } catch (err) {
    return errorRow(null, err as ServiceError, format)
  }
  const ref = refOf(item)
  if (ref instanceof ServiceError) return errorRow(null, ref, format)
  const request = parseVerifyRequest(item)
  if (request instanceof ServiceError) return errorRow(ref, request, format)
  const party = ctx.party
  if (party !== undefined) {
    for (const [name] of request.attributes) {
      if (!party.allowedAttributes.has(name)) return errorRow(ref, new ServiceError('IDV_ERR_ATTRIBUTE_FORBIDDEN', `party ${party.id} may not ask about ${clip(name)}`), format, request.key)
    }
  }
  const outcome = ctx.verifier.verify(request, party?.addressMatching)
  ctx.outcomes.record(ctx.partySlot, outcome)
  const seen = party === undefined ? outcome : shapeAnswer(party, outcome)
  let record: string | Uint8Array
  if (format === 'msgpack-seq') record = packr.pack({ ref, ...seen })
  else if (seen === outcome) record = `{"ref":${JSON.stringify(ref)},${outcomeJsonFields(outcome)}}`
  else record = `{"ref":${JSON.stringify(ref)},"match":${seen.match}}`
  return { record, key: request.key, match: outcome.match, error: false, attributes: request.attributes.map(([name]) => name), results: outcome as unknown as Record<string, unknown> }
}

function errorRow (ref: string | number | null, err: ServiceError, format: StreamFormat, key = -1): RowResult {
  const error = { code: err.code, detail: err.detail ?? err.message }
  const record = format === 'msgpack-seq' ? packr.pack({ ref, error }) : JSON.stringify({ ref, error })
  return { record, key, match: false, error: true, attributes: [], results: { error: err.code } }
}
