/**
 * The receipts capability: every answer to a relying party carries a receipt,
 * its leaf in an RFC 6962 Merkle tree whose root is signed once per event-loop
 * turn (receipt.ts, src/merkle/, jws.ts), checkable offline (receipt-cli.ts)
 * against the keys published at GET /v1/keys (keys.ts). Each thread reads the
 * key ring itself (re-read on SIGHUP) and offers RECEIPTS to the routes that
 * answer parties (answer-receipt.ts encodes an answer with its receipt).
 * Unsigned service (IDV_AUTH=none) or IDV_RECEIPTS=off: no receipts, and
 * /v1/keys publishes an empty key set.
 */
import { serviceKey, type Capability } from '../capability.js'
import { refuseBadFraming } from '../http/framing.js'
import { send } from '../http/respond.js'
import { ServiceReceiptKeys } from './keys.js'
import { ReceiptSigner } from './receipt.js'

export { ReceiptSigner, receiptJson, receiptLeafHash, resultsDigest, verifyReceipt, type Receipt, type ReceiptLeaf } from './receipt.js'
export { encodeWithReceipt, type AnswerFacts } from './answer-receipt.js'
export { ReceiptKeyRing } from './keys.js'
export { receiptVerifyCommand, rowsReceiptVerify } from './receipt-cli.js'

/** The service routes use to sign answers; absent when answers are not signed. */
export const RECEIPTS = serviceKey<ReceiptSigner>('receipts')

export const receipts: Capability = {
  name: 'receipts',
  routes: [{ method: 'GET', path: '/v1/keys' }],
  thread (ctx) {
    const signing = ctx.config.auth === 'signatures' && ctx.config.receipts
    const keys = new ServiceReceiptKeys(signing ? ctx.config.receiptKeyFile : undefined)
    if (keys.enabled) ctx.provide(RECEIPTS, new ReceiptSigner({ keys: () => keys.current() }))
    // Public: anyone holding a receipt must be able to check it.
    ctx.app.get('/v1/keys', (res, req) => { if (!refuseBadFraming(res, req)) send(res, 200, 'application/jwk-set+json', keys.jwks()) })
    return { reload: () => { keys.reload(ctx.log) } }
  }
}
