/**
 * The card QR capability: POST /v1/card/qr/verify (route.ts) verifies the
 * string scanned from a chip ID card's QR code (qr-code.ts) against the
 * register through the verify capability's Verifier, under the party's
 * policy. A separate capability because it is a separate question (one
 * scanned string, not chosen attributes) with its own parser and error code;
 * it needs nothing but a thread part. Its answers are recorded in the audit
 * log (AUDIT) before they are sent, exactly as /v1/verify's.
 */
import type { Capability } from '../capability.js'
import { RecordCodec } from '../domain/record.js'
import { ADMISSION } from '../admission/index.js'
import { RECEIPTS } from '../receipts/index.js'
import { AUDIT } from '../audit/index.js'
import { ATTRIBUTE_RESULTS, OutcomeRecorder, VERIFY_OUTCOMES, Verifier } from '../verify/index.js'
import { CARD_QR_PATH, registerCardQrRoute } from './route.js'

export { parseCardQr, type CardQr } from './qr-code.js'

export const cardQr: Capability = {
  name: 'card-qr',
  routes: [{ method: 'POST', path: CARD_QR_PATH, labelled: true }],
  thread (ctx) {
    registerCardQrRoute(ctx.app, {
      verifier: new Verifier(ctx.store, new RecordCodec(ctx.hashKey)),
      ids: ctx.ids,
      log: ctx.log,
      maxBodyBytes: ctx.config.maxBodyBytes,
      lifecycle: ctx.lifecycle,
      route: ctx.route(CARD_QR_PATH),
      // Counted with /v1/verify's verdicts and attribute results (declared by verify, listed before).
      outcomes: new OutcomeRecorder(ctx.counter(VERIFY_OUTCOMES), ctx.counter(ATTRIBUTE_RESULTS)),
      admission: ctx.use(ADMISSION),
      receipts: ctx.use(RECEIPTS),
      // Every answer is an audit entry before it leaves (docs/design/audit.md), as on /v1/verify.
      audit: ctx.use(AUDIT)
    })
    return undefined
  }
}
