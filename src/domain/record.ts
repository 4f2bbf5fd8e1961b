/**
 * The stored record: keyed hashes of a citizen's attributes, never the attributes.
 *
 * Layout (RECORD_BYTES = 131):
 *   [0]      layout version (1)
 *   [1]      status: 0 active, 1 deceased, 2 revoked
 *   [2]      presence bitmap, bit i set when slot i holds a hash
 *   [3 + 16·i] slot i: HMAC-SHA-256(key, slot ‖ pin40 ‖ canonical value), first 16 bytes
 *
 * The PIN is inside every hashed message, so equal values of different citizens
 * hash differently: a leaked index reveals neither values nor who shares one.
 * Without the key, recovering even a birth date means a 2^128 search per slot.
 */
import { asciiName, canonicalName, canonicalPlace } from './normalize.js'
import { KeyedHasher } from './keyed-hash.js'
import type { CitizenRecord, CitizenStatus } from './citizen.js'

export const RECORD_VERSION = 1
export const HASH_BYTES = 16
export const SLOT_COUNT = 8
export const HEADER_BYTES = 3
export const RECORD_BYTES = HEADER_BYTES + SLOT_COUNT * HASH_BYTES

/** Attributes a caller may ask about, in API order. */
export const ATTRIBUTES = ['fullName', 'dateOfBirth', 'gender', 'placeOfOrigin', 'placeOfResidence', 'cardIssueDate', 'cardExpiryDate'] as const
export type AttributeName = typeof ATTRIBUTES[number]

export const Slot = {
  fullName: 0,
  fullNameAscii: 1,
  dateOfBirth: 2,
  gender: 3,
  placeOfOrigin: 4,
  placeOfResidence: 5,
  cardIssueDate: 6,
  cardExpiryDate: 7
} as const
export type SlotName = keyof typeof Slot

export const STATUS_CODES: Readonly<Record<CitizenStatus, number>> = { active: 0, deceased: 1, revoked: 2 }

/** Canonical form of an attribute value before hashing (names and places fold; dates and gender are exact). */
export function canonicalValue (attribute: AttributeName, value: string): string {
  switch (attribute) {
    case 'fullName': return canonicalName(value)
    case 'placeOfOrigin':
    case 'placeOfResidence': return canonicalPlace(value)
    default: return value
  }
}

/**
 * Builds and reads records with one hash key. Holds scratch buffers: one
 * instance per thread.
 */
export class RecordCodec {
  readonly #hasher: KeyedHasher
  #message = Buffer.allocUnsafe(1024)

  constructor (hashKey: Uint8Array) {
    this.#hasher = new KeyedHasher(hashKey)
  }

  /** Writes the keyed hash of `canonical` for `slot` of citizen `key` into out[offset..offset+16). */
  hashInto (slot: number, key: number, canonical: string, out: Uint8Array, offset: number): void {
    // Values are length-checked in characters, but NFD can expand them: never truncate what is hashed.
    const needed = 6 + Buffer.byteLength(canonical, 'utf8')
    if (needed > this.#message.length) this.#message = Buffer.allocUnsafe(needed)
    const m = this.#message
    m[0] = slot
    // The 40-bit key, big-endian. Division keeps it exact beyond 2^32.
    const hi = Math.floor(key / 0x100000000)
    const lo = key >>> 0
    m[1] = hi; m[2] = lo >>> 24; m[3] = lo >>> 16; m[4] = lo >>> 8; m[5] = lo
    const written = m.write(canonical, 6, 'utf8')
    this.#hasher.digestInto(m, 6 + written, out, offset, HASH_BYTES)
  }

  /** Encodes a validated citizen into a fresh record. */
  encode (key: number, citizen: CitizenRecord, out: Uint8Array = new Uint8Array(RECORD_BYTES), offset = 0): Uint8Array {
    out.fill(0, offset, offset + RECORD_BYTES)
    out[offset] = RECORD_VERSION
    out[offset + 1] = STATUS_CODES[citizen.status]
    let presence = 0
    const put = (slot: number, canonical: string | undefined): void => {
      if (canonical === undefined) return
      presence |= 1 << slot
      this.hashInto(slot, key, canonical, out, offset + HEADER_BYTES + slot * HASH_BYTES)
    }
    const name = canonicalName(citizen.fullName)
    put(Slot.fullName, name)
    put(Slot.fullNameAscii, asciiName(name))
    put(Slot.dateOfBirth, citizen.dateOfBirth)
    put(Slot.gender, citizen.gender)
    put(Slot.placeOfOrigin, citizen.placeOfOrigin === undefined ? undefined : canonicalPlace(citizen.placeOfOrigin))
    put(Slot.placeOfResidence, citizen.placeOfResidence === undefined ? undefined : canonicalPlace(citizen.placeOfResidence))
    put(Slot.cardIssueDate, citizen.cardIssueDate)
    put(Slot.cardExpiryDate, citizen.cardExpiryDate)
    out[offset + 2] = presence
    return out
  }

  /** True when slot `slot` of `record` holds the hash of `canonical` for citizen `key`. */
  slotEquals (record: Uint8Array, slot: number, key: number, canonical: string, scratch: Uint8Array): boolean {
    if ((record[2]! & (1 << slot)) === 0) return false
    this.hashInto(slot, key, canonical, scratch, 0)
    const base = HEADER_BYTES + slot * HASH_BYTES
    let diff = 0
    for (let i = 0; i < HASH_BYTES; i++) diff |= scratch[i]! ^ record[base + i]!
    return diff === 0
  }

  /** A fingerprint of the hash key, stored in the index so a wrong key is caught at open, not as silent mismatches. */
  keyFingerprint (): Uint8Array {
    const out = new Uint8Array(HASH_BYTES)
    this.hashInto(0xff, 0, 'idv/hash-key-fingerprint/v1', out, 0)
    return out
  }
}

/** Reads the status byte of a record. */
export function recordStatus (record: Uint8Array): number {
  return record[1]!
}

/** True when bytes look like a record this code can read. */
export function isRecord (record: Uint8Array): boolean {
  return record.length === RECORD_BYTES && record[0] === RECORD_VERSION
}
