/**
 * Shared asn1js decoding for attacker-supplied bytes (SOD, data groups,
 * certificates taken from a SOD).
 *
 * asn1js does the decoding; this module only fixes the policy: resource
 * limits, no speculative decoding of OCTET/BIT STRING contents (asn1js's
 * default, which would parse every hash and signature as nested BER), no
 * copy of the input, and trailing bytes treated as malformed.
 *
 * `strictDer` additionally rejects BER that is not DER (indefinite or
 * non-minimal lengths, long-form tags, constructed strings, non-minimal
 * INTEGERs, odd BOOLEANs). ICAO 9303 Part 10 requires security objects in
 * DER "to preserve the integrity of the signatures within them": parts of a
 * SignedData (outer headers, certificate framing) are not covered by any
 * signature, and accepting alternative encodings there would let one chip
 * have many byte forms.
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
export function decodeWhole (bytes: Uint8Array, what: string, strictDer = false): asn1js.AsnType {
  const { offset, result } = asn1js.fromBER(bytes, BER_LIMITS)
  if (offset === -1) fail(`${what}: ${result.error || 'not valid BER'}`)
  if (offset !== bytes.byteLength) fail(`${what}: ${bytes.byteLength - offset} trailing bytes`)
  checkTree(result, what, strictDer)
  return result
}

/**
 * Walks an asn1js tree. Always: every element's declared length must match
 * what it contains (asn1js 3.1 lets a child run past its parent's declared
 * end, so a shortened outer length would otherwise go unnoticed). With
 * `strictDer`: fails on the first encoding DER forbids (X.690 §10, §11).
 */
export function checkTree (node: asn1js.AsnType, what: string, strictDer: boolean): void {
  const { idBlock, lenBlock } = node
  if (!lenBlock.isIndefiniteForm) {
    if (node.valueBeforeDecodeView.byteLength !== idBlock.blockLength + lenBlock.blockLength + lenBlock.length) fail(`${what}: element overruns its declared length`)
    if (node instanceof asn1js.Constructed) {
      let sum = 0
      for (const child of node.valueBlock.value) sum += child.valueBeforeDecodeView.byteLength
      if (sum !== lenBlock.length) fail(`${what}: contents overrun their declared length`)
    }
  }
  if (strictDer) checkDerRules(node, what)
  if (node instanceof asn1js.Constructed) {
    for (const child of node.valueBlock.value) checkTree(child, what, strictDer)
  }
}

function checkDerRules (node: asn1js.AsnType, what: string): void {
  const { idBlock, lenBlock } = node
  if (lenBlock.isIndefiniteForm) fail(`${what}: indefinite length is not DER`)
  if (lenBlock.longFormUsed && (lenBlock.length < 128 || lenBlock.blockLength !== 1 + byteLength(lenBlock.length))) fail(`${what}: non-minimal length is not DER`)
  if (idBlock.tagNumber < 31 && idBlock.blockLength > 1) fail(`${what}: long-form tag is not DER`)
  // Length-block warnings are not consulted: asn1js 3.1 flags a long-form length whose *last* byte is 0
  // (e.g. 256 = 82 01 00) as "needlessly long"; the minimal-length rule is checked above instead.
  const valueWarning = valueBlockWarning(node)
  if (node.warnings.length > 0 || idBlock.warnings.length > 0 || valueWarning !== undefined) {
    fail(`${what}: ${node.warnings[0] ?? idBlock.warnings[0] ?? valueWarning ?? 'encoding warning'}`)
  }
  if (idBlock.tagClass === 1) {
    // Universal BIT STRING (3), OCTET STRING (4) and string types are primitive in DER.
    if (idBlock.isConstructed && idBlock.tagNumber !== 16 && idBlock.tagNumber !== 17) fail(`${what}: constructed string is not DER`)
    if (node instanceof asn1js.Integer) {
      const v = node.valueBlock.valueHexView
      const b0 = v[0] ?? 0
      const b1 = v[1] ?? 0
      if (v.byteLength > 1 && ((b0 === 0x00 && b1 < 0x80) || (b0 === 0xff && b1 >= 0x80))) fail(`${what}: non-minimal INTEGER is not DER`)
    }
    if (node instanceof asn1js.Boolean) {
      const v = node.valueBlock.valueHexView
      if (v.byteLength !== 1 || (v[0] !== 0x00 && v[0] !== 0xff)) fail(`${what}: BOOLEAN is not 00 or FF`)
    }
  }
}

/**
 * asn1js's note that it kept an INTEGER as bytes instead of a JavaScript number. asn1js 3.1
 * writes it for every INTEGER of 4 or more content bytes; it says nothing about the encoding.
 */
const BIG_INTEGER_NOTE = 'Too big Integer for decoding, hex only'

/**
 * The first warning asn1js gave the value block, if any. An INTEGER's size note does not count:
 * certificate serial numbers run to 20 octets (RFC 5280 §4.1.2.2; openssl and most CAs make
 * 16–20), and treating the note as a DER violation refused every real Document Signer. The DER
 * rule for INTEGERs (minimal two's complement) is checked in checkDerRules itself.
 */
function valueBlockWarning (node: asn1js.AsnType): string | undefined {
  for (const w of node.valueBlock.warnings) {
    if (!(w === BIG_INTEGER_NOTE && node instanceof asn1js.Integer)) return w
  }
  return undefined
}

function byteLength (n: number): number {
  let len = 0
  do { len++; n = Math.floor(n / 256) } while (n > 0)
  return len
}

/**
 * A count or version INTEGER (not an identifier), at most 4 content bytes; longer encodings are
 * malformed here, never silently truncated. Decoded from the bytes: asn1js's valueDec is 0 for
 * every INTEGER of 4 bytes (BIG_INTEGER_NOTE), which would read 0x01000000 as version 0.
 */
export function smallInteger (block: asn1js.Integer): number {
  const bytes = block.valueBlock.valueHexView
  if (bytes.byteLength === 0 || bytes.byteLength > 4) fail('INTEGER out of range')
  let v = 0
  for (const b of bytes) v = v * 256 + b
  // Two's complement: a set top bit makes the number negative.
  return (bytes[0] as number) >= 0x80 ? v - 2 ** (8 * bytes.byteLength) : v
}

/** Message of an unknown thrown value, bounded so hostile input cannot bloat a result. */
export function errorText (err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err)
  return msg.length > 160 ? `${msg.slice(0, 160)}…` : msg
}
