/**
 * Validates one verification request ({pin, attributes}) decoded from JSON or
 * MessagePack. Returns a ServiceError as a value rather than throwing, so a
 * batch can report a bad item and carry on.
 */
import { ServiceError } from '../errors.js'
import { pinToKey } from '../domain/pin.js'
import { isIsoDate } from '../domain/normalize.js'
import { ATTRIBUTES, type AttributeName } from '../domain/record.js'

export interface VerifyRequest {
  /** The PIN as its integer key. */
  readonly key: number
  /** Supplied attributes in API order, values as given (validated, not yet canonical). */
  readonly attributes: ReadonlyArray<readonly [AttributeName, string]>
}

const MAX_NAME_CHARS = 200
const MAX_PLACE_CHARS = 500
const KNOWN = new Set<string>(ATTRIBUTES)

function isPlainObject (v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

export function parseVerifyRequest (input: unknown, where = ''): VerifyRequest | ServiceError {
  if (!isPlainObject(input)) return new ServiceError('IDV_ERR_INVALID_FIELD', `${where || 'body'} must be an object`)
  const pin = input.pin
  if (typeof pin !== 'string') return new ServiceError('IDV_ERR_INVALID_PIN', `${where}pin must be a string of 12 digits`)
  const key = pinToKey(pin)
  if (key < 0) return new ServiceError('IDV_ERR_INVALID_PIN', `${where}pin is not 12 digits with a known province code`)
  const attrs = input.attributes
  if (!isPlainObject(attrs)) return new ServiceError('IDV_ERR_INVALID_FIELD', `${where}attributes must be an object`)
  for (const name in attrs) {
    if (!Object.hasOwn(attrs, name)) continue
    if (!KNOWN.has(name)) return new ServiceError('IDV_ERR_UNKNOWN_ATTRIBUTE', `${where}attributes.${truncate(name)} is not a known attribute`)
  }
  const out: Array<readonly [AttributeName, string]> = []
  for (const name of ATTRIBUTES) {
    if (!Object.hasOwn(attrs, name)) continue
    const value = attrs[name]
    const problem = attributeProblem(name, value)
    if (problem !== undefined) return new ServiceError('IDV_ERR_INVALID_FIELD', `${where}attributes.${name} ${problem}`)
    out.push([name, value as string])
  }
  if (out.length === 0) return new ServiceError('IDV_ERR_NO_ATTRIBUTES', `${where}attributes is empty`)
  return { key, attributes: out }
}

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

function truncate (s: string): string {
  return s.length > 40 ? `${s.slice(0, 40)}…` : s
}
