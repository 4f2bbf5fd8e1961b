/**
 * The card QR route's own failure code, added to the one error registry
 * (src/errors.ts).
 */
import { defineErrorCodes } from '../errors.js'

export const CARD_QR_ERROR_CODES = defineErrorCodes({
  IDV_ERR_INVALID_QR: { status: 400, title: 'Not a card QR code', fix: 'Send the string scanned from the card\'s QR code: PIN|old ID|full name|birth date ddmmyyyy|gender|address|issue date ddmmyyyy; detail names the field that is wrong.' }
})

type CardQrCodes = typeof CARD_QR_ERROR_CODES
declare module '../errors.js' {
  interface ErrorCodeRegistry extends CardQrCodes {}
}
