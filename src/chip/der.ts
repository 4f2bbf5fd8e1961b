/**
 * Shared asn1js decoding for attacker-supplied bytes (SOD, data groups,
 * certificates taken from a SOD).
 *
 * asn1js does the decoding; this module only fixes the policy: resource
 * limits, no speculative decoding of OCTET/BIT STRING contents (asn1js's
 * default, which would parse every hash and signature as nested BER), no
 * copy of the input, and trailing bytes treated as malformed.
 */
import * as asn1js from 'asn1js'

/** A real SOD is ~150 nodes deep ~12; DG13 ~100 nodes. Far above that is hostile. */
export const BER_LIMITS = Object.freeze({ maxDepth: 40, maxNodes: 8000, parseEmbedded: false, copyInput: false })

/** Structural problem in DER input; always caught inside the chip library and turned into a reason. */
export class DerError extends Error {}

export function fail (detail: string): never {
  throw new DerError(detail)
}

/** Decodes one complete BER value; trailing bytes are malformed, not ignored. */
export function decodeWhole (bytes: Uint8Array, what: string): asn1js.AsnType {
  const { offset, result } = asn1js.fromBER(bytes, BER_LIMITS)
  if (offset === -1) fail(`${what}: ${result.error || 'not valid BER'}`)
  if (offset !== bytes.byteLength) fail(`${what}: ${bytes.byteLength - offset} trailing bytes`)
  return result
}

/** An INTEGER that must fit in 31 bits; longer encodings are malformed here, never silently truncated. */
export function smallInteger (block: asn1js.Integer): number {
  const bytes = block.valueBlock.valueHexView
  if (bytes.byteLength === 0 || bytes.byteLength > 4) fail('INTEGER out of range')
  return block.valueBlock.valueDec
}

/** Message of an unknown thrown value, bounded so hostile input cannot bloat a result. */
export function errorText (err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err)
  return msg.length > 160 ? `${msg.slice(0, 160)}…` : msg
}
