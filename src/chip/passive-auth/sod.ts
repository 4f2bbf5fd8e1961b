/**
 * EF.SOD parsing: CMS SignedData (RFC 5652) wrapping an ICAO LDSSecurityObject
 * (Doc 9303 Part 10 §4.6.2). Parsing only: no hashing, no signature checks.
 *
 * Two parsers under one agreement suite (test/chip/sod-agreement.test.ts): the
 * fast one (sod-fast.ts) reads a SOD through a layout template learnt from an
 * earlier SOD of the same Document Signer; the reference one
 * (sod-reference.ts, asn1js and pkijs, strict DER) parses everything else and
 * teaches the fast one. The result is an answer, never an exception: the
 * caller gets `{ ok: false, detail }` for anything malformed, including
 * exceptions thrown from inside asn1js/pkijs on hostile input.
 */
import { learnSodTemplate, parseLdsCached, parseSodFast } from './sod-fast.js'
import { parseSodWithLayout, sodRefusal, type SodParseResult } from './sod-reference.js'

export { OID_LDS_SECURITY_OBJECT, OID_SIGNED_DATA, type ParsedSod, type SignerId, type SodParseResult } from './sod-reference.js'

export function parseSod (bytes: Uint8Array, maxBytes: number): SodParseResult {
  if (bytes.byteLength === 0) return { ok: false, detail: 'SOD is empty' }
  if (bytes.byteLength > maxBytes) return { ok: false, detail: `SOD is ${bytes.byteLength} bytes, more than ${maxBytes}` }
  try {
    const fast = parseSodFast(bytes)
    if (fast !== undefined) return { ok: true, sod: fast }
    // Parse a private copy: the template keeps it, and the caller may reuse its buffer.
    const copy = bytes.slice()
    const { sod, layout } = parseSodWithLayout(copy, parseLdsCached)
    learnSodTemplate(copy, sod, layout)
    return { ok: true, sod }
  } catch (err) {
    return sodRefusal(err)
  }
}
