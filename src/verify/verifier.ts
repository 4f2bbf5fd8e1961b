/**
 * The match rules. A request is compared against the stored keyed hashes; the
 * answer says match / no-match per attribute and never carries stored data.
 *
 * - fullName: `match` when the canonical names agree; `match_without_diacritics`
 *   when only the diacritic-free forms agree (systems holding `NGUYEN VAN AN`).
 * - placeOfOrigin, placeOfResidence (src/addresses/): `match` when the address
 *   names the register's 2025 place (or, unresolved, the same text);
 *   `match_reorganised` when it names pre-2025 units (ward, district,
 *   province) that became the register's place; `mismatch` otherwise. A party
 *   whose policy says `addressMatching: exact` gets `mismatch` instead of
 *   `match_reorganised` (the old-form candidates are not even hashed).
 * - every other attribute: `match` or `mismatch` (an attribute the register does
 *   not hold, such as the card dates of a child, is a `mismatch`).
 * - `match` overall: the citizen is active and every supplied attribute is
 *   `match` or `match_reorganised` (the party chose to accept the mapping).
 */
import { asciiName, canonicalName } from '../domain/normalize.js'
import { HASH_BYTES, RecordCodec, Slot, canonicalValue, isRecord, recordStatus, type AttributeName } from '../domain/record.js'
import { readPlace, textPlace, type AddressMatching } from '../addresses/index.js'
import type { VerifyRequest } from './verify-request.js'
import type { StorageCore } from '../store/types.js'

/** Domain-separates receipt PIN hashes from record slots (0..7) and the key fingerprint (0xff). */
const PIN_HASH_SLOT = 0xfe

export type AttributeResult = 'match' | 'match_without_diacritics' | 'match_reorganised' | 'mismatch'
export type CitizenState = 'active' | 'inactive' | 'unknown'

export interface VerifyOutcome {
  match: boolean
  citizen: CitizenState
  attributes: Partial<Record<AttributeName, AttributeResult>>
}

export class Verifier {
  readonly #store: StorageCore
  readonly #codec: RecordCodec
  readonly #scratch = new Uint8Array(HASH_BYTES)

  constructor (store: StorageCore, codec: RecordCodec) {
    this.#store = store
    this.#codec = codec
  }

  /**
   * A keyed hash (base64url) of the PINs a party asked about, in order, for
   * its receipts: it commits to which citizens an answer was about without
   * putting a PIN in anything the party keeps. The party id is hashed in, so
   * the same citizen gets a different pinHash in each party's receipts and
   * receipts of different parties cannot be linked to one citizen by anyone
   * without the hash key; the operator, who holds it, can (see README). One
   * HMAC whatever the batch size.
   */
  pinHash (partyId: string, keys: readonly number[]): string {
    const out = Buffer.allocUnsafe(HASH_BYTES)
    const pins = keys.length === 1 ? String(keys[0]).padStart(12, '0') : keys.map((k) => String(k).padStart(12, '0')).join(',')
    // Party ids are [A-Za-z0-9._-] (party-schema.ts): the ':' after one cannot belong to it.
    this.#codec.labelledHmacInto(PIN_HASH_SLOT, 0, `idv/receipt-pins/v2:${partyId}:${pins}`, out, 0)
    return out.toString('base64url')
  }

  verify (request: VerifyRequest, addressMatching: AddressMatching = 'reorganisation-aware'): VerifyOutcome {
    const record = this.#store.getFast(request.key)
    const attributes: Partial<Record<AttributeName, AttributeResult>> = {}
    if (record === undefined || !isRecord(record)) {
      for (const [name] of request.attributes) attributes[name] = 'mismatch'
      return { match: false, citizen: 'unknown', attributes }
    }
    // The record bytes may point into a reused buffer: finish with them before any other store call.
    const active = recordStatus(record) === 0
    let all = true
    for (const [name, value] of request.attributes) {
      const result = this.#compare(record, request.key, name, value, addressMatching)
      attributes[name] = result
      if (result !== 'match' && result !== 'match_reorganised') all = false
    }
    return { match: active && all, citizen: active ? 'active' : 'inactive', attributes }
  }

  #compare (record: Uint8Array, key: number, name: AttributeName, value: string, addressMatching: AddressMatching): AttributeResult {
    const codec = this.#codec
    if (name === 'placeOfOrigin' || name === 'placeOfResidence') return this.#comparePlace(record, key, Slot[name], value, addressMatching)
    if (name === 'fullName') {
      const canonical = canonicalName(value)
      if (codec.slotEquals(record, Slot.fullName, key, canonical, this.#scratch)) return 'match'
      return codec.slotEquals(record, Slot.fullNameAscii, key, asciiName(canonical), this.#scratch) ? 'match_without_diacritics' : 'mismatch'
    }
    return codec.slotEquals(record, Slot[name], key, canonicalValue(name, value), this.#scratch) ? 'match' : 'mismatch'
  }

  /**
   * At most four keyed hashes: the new form's one place; or the old form's
   * one to three candidate places (a split ward), then, for a split ward, its
   * text (what the register holds when it kept that very address); or, for
   * an unresolved address, its text alone.
   */
  #comparePlace (record: Uint8Array, key: number, slot: number, value: string, addressMatching: AddressMatching): AttributeResult {
    const codec = this.#codec
    const reading = readPlace(value)
    if (reading.form === 'new') return codec.slotEquals(record, slot, key, reading.candidates[0]!, this.#scratch) ? 'match' : 'mismatch'
    if (reading.form === 'old') {
      if (addressMatching === 'reorganisation-aware') {
        for (const place of reading.candidates) if (codec.slotEquals(record, slot, key, place, this.#scratch)) return 'match_reorganised'
      }
      if (reading.candidates.length === 1) return 'mismatch'
    }
    return codec.slotEquals(record, slot, key, textPlace(value), this.#scratch) ? 'match' : 'mismatch'
  }
}
