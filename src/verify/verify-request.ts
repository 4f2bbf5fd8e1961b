/**
 * Validates one verification request ({pin, attributes}) decoded from JSON or
 * MessagePack. Returns a ServiceError as a value rather than throwing, so a
 * batch can report a bad item and carry on.
 */
import { ServiceError } from '../errors.js'
import { pinToKey } from '../domain/pin.js'
import { attributeProblem } from '../domain/attribute-value.js'
import { ATTRIBUTES, type AttributeName } from '../domain/record.js'

export interface VerifyRequest {
  /** The PIN as its integer key. */
  readonly key: number
  /** Supplied attributes in API order, values as given (validated, not yet canonical). */
  readonly attributes: ReadonlyArray<readonly [AttributeName, string]>
}

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

function truncate (s: string): string {
  return s.length > 40 ? `${s.slice(0, 40)}…` : s
}
