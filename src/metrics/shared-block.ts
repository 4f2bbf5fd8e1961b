/**
 * The one SharedArrayBuffer every server thread records into, so a scrape of
 * the main thread shows the whole process (prom-client aggregates across
 * `cluster` processes only, not worker threads).
 *
 *   Int32 header   [layout id, stripe count, stripes claimed, party slot states…]
 *   party ids      PARTY_COUNT × 64 bytes (ASCII), written once per slot
 *   stripes        one Float64 stripe of layout.total cells per thread
 *
 * Why stripes rather than shared cells with Atomics.add: each thread owns its
 * stripe and is its only writer, so recording is a plain `+=` (no locked
 * read-modify-write, no contended cache line), counts stay exact to 2^53 (an
 * Int32 cell would wrap after 4 billion requests, and Atomics on BigInt64
 * allocate a BigInt per call), and latency sums can be fractional seconds. The
 * scrape sums the stripes. Atomics are used where threads do share a word: the
 * stripe claim and the party slot table.
 */
import { PARTY_COUNT, PARTY_ID_BYTES, type Layout } from './layout.js'

const H_LAYOUT = 0
const H_STRIPES = 1
const H_CLAIMED = 2
const H_PARTIES = 3
const HEADER_INTS = H_PARTIES + PARTY_COUNT
const NAMES_OFFSET = HEADER_INTS * 4
const STRIPES_OFFSET = Math.ceil((NAMES_OFFSET + PARTY_COUNT * PARTY_ID_BYTES) / 64) * 64

/** A party slot's state word: FREE, CLAIMING, or the byte length of the id written there. */
const FREE = 0
const CLAIMING = -1

export class SharedBlock {
  readonly buffer: SharedArrayBuffer
  readonly layout: Layout
  readonly #header: Int32Array
  readonly #names: Uint8Array

  private constructor (buffer: SharedArrayBuffer, layout: Layout) {
    this.buffer = buffer
    this.layout = layout
    this.#header = new Int32Array(buffer, 0, HEADER_INTS)
    this.#names = new Uint8Array(buffer, NAMES_OFFSET, PARTY_COUNT * PARTY_ID_BYTES)
  }

  /** A new block laid out by `layout`, with room for `stripes` recording threads. */
  static create (layout: Layout, stripes: number): SharedBlock {
    if (!Number.isInteger(stripes) || stripes < 1) throw new RangeError('stripes must be a positive integer')
    const block = new SharedBlock(new SharedArrayBuffer(STRIPES_OFFSET + stripes * layout.total * 8), layout)
    block.#header[H_LAYOUT] = layout.id
    block.#header[H_STRIPES] = stripes
    return block
  }

  /** The block another thread created (its `buffer`, passed via workerData or postMessage), laid out as this thread computes. */
  static attach (buffer: SharedArrayBuffer, layout: Layout): SharedBlock {
    const block = new SharedBlock(buffer, layout)
    if (Atomics.load(block.#header, H_LAYOUT) !== layout.id) throw new Error('metrics block was made by a different build (layout mismatch)')
    return block
  }

  get stripeCount (): number {
    return this.#header[H_STRIPES]!
  }

  /** Stripes handed out so far (only these can hold data). */
  get claimedStripes (): number {
    return Math.min(Atomics.load(this.#header, H_CLAIMED), this.stripeCount)
  }

  /** Gives the calling thread a stripe of its own, or throws when all are taken. */
  claimStripe (): Float64Array {
    const index = Atomics.add(this.#header, H_CLAIMED, 1)
    if (index >= this.stripeCount) throw new Error(`metrics block has room for ${this.stripeCount} threads; raise the stripe count`)
    return this.stripe(index)
  }

  stripe (index: number): Float64Array {
    return new Float64Array(this.buffer, STRIPES_OFFSET + index * this.layout.total * 8, this.layout.total)
  }

  /**
   * The slot of a party id among `first`..PARTY_COUNT-1, claiming a free one the
   * first time any thread sees the id; `overflow` when the table is full. Ids
   * are compared byte for byte; callers cache the answer per thread.
   */
  findOrClaimParty (id: string, first: number, overflow: number): number {
    const bytes = Buffer.from(id, 'latin1')
    if (bytes.length === 0 || bytes.length > PARTY_ID_BYTES) return overflow
    for (let slot = first; slot < PARTY_COUNT; slot++) {
      const at = H_PARTIES + slot
      let state = Atomics.load(this.#header, at)
      if (state === FREE && Atomics.compareExchange(this.#header, at, FREE, CLAIMING) === FREE) {
        this.#names.set(bytes, slot * PARTY_ID_BYTES)
        Atomics.store(this.#header, at, bytes.length)
        return slot
      }
      // Another thread is writing this slot's id: it takes a few nanoseconds.
      while ((state = Atomics.load(this.#header, at)) === CLAIMING) Atomics.wait(this.#header, at, CLAIMING, 1)
      if (state === bytes.length && this.#nameEquals(slot, bytes)) return slot
    }
    return overflow
  }

  /** The id in a claimed party slot, or undefined for a free one. */
  partyId (slot: number): string | undefined {
    const len = Atomics.load(this.#header, H_PARTIES + slot)
    if (len <= 0) return undefined
    return Buffer.from(this.#names.subarray(slot * PARTY_ID_BYTES, slot * PARTY_ID_BYTES + len)).toString('latin1')
  }

  #nameEquals (slot: number, bytes: Uint8Array): boolean {
    const base = slot * PARTY_ID_BYTES
    for (let i = 0; i < bytes.length; i++) if (this.#names[base + i] !== bytes[i]) return false
    return true
  }
}
