/**
 * The stored record: keyed hashes of a citizen's attributes, never the attributes.
 *
 * Layout 3 (RECORD_BYTES = 131):
 *   [0]      layout version (3)
 *   [1]      status: 0 active, 1 deceased, 2 revoked
 *   [2]      presence bitmap, bit i set when slot i holds a hash
 *   [3 + 16·i] slot i: the first 16 bytes of F(S_c, slot ‖ len16 ‖ canonical value)
 *
 * where S_c = HMAC-SHA-256(key, "idv/citizen/v2" ‖ pin40) is the citizen's own
 * secret, used as SHA-256's initial chaining value, and F is SHA-256's
 * Merkle–Damgård iteration from it (KeyedHasher.continueInto): NMAC's inner
 * function. Why this is still a keyed PRF bound to (slot, PIN, value), with
 * 128-bit outputs (docs/design/verify.md, "Keyed hashing"):
 * - S_c is an HMAC output: pseudorandom and independent per PIN for anyone
 *   without the key (HMAC is a PRF).
 * - The cascade of SHA-256's compression function keyed through its chaining
 *   value is a PRF on prefix-free inputs (Bellare, Canetti, Krawczyk 1996),
 *   under the assumption HMAC's own proof rests on (the compression function
 *   is a PRF when keyed by its chaining value). `slot ‖ len16 ‖ value`, with
 *   the value's byte length up front, is prefix-free, padding included.
 * - Outputs are truncated to 128 of 256 bits, so the chaining value after a
 *   message is never revealed: no length extension.
 * The PIN is bound into S_c, so equal values of different citizens hash
 * differently: a leaked index reveals neither values nor who shares one.
 * Without the key, recovering even a birth date is a 2^128 search per slot.
 * Cost: one HMAC per citizen (two compressions), then one compression per
 * value up to 52 bytes, against three per value for an HMAC per slot
 * (layout 1, HMAC-SHA-256(key, slot ‖ pin40 ‖ value)).
 *
 * Layout 3 changes only what the two place slots hash (src/addresses/,
 * docs/design/addresses.md): an address that names known units hashes as its
 * canonical 2025 place `u|street|ward|province`, whichever form it was written
 * in; any other address (unknown names, an old ward split across several new
 * ones) as its text, `t|…`. Every other slot is hashed as in layout 2. An
 * index of layout 2 is refused at open; rebuild it with idv load.
 */
import { asciiName, canonicalName } from './normalize.js'
import { storedPlace } from '../addresses/index.js'
import { KeyedHasher } from './keyed-hash.js'
import type { CitizenRecord, CitizenStatus } from './citizen.js'

export const RECORD_VERSION = 3
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

/** Domain separation of the per-citizen secret (since layout 2; layout 3 keeps it: only place slots changed). */
const CITIZEN_TAG = Buffer.from('idv/citizen/v2', 'latin1')

/** The 40-bit PIN key, big-endian, at out[at..at+5). Division keeps it exact beyond 2^32. */
function writeKey40 (key: number, out: Uint8Array, at: number): void {
  const hi = Math.floor(key / 0x100000000)
  const lo = key >>> 0
  out[at] = hi; out[at + 1] = lo >>> 24; out[at + 2] = lo >>> 16; out[at + 3] = lo >>> 8; out[at + 4] = lo
}

/**
 * Canonical form of an attribute value as the register's slot holds it (names
 * fold; places become their one 2025 place, else their text; dates and gender
 * are exact). A question about a place is read by the verifier instead, which
 * may try several candidates.
 */
export function canonicalValue (attribute: AttributeName, value: string): string {
  switch (attribute) {
    case 'fullName': return canonicalName(value)
    case 'placeOfOrigin':
    case 'placeOfResidence': return storedPlace(value)
    default: return value
  }
}

/**
 * Builds and reads records with one hash key. Holds scratch buffers: one
 * instance per thread.
 */
/** Places of origin a loader worker's codec keeps read (at most a few MB). */
const MAX_PLACES_KEPT = 65_536

export class RecordCodec {
  readonly #hasher: KeyedHasher
  #message = Buffer.allocUnsafe(1024)
  /** S_c of the last citizen hashed (the verifier asks several attributes of one citizen in a row). */
  readonly #citizen = new Int32Array(8)
  #citizenKey = -1
  readonly #citizenMessage = Buffer.alloc(CITIZEN_TAG.length + 5)

  /**
   * Places of origin already read (`places: true`, the bulk loader's workers
   * only): a place of origin is a commune, shared by thousands of citizens, and
   * reading an address costs more than hashing it (a residence, with its street,
   * is mostly unique: not kept). The server keeps none, so no request's address
   * outlives its request. Cleared when full.
   */
  readonly #places: Map<string, string> | undefined

  constructor (hashKey: Uint8Array, options: { places?: boolean } = {}) {
    this.#hasher = new KeyedHasher(hashKey)
    this.#citizenMessage.set(CITIZEN_TAG)
    this.#places = options.places === true ? new Map() : undefined
  }

  #storedPlace (place: string): string {
    const places = this.#places
    if (places === undefined) return storedPlace(place)
    let stored = places.get(place)
    if (stored === undefined) {
      stored = storedPlace(place)
      if (places.size >= MAX_PLACES_KEPT) places.clear()
      places.set(place, stored)
    }
    return stored
  }

  /** Writes the keyed hash of `canonical` for `slot` of citizen `key` into out[offset..offset+16). */
  hashInto (slot: number, key: number, canonical: string, out: Uint8Array, offset: number): void {
    if (key !== this.#citizenKey) {
      writeKey40(key, this.#citizenMessage, CITIZEN_TAG.length)
      this.#hasher.stateOf(this.#citizenMessage, this.#citizenMessage.length, this.#citizen)
      this.#citizenKey = key
    }
    // UTF-8 takes at most 3 bytes per UTF-16 unit: room without measuring first (never truncate what is hashed).
    if (3 + canonical.length * 3 > this.#message.length) this.#message = Buffer.allocUnsafe(3 + canonical.length * 3)
    const m = this.#message
    const written = m.write(canonical, 3, 'utf8')
    m[0] = slot; m[1] = written >>> 8; m[2] = written
    this.#hasher.continueInto(this.#citizen, m, 3 + written, out, offset, HASH_BYTES)
  }

  /**
   * HMAC-SHA-256(key, label ‖ pin40 ‖ text), first 16 bytes: for what is not a
   * record slot (the key's fingerprint, receipts' PIN hashes), whose bytes must
   * not change with the record layout.
   */
  labelledHmacInto (label: number, key: number, text: string, out: Uint8Array, offset: number): void {
    // Values are length-checked in characters, but NFD can expand them: never truncate what is hashed.
    const needed = 6 + Buffer.byteLength(text, 'utf8')
    if (needed > this.#message.length) this.#message = Buffer.allocUnsafe(needed)
    const m = this.#message
    m[0] = label
    writeKey40(key, m, 1)
    const written = m.write(text, 6, 'utf8')
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
    put(Slot.placeOfOrigin, citizen.placeOfOrigin === undefined ? undefined : this.#storedPlace(citizen.placeOfOrigin))
    put(Slot.placeOfResidence, citizen.placeOfResidence === undefined ? undefined : storedPlace(citizen.placeOfResidence))
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
    this.labelledHmacInto(0xff, 0, 'idv/hash-key-fingerprint/v1', out, 0)
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
