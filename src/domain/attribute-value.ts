/**
 * What values an attribute accepts, the same for a question (src/verify/) and
 * a register extract line (source-record.ts): names and places within bounds,
 * gender male/female, dates YYYY-MM-DD.
 */
import { isIsoDate } from './normalize.js'
import type { AttributeName } from './record.js'

const MAX_NAME_CHARS = 200
const MAX_PLACE_CHARS = 500
/** C0 and C1 controls but tab, line feed and carriage return (which separate parts of an address). */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/

/** Why a value is not acceptable for an attribute, or undefined. */
export function attributeProblem (name: AttributeName, value: unknown): string | undefined {
  if (typeof value !== 'string') return 'must be a string'
  switch (name) {
    case 'fullName':
      return value.trim() === '' || value.length > MAX_NAME_CHARS ? `must be 1 to ${MAX_NAME_CHARS} characters` : undefined
    case 'placeOfOrigin':
    case 'placeOfResidence':
      if (value.trim() === '' || value.length > MAX_PLACE_CHARS) return `must be 1 to ${MAX_PLACE_CHARS} characters`
      return CONTROL.test(value) ? 'must not contain control characters' : undefined
    case 'gender':
      return value === 'male' || value === 'female' ? undefined : 'must be "male" or "female"'
    case 'dateOfBirth':
    case 'cardIssueDate':
    case 'cardExpiryDate':
      return isIsoDate(value) ? undefined : 'must be a date written YYYY-MM-DD'
  }
}
