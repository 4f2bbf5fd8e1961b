/**
 * Stable reason codes for chip passive-authentication failures.
 *
 * A failed check is an answer, not an exception: every failure carries one of
 * these codes. They are part of the service's public contract (the HTTP layer
 * maps them into problem responses and metrics labels), so a code is never
 * renamed or reused once shipped; add new ones at the end.
 */

export const REASONS = Object.freeze({
  /** The SOD is not a CMS SignedData wrapping an LDSSecurityObject (bad DER, wrong content type, missing signed attributes). */
  MALFORMED_SOD: 'MALFORMED_SOD',
  /** A data group is empty, too large, carries the wrong outer tag, or its content cannot be parsed. */
  MALFORMED_DG: 'MALFORMED_DG',
  /** A data group was supplied but the SOD lists no hash for it. */
  DG_MISSING_FROM_SOD: 'DG_MISSING_FROM_SOD',
  /** A data group's hash differs from the one in the SOD. */
  DG_HASH_MISMATCH: 'DG_HASH_MISMATCH',
  /** DG1 (the MRZ) was not supplied. */
  DG1_REQUIRED: 'DG1_REQUIRED',
  /** The SignerInfo signature does not verify with the Document Signer's key. */
  SOD_SIGNATURE_INVALID: 'SOD_SIGNATURE_INVALID',
  /** The messageDigest signed attribute is not the hash of the LDSSecurityObject (or contentType is wrong). */
  MESSAGE_DIGEST_MISMATCH: 'MESSAGE_DIGEST_MISMATCH',
  /** No trusted CSCA signed the Document Signer certificate (or the SOD carries no DS certificate). */
  DS_NOT_TRUSTED: 'DS_NOT_TRUSTED',
  /** The Document Signer certificate had expired at signing time. */
  DS_EXPIRED: 'DS_EXPIRED',
  /** The Document Signer certificate was not yet valid at signing time. */
  DS_NOT_YET_VALID: 'DS_NOT_YET_VALID',
  /** The Document Signer certificate's key usage does not include digitalSignature. */
  DS_KEY_USAGE: 'DS_KEY_USAGE',
  /** The Document Signer certificate's serial number is on the CSCA's revocation list. */
  DS_REVOKED: 'DS_REVOKED',
  /** A digest or signature algorithm (or key type) outside SHA-256/384/512 with RSA, RSA-PSS or ECDSA. */
  UNSUPPORTED_ALGORITHM: 'UNSUPPORTED_ALGORITHM',
  /** DG1 does not hold a well-formed TD1 MRZ (3 × 30 characters, valid dates, ID/VNM, a 12-digit PIN). */
  MRZ_MALFORMED: 'MRZ_MALFORMED',
  /** An MRZ check digit (document number, birth date, expiry or composite) is wrong. */
  MRZ_CHECK_DIGIT: 'MRZ_CHECK_DIGIT',
  /** The MRZ contradicts its own PIN: document number ≠ last 9 digits, or birth year / sex ≠ the PIN's digits. */
  MRZ_PIN_MISMATCH: 'MRZ_PIN_MISMATCH',
  /** DG13 (verified) disagrees with the MRZ on PIN, birth date or gender. */
  DG13_MRZ_MISMATCH: 'DG13_MRZ_MISMATCH',
  /** An unexpected internal failure; reported rather than thrown so a batch never loses its other answers. */
  INTERNAL_ERROR: 'INTERNAL_ERROR'
} as const)

export type ReasonCode = typeof REASONS[keyof typeof REASONS]

/** The checks a verification reports, in the order they run. `dg13` appears only when DG13 is supplied. */
export const CHECKS = Object.freeze(['sod_parse', 'dg_hash', 'sod_signature', 'ds_certificate', 'mrz', 'dg13'] as const)

export type CheckName = typeof CHECKS[number]
