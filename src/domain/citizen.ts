/**
 * The source record of one citizen, as it arrives in NDJSON from the register.
 * This is the only place plaintext personal data exists; the index stores
 * keyed hashes of it (src/domain/record.ts).
 */
import type { Gender } from './pin.js'

export type CitizenStatus = 'active' | 'deceased' | 'revoked'

export interface CitizenRecord {
  pin: string
  fullName: string
  /** ISO `YYYY-MM-DD`. */
  dateOfBirth: string
  gender: Gender
  placeOfOrigin?: string
  placeOfResidence?: string
  /** ISO dates; absent for citizens who hold no chip card yet (children). */
  cardIssueDate?: string
  cardExpiryDate?: string
  status: CitizenStatus
}
