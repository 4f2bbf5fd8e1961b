/**
 * The jobs capability: bulk verification for operators.
 * - POST /v1/verify/stream (stream-route.ts): items in, answers out, in order,
 *   with flat memory both ways;
 * - /v1/jobs (job-routes.ts, job-store.ts, job-runner.ts): a file uploaded in
 *   chunks, verified in the background by the main thread's runner, results
 *   downloaded with range requests; kept in the jobs directory (beside the
 *   data directory), so jobs survive a restart, and removed after the
 *   retention period.
 * Every row is verified by the verify capability's Verifier under the party's
 * policy, counted against its rate budget in rows (budget.ts), and signed
 * for by one receipt per segment of rows (segments.ts).
 *
 * Every row is an audit entry (row-audit.ts) before its answer leaves: a
 * stream's before its record is written to the socket, a job's before it is
 * appended to the results file (docs/design/jobs.md, "Audit").
 */
import type { Capability } from '../capability.js'
import { RecordCodec } from '../domain/record.js'
import { ADMISSION } from '../admission/index.js'
import { RECEIPTS } from '../receipts/index.js'
import { AUDIT } from '../audit/index.js'
import { ATTRIBUTE_RESULTS, OutcomeRecorder, VERIFY_OUTCOMES, Verifier } from '../verify/index.js'
import { registerStreamRoute } from './stream-route.js'
import { registerJobRoutes } from './job-routes.js'
import { JobStore } from './job-store.js'
import { JobRunner } from './job-runner.js'

export { ItemFramer, NEED_MORE, FramingError, STREAM_TYPES, streamFormat, type StreamFormat } from './framing.js'
export { JOB_ERROR_CODES } from './codes.js'

export const jobs: Capability = {
  name: 'jobs',
  routes: [
    { method: 'POST', path: '/v1/verify/stream', labelled: true },
    { method: 'POST', path: '/v1/jobs', labelled: true },
    { method: 'GET', path: '/v1/jobs/:id' },
    { method: 'DELETE', path: '/v1/jobs/:id' },
    { method: 'PUT', path: '/v1/jobs/:id/input' },
    { method: 'GET', path: '/v1/jobs/:id/results' },
    { method: 'GET', path: '/v1/jobs/:id/receipts' }
  ],
  thread (ctx) {
    const verifier = new Verifier(ctx.store, new RecordCodec(ctx.hashKey))
    const outcomes = new OutcomeRecorder(ctx.counter(VERIFY_OUTCOMES), ctx.counter(ATTRIBUTE_RESULTS))
    const admission = ctx.use(ADMISSION)
    const receipts = ctx.use(RECEIPTS)
    const audit = ctx.use(AUDIT)
    const limits = { maxItemBytes: ctx.config.maxBodyBytes, streamIdleSeconds: ctx.config.streamIdleSeconds, receiptRows: ctx.config.receiptRows }
    registerStreamRoute(ctx.app, { verifier, outcomes, admission, receipts, audit, ids: ctx.ids, log: ctx.log, lifecycle: ctx.lifecycle, route: ctx.route('/v1/verify/stream'), limits })
    const store = new JobStore(ctx.config.jobsDir, ctx.config.jobRetentionDays)
    registerJobRoutes(ctx.app, { store, admission, ids: ctx.ids, log: ctx.log, lifecycle: ctx.lifecycle, route: ctx.route('/v1/jobs'), maxChunkBytes: ctx.config.jobChunkBytes })
    // One runner per jobs directory: the main thread's, when it wins the directory's lock (one process of a cluster).
    const runner = ctx.main ? JobRunner.start({ store, verifier, outcomes, admission, receipts, audit, log: ctx.log, receiptRows: ctx.config.receiptRows }) : undefined
    return { close: async () => { await runner?.stop() } }
  }
}
