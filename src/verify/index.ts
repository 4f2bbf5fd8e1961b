/**
 * The verify capability, the hot path: POST /v1/verify and /v1/verify/batch
 * (routes.ts), answering from the store through the Verifier (verifier.ts):
 * one memory-mapped read, a keyed hash per supplied attribute, a 16-byte
 * compare. It uses admission and receipts when the list offers them.
 */
import type { Capability } from '../capability.js'
import { RecordCodec } from '../domain/record.js'
import { ADMISSION } from '../admission/index.js'
import { RECEIPTS } from '../receipts/index.js'
import { AUDIT } from '../audit/index.js'
import { ATTRIBUTE_RESULTS, OutcomeRecorder, VERIFY_OUTCOMES } from './outcomes.js'
import { registerVerifyRoutes } from './routes.js'
import { Verifier } from './verifier.js'

export { Verifier, type VerifyOutcome } from './verifier.js'
export { OutcomeRecorder, VERIFY_OUTCOMES, ATTRIBUTE_RESULTS } from './outcomes.js'
export { parseVerifyRequest, type VerifyRequest } from './verify-request.js'
export { outcomeJsonFields } from './routes.js'

export const verify: Capability = {
  name: 'verify',
  routes: [
    { method: 'POST', path: '/v1/verify', labelled: true },
    { method: 'POST', path: '/v1/verify/batch', labelled: true }
  ],
  metrics: [VERIFY_OUTCOMES, ATTRIBUTE_RESULTS],
  thread (ctx) {
    registerVerifyRoutes(ctx.app, {
      verifier: new Verifier(ctx.store, new RecordCodec(ctx.hashKey)),
      ids: ctx.ids,
      log: ctx.log,
      limits: ctx.config,
      lifecycle: ctx.lifecycle,
      routes: { single: ctx.route('/v1/verify'), batch: ctx.route('/v1/verify/batch') },
      outcomes: new OutcomeRecorder(ctx.counter(VERIFY_OUTCOMES), ctx.counter(ATTRIBUTE_RESULTS)),
      admission: ctx.use(ADMISSION),
      receipts: ctx.use(RECEIPTS),
      audit: ctx.use(AUDIT)
    })
    return undefined
  }
}
