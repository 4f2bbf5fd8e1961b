/**
 * DG1: the TD1 machine-readable zone of a Vietnamese chip ID card (CCCD).
 *
 * Layout (ICAO 9303 Part 5, 3 lines × 30 characters, stored concatenated):
 *   line 1  ID VNM <doc no: 9> <cd> <optional: 12-digit PIN, fillers>
 *   line 2  <birth YYMMDD> <cd> <sex> <expiry YYMMDD> <cd> VNM <optional: 11> <composite cd>
 *   line 3  NGUYEN<<VAN<AN<<<<<<<<<<<<<<<<<
 * The document number is the last 9 digits of the PIN, and the PIN's century
 * digit (G) supplies the birth year's century, which the MRZ cannot express.
 *
 * Every check digit is verified; failures come back as values (reason codes),
 * never exceptions. Pure string work on a 90-character string: no allocation
 * beyond the result.
 */
import * as asn1js from 'asn1js'
import { DerError, decodeWhole, errorText } from './der.js'
import { REASONS, type ReasonCode } from './reasons.js'

export interface MrzData {
  readonly documentNumber: string
  readonly pin: string
  /** '<' runs turned into single spaces: `NGUYEN VAN AN`. */
  readonly mrzName: string
  /** ISO date, century from the PIN. */
  readonly dateOfBirth: string
  readonly gender: 'male' | 'female'
  /** ISO date; undefined when the field is all fillers (cards without expiry). */
  readonly expiryDate?: string
  readonly nationality: string
}

export type MrzResult =
  | { readonly ok: true, readonly mrz: MrzData }
  | { readonly ok: false, readonly reason: ReasonCode, readonly detail: string }

const TD1_LENGTH = 90

/** ICAO 9303 Part 3 §4.9: weights 7,3,1 repeating; digits as themselves, A=10 … Z=35, '<'=0. */
export function checkDigit (s: string, from = 0, to = s.length): number {
  let sum = 0
  for (let i = from, w = 0; i < to; i++, w = w === 2 ? 0 : w + 1) {
    const c = s.charCodeAt(i)
    const v = c >= 48 && c <= 57 ? c - 48 : c >= 65 && c <= 90 ? c - 55 : 0
    sum += v * (w === 0 ? 7 : w === 1 ? 3 : 1)
  }
  return sum % 10
}

/** Extracts the MRZ string from DG1 (tag 0x61 holding 0x5F1F). */
export function readDg1 (dg1: Uint8Array): { ok: true, mrz: string } | { ok: false, detail: string } {
  // The canonical encoding, 61 L 5F1F M <MRZ> with short lengths that fill it exactly, is read directly;
  // asn1js would find the same single element. Anything else goes through asn1js.
  const n = dg1.byteLength
  if (n >= 5 && n < 0x82 && dg1[0] === 0x61 && dg1[1] === n - 2 && dg1[2] === 0x5f && dg1[3] === 0x1f && dg1[4] === n - 5) {
    return { ok: true, mrz: Buffer.from(dg1.buffer, dg1.byteOffset + 5, n - 5).toString('latin1') }
  }
  try {
    const root = decodeWhole(dg1, 'DG1')
    if (root.idBlock.tagClass !== 2 || root.idBlock.tagNumber !== 1 || !(root instanceof asn1js.Constructed)) {
      return { ok: false, detail: 'DG1 is not tag 0x61' }
    }
    for (const child of root.valueBlock.value) {
      if (child.idBlock.tagClass === 2 && child.idBlock.tagNumber === 0x1f && child instanceof asn1js.Primitive) {
        return { ok: true, mrz: Buffer.from(child.valueBlock.valueHexView).toString('latin1') }
      }
    }
    return { ok: false, detail: 'DG1 has no MRZ (tag 0x5F1F)' }
  } catch (err) {
    return { ok: false, detail: err instanceof DerError ? err.message : `DG1 does not parse: ${errorText(err)}` }
  }
}

export function parseDg1 (dg1: Uint8Array): MrzResult {
  const read = readDg1(dg1)
  if (!read.ok) return { ok: false, reason: REASONS.MALFORMED_DG, detail: read.detail }
  return parseTd1(read.mrz)
}

const malformed = (detail: string): MrzResult => ({ ok: false, reason: REASONS.MRZ_MALFORMED, detail })

export function parseTd1 (mrz: string): MrzResult {
  if (mrz.length !== TD1_LENGTH) return malformed(`MRZ has ${mrz.length} characters, TD1 needs 90`)
  if (!/^[A-Z0-9<]{90}$/.test(mrz)) return malformed('MRZ has characters outside A-Z 0-9 <')
  if (mrz.charCodeAt(0) !== 73 /* I */ || mrz.slice(2, 5) !== 'VNM') return malformed('MRZ line 1 does not start with I?VNM')
  // A '<' in the check-digit position announces a document number longer than 9 (ICAO TD1 rule); CCCD never has one.
  const documentNumber = mrz.slice(5, 14)
  if (!/^\d{9}$/.test(documentNumber)) return malformed('document number is not 9 digits')
  const pin = mrz.slice(15, 27)
  if (!/^\d{12}$/.test(pin)) return malformed('optional data does not start with a 12-digit PIN')

  const line2 = 30
  const birth = mrz.slice(line2, line2 + 6)
  const sex = mrz[line2 + 7]
  const expiry = mrz.slice(line2 + 8, line2 + 14)
  const nationality = mrz.slice(line2 + 15, line2 + 18)
  if (!/^\d{6}$/.test(birth)) return malformed('birth date is not YYMMDD')
  if (sex !== 'M' && sex !== 'F') return malformed('sex is not M or F')
  const noExpiry = expiry === '<<<<<<'
  if (!noExpiry && !/^\d{6}$/.test(expiry)) return malformed('expiry date is not YYMMDD')
  if (!/^[A-Z<]{3}$/.test(nationality)) return malformed('nationality is not a 3-letter code')

  // Century from the PIN's G digit: 0/1 → 1900s, 2/3 → 2000s, … (see MISSION.md).
  const g = pin.charCodeAt(3) - 48
  const birthYear = 1900 + Math.floor(g / 2) * 100 + Number(birth.slice(0, 2))
  const dateOfBirth = isoDate(birthYear, birth)
  if (dateOfBirth === undefined) return malformed('birth date is not a calendar date')
  // Expiry: cards exist since 2016, so YY is 20YY until 2100.
  const expiryDate = noExpiry ? undefined : isoDate(2000 + Number(expiry.slice(0, 2)), expiry)
  if (!noExpiry && expiryDate === undefined) return malformed('expiry date is not a calendar date')

  const bad: string[] = []
  if (!digitMatches(mrz, 14, checkDigit(mrz, 5, 14))) bad.push('document number')
  if (!digitMatches(mrz, line2 + 6, checkDigit(mrz, line2, line2 + 6))) bad.push('birth date')
  if (!digitMatches(mrz, line2 + 14, checkDigit(mrz, line2 + 8, line2 + 14))) bad.push('expiry date')
  // Composite (TD1): line 1 positions 6–30, line 2 positions 1–7, 9–15 and 19–29.
  const composite = mrz.slice(5, 30) + mrz.slice(line2, line2 + 7) + mrz.slice(line2 + 8, line2 + 15) + mrz.slice(line2 + 18, line2 + 29)
  if (!digitMatches(mrz, line2 + 29, checkDigit(composite))) bad.push('composite')
  if (bad.length > 0) return { ok: false, reason: REASONS.MRZ_CHECK_DIGIT, detail: `wrong check digit: ${bad.join(', ')}` }

  const gender = sex === 'M' ? 'male' : 'female'
  const mismatch: string[] = []
  if (documentNumber !== pin.slice(3)) mismatch.push('document number is not the last 9 digits of the PIN')
  if ((g % 2 === 0) !== (gender === 'male')) mismatch.push('sex contradicts the PIN gender digit')
  if (pin.slice(4, 6) !== birth.slice(0, 2)) mismatch.push('birth year contradicts the PIN year digits')
  if (mismatch.length > 0) return { ok: false, reason: REASONS.MRZ_PIN_MISMATCH, detail: mismatch.join('; ') }

  return {
    ok: true,
    mrz: {
      documentNumber,
      pin,
      mrzName: mrz.slice(60).replace(/<+/g, ' ').trim(),
      dateOfBirth,
      gender,
      ...(expiryDate !== undefined ? { expiryDate } : {}),
      nationality: nationality.replace(/</g, '')
    }
  }
}

/** A check digit position holds the expected digit; '<' counts as 0 (ICAO allows it for blank fields). */
function digitMatches (mrz: string, at: number, expected: number): boolean {
  const c = mrz.charCodeAt(at)
  return (c === 60 ? 0 : c - 48) === expected
}

/** `YYMMDD` (digits already checked) with a full year → ISO date, or undefined when not a calendar date. */
export function isoDate (year: number, yymmdd: string): string | undefined {
  const month = Number(yymmdd.slice(2, 4))
  const day = Number(yymmdd.slice(4, 6))
  return calendarDate(year, month, day)
}

export function calendarDate (year: number, month: number, day: number): string | undefined {
  if (month < 1 || month > 12 || day < 1) return undefined
  const days = new Date(Date.UTC(year, month, 0)).getUTCDate()
  if (day > days) return undefined
  return `${String(year).padStart(4, '0')}-${String(month).padStart(2, '0')}-${String(day).padStart(2, '0')}`
}
