/**
 * DG13: Vietnamese personal data as printed on the CCCD (tag 0x6D).
 *
 * Nominal layout: SEQUENCE { INTEGER version, OBJECT IDENTIFIER,
 *   SET OF SEQUENCE { INTEGER fieldNumber, value } }, values UTF8String or
 * PrintableString; field 13 (parents) and 14 (spouse) nest their names.
 * Card generations differ in the wrapping (SET vs SEQUENCE, extra levels), so
 * parsing is deliberately liberal (dg13-reference.ts says how). The first
 * occurrence of a field number wins.
 *
 * Two parsers under one agreement suite (test/chip/dg13-agreement.test.ts):
 * the fast one (dg13-fast.ts) takes the encodings it fully understands, the
 * reference one (dg13-reference.ts, asn1js) everything else, error details
 * included. Only called on a DG13 whose hash matched the SOD: the bytes are
 * authentic, so liberal parsing cannot be exploited to inject data.
 */
import { parseDg13Fast, IDENTITY_FIELDS } from './dg13-fast.js'
import { parseDg13Reference } from './dg13-reference.js'
import type { Dg13Result } from './dg13-fields.js'

export { DG13_FIELDS, parseDate, parseGender, type Dg13Data, type Dg13Result } from './dg13-fields.js'

export function parseDg13 (bytes: Uint8Array): Dg13Result {
  try {
    const fast = parseDg13Fast(bytes)
    if (fast !== undefined) return fast
  } catch {
    // Any surprise in the fast path: the asn1js path below decides.
  }
  return parseDg13Reference(bytes)
}

/**
 * For verifyChip: the same ok/detail as parseDg13 (which depends only on
 * fields 1–4), the same pin, fullName, dateOfBirth and gender, but the
 * strings of the other fields are not decoded: `fields` maps them to an empty
 * list and the other optional properties are absent. Not for callers that
 * want the whole DG13.
 */
export function parseDg13Identity (bytes: Uint8Array): Dg13Result {
  try {
    const fast = parseDg13Fast(bytes, IDENTITY_FIELDS)
    if (fast !== undefined) return fast
  } catch {
    // As in parseDg13: the asn1js path decides.
  }
  return parseDg13Reference(bytes)
}

