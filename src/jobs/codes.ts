/**
 * Stable failure codes of streamed verification and jobs, added to the one
 * error registry (src/errors.ts).
 */
import { defineErrorCodes } from '../errors.js'

export const JOB_ERROR_CODES = defineErrorCodes({
  IDV_ERR_STREAM_FRAMING: { status: 400, title: 'Malformed stream framing', fix: 'The item named in the final record (index) is not one NDJSON line within the line limit, or not one MessagePack value; everything before it was answered. Resend from that item.' },
  IDV_ERR_JOB_NOT_FOUND: { status: 404, title: 'No such job', fix: 'Check the job id: a job is visible only to the party that created it, and is deleted after the retention period.' },
  IDV_ERR_UPLOAD_OFFSET: { status: 409, title: 'Upload offset mismatch', fix: 'Send the chunk that starts at the offset in the Upload-Offset answer header (GET /v1/jobs/{id} says it too).' },
  IDV_ERR_JOB_STATE: { status: 409, title: 'Job not in a state for this', fix: 'The job\'s upload is already complete, or the job was cancelled; GET /v1/jobs/{id} shows its state.' },
  IDV_ERR_IDEMPOTENCY_KEY_REUSED: { status: 422, title: 'Idempotency-Key reused with another body', fix: 'Use a new Idempotency-Key for a different job, or resend the same body to get the job the key made.' },
  IDV_ERR_IDEMPOTENCY_KEY_MISSING: { status: 400, title: 'Idempotency-Key missing', fix: 'Send an Idempotency-Key header (1-128 visible ASCII characters) with POST /v1/jobs, so a retried create makes one job.' },
  IDV_ERR_RANGE_NOT_SATISFIABLE: { status: 416, title: 'Range not satisfiable', fix: 'Ask for one byte range (bytes=N- or bytes=N-M) within the results so far (Content-Range: bytes */SIZE says how much there is).' }
})

type JobCodes = typeof JOB_ERROR_CODES
declare module '../errors.js' {
  interface ErrorCodeRegistry extends JobCodes {}
}
