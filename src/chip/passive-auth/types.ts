/**
 * Public types of the chip passive-authentication library.
 *
 * Everything a verification returns is plain data (strings, booleans, arrays,
 * plain objects) so that results cross a worker_threads boundary by structured
 * clone unchanged. No class instances, no Maps, no Dates in results.
 */
import type { CheckName, ReasonCode } from './reasons.js'

/** What a reader pulled off the chip. Each data group is the whole DG as read, outer tag included. */
export interface ChipInput {
  /** EF.SOD, either wrapped in tag 0x77 as read from the chip or a bare CMS ContentInfo. */
  readonly sod: Uint8Array
  /** Data group number (1..16) → bytes. DG1 is required. */
  readonly dataGroups: ReadonlyMap<number, Uint8Array>
}

export interface CheckResult {
  readonly check: CheckName
  readonly ok: boolean
  readonly reason?: ReasonCode
  /** Human-oriented context (which DG, which algorithm); never personal data. */
  readonly detail?: string
}

export interface ChipIdentity {
  readonly pin: string
  /** The MRZ document number: the last 9 digits of the PIN. */
  readonly documentNumber: string
  /** The MRZ name as written, `<` turned into spaces: `NGUYEN VAN AN`. */
  readonly mrzName: string
  /** Full name with diacritics (NFC) from DG13, when DG13 was supplied and verified. */
  readonly fullName?: string
  /** ISO `YYYY-MM-DD`. */
  readonly dateOfBirth: string
  readonly gender: 'male' | 'female'
  /** ISO `YYYY-MM-DD`; absent when the MRZ expiry field is blank (cards without expiry). */
  readonly expiryDate?: string
  /** ICAO three-letter code from the MRZ, e.g. `VNM`. */
  readonly nationality: string
  /** Where pin, dateOfBirth and gender were read from. */
  readonly source: 'dg13' | 'mrz'
}

export interface ChipResult {
  /** True only when every reported check passed and all five core checks ran. */
  readonly valid: boolean
  /** The first failing check's reason, for callers that want one code. */
  readonly reason?: ReasonCode
  /**
   * One entry per check that ran, in CHECKS order. A check missing from the
   * list did not run because something it depends on failed (a SOD that does
   * not parse leaves nothing to hash-compare or signature-check).
   */
  readonly checks: CheckResult[]
  /** Present only when `valid` is true: unauthenticated data is never handed out as an identity. */
  readonly identity?: ChipIdentity
  /** E.g. `ecdsa-with-SHA256`, `rsassa-pss(sha256,mgf1-sha256,salt32)`. */
  readonly signatureAlgorithm?: string
  /** The LDSSecurityObject's data-group hash algorithm, e.g. `sha256`. */
  readonly digestAlgorithm?: string
}

export interface VerifyOptions {
  /** Validity-check time when the SOD has no signingTime attribute (default: now). */
  readonly now?: Date
  /** Largest SOD accepted, in bytes (default 64 KiB; real SODs are 2–5 KiB). */
  readonly maxSodBytes?: number
  /** Largest data group accepted, in bytes (default 1 MiB; DG2 face images are 10–30 KiB). */
  readonly maxDataGroupBytes?: number
  /**
   * Parse a verified DG13 for the diacritic name and cross-check it with the
   * MRZ (default true). DG13 decoding is the largest non-crypto cost (~300 µs
   * of asn1js work); callers that only need PIN/birth date/gender can turn it
   * off: DG13 is then still hash-checked, and the identity comes from the MRZ.
   */
  readonly readDg13?: boolean
}
