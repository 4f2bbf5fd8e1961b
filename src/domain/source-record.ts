/**
 * Validates one NDJSON line of the register before it is hashed into the index.
 * A rejected line gets a reason a data steward can act on; the reason never
 * repeats the personal data itself.
 */
import type { CitizenRecord, CitizenStatus } from './citizen.js'
import { isIsoDate } from './normalize.js'
import { pinConsistencyProblem, pinToKey } from './pin.js'
import { attributeProblem } from './attribute-value.js'

export type SourceResult =
  | { readonly ok: true, readonly key: number, readonly citizen: CitizenRecord }
  | { readonly ok: false, readonly reason: string }

const STATUSES = new Set<string>(['active', 'deceased', 'revoked'])

/** Whether a value is a citizen's status as the register writes it. */
export function isCitizenStatus (value: unknown): value is CitizenStatus {
  return typeof value === 'string' && STATUSES.has(value)
}

/** One NDJSON line, parsed and then validated: every line reader refuses a line that is not JSON alike. */
export function parseJsonLine<R> (line: string, validate: (value: unknown) => R): R | { readonly ok: false, readonly reason: string } {
  let value: unknown
  try {
    value = JSON.parse(line)
  } catch {
    return { ok: false, reason: 'not valid JSON' }
  }
  return validate(value)
}
const OPTIONAL_TEXT = ['placeOfOrigin', 'placeOfResidence'] as const
const OPTIONAL_DATES = ['cardIssueDate', 'cardExpiryDate'] as const

export function parseSourceLine (line: string): SourceResult {
  return parseJsonLine(line, validateSourceRecord)
}

export function validateSourceRecord (value: unknown): SourceResult {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { ok: false, reason: 'not a JSON object' }
  const r = value as Record<string, unknown>
  if (typeof r.pin !== 'string') return { ok: false, reason: 'pin missing or not a string' }
  const key = pinToKey(r.pin)
  if (key < 0) return { ok: false, reason: 'pin is not 12 digits with a known province code' }
  let problem = attributeProblem('fullName', r.fullName)
  if (problem !== undefined) return { ok: false, reason: `fullName ${problem}` }
  problem = attributeProblem('dateOfBirth', r.dateOfBirth)
  if (problem !== undefined) return { ok: false, reason: `dateOfBirth ${problem}` }
  problem = attributeProblem('gender', r.gender)
  if (problem !== undefined) return { ok: false, reason: `gender ${problem}` }
  if (!isCitizenStatus(r.status)) return { ok: false, reason: 'status must be active, deceased or revoked' }
  for (const name of OPTIONAL_TEXT) {
    if (r[name] === undefined || r[name] === null) continue
    problem = attributeProblem(name, r[name])
    if (problem !== undefined) return { ok: false, reason: `${name} ${problem}` }
  }
  for (const name of OPTIONAL_DATES) {
    if (r[name] === undefined || r[name] === null) continue
    if (typeof r[name] !== 'string' || !isIsoDate(r[name])) return { ok: false, reason: `${name} must be a date written YYYY-MM-DD` }
  }
  const citizen = r as unknown as CitizenRecord
  const inconsistent = pinConsistencyProblem(r.pin, citizen.dateOfBirth, citizen.gender)
  if (inconsistent !== undefined) return { ok: false, reason: `pin disagrees with birth date/gender: ${inconsistent}` }
  return {
    ok: true,
    key,
    citizen: {
      pin: r.pin,
      fullName: citizen.fullName,
      dateOfBirth: citizen.dateOfBirth,
      gender: citizen.gender,
      placeOfOrigin: citizen.placeOfOrigin ?? undefined,
      placeOfResidence: citizen.placeOfResidence ?? undefined,
      cardIssueDate: citizen.cardIssueDate ?? undefined,
      cardExpiryDate: citizen.cardExpiryDate ?? undefined,
      status: r.status as CitizenStatus
    }
  }
}
