/**
 * What values an attribute accepts, the same for a question (src/verify/) and
 * a register extract line (source-record.ts): names and places within bounds,
 * gender male/female, dates YYYY-MM-DD.
 */
import { isIsoDate } from './normalize.js'
import type { AttributeName } from './record.js'

const MAX_NAME_CHARS = 200
const MAX_PLACE_CHARS = 500

/** Why a value is not acceptable for an attribute, or undefined. */
export function attributeProblem (name: AttributeName, value: unknown): string | undefined {
  if (typeof value !== 'string') return 'must be a string'
  switch (name) {
    case 'fullName':
      return value.trim() === '' || value.length > MAX_NAME_CHARS ? `must be 1 to ${MAX_NAME_CHARS} characters` : undefined
    case 'placeOfOrigin':
    case 'placeOfResidence':
      return value.trim() === '' || value.length > MAX_PLACE_CHARS ? `must be 1 to ${MAX_PLACE_CHARS} characters` : undefined
    case 'gender':
      return value === 'male' || value === 'female' ? undefined : 'must be "male" or "female"'
    case 'dateOfBirth':
    case 'cardIssueDate':
    case 'cardExpiryDate':
      return isIsoDate(value) ? undefined : 'must be a date written YYYY-MM-DD'
  }
}
