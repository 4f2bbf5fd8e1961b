/**
 * Seeded randomness for the synthetic population: a small fast PRNG, a 32-bit
 * integer hash, a keyed bijection of 0..999999 and O(1) weighted tables.
 *
 * Everything here is deterministic from the seed and allocation-free per call,
 * because the generator draws ~30 numbers per citizen and must produce 100M
 * citizens reproducibly (same seed → byte-identical output on any machine).
 * No Math.random, no floating-point maths whose result could differ by engine:
 * only 32-bit integer operations and exact divisions by powers of two.
 */

/**
 * lowbias32: a 32-bit integer hash with very low bias.
 * Provenance: Chris Wellons, "hash-prospector" (https://github.com/skeeto/hash-prospector),
 * public domain; constants 0x7feb352d / 0x846ca68b with shifts 16, 15, 16.
 * Used to expand seeds and as the Feistel round function, never as the stream itself.
 */
export function hash32 (x: number): number {
  x ^= x >>> 16
  x = Math.imul(x, 0x7feb352d)
  x ^= x >>> 15
  x = Math.imul(x, 0x846ca68b)
  x ^= x >>> 16
  return x >>> 0
}

const TWO_POW_32 = 4294967296

/**
 * sfc32, the "Small Fast Counter" generator (32-bit variant).
 * Provenance: Chris Doty-Humphrey, PractRand (public domain), in the JavaScript
 * form popularised by bryc's "PRNGs" collection (https://github.com/bryc/code,
 * jshash/PRNGs.md). 128-bit state with a counter, so no short cycles; passes
 * PractRand to multi-terabyte lengths, far beyond the ~10^10 draws we need.
 */
export class Sfc32 {
  private a: number
  private b: number
  private c: number
  private d: number

  /** Seeds from any safe integer: both 32-bit halves feed the state, so 2^32 and 0 differ. */
  constructor (seed: number) {
    if (!Number.isSafeInteger(seed)) throw new RangeError(`seed must be a safe integer, got ${seed}`)
    const lo = seed >>> 0
    const hi = Math.floor(seed / TWO_POW_32) >>> 0
    // Expanding through the hash keeps nearby seeds (1, 2, 3…) from starting in correlated states.
    this.a = hash32(lo ^ 0x9e3779b9)
    this.b = hash32(hi ^ 0x85ebca6b)
    this.c = hash32((lo + 0x7f4a7c15) ^ hash32(hi))
    this.d = 1
    // The author recommends discarding the first outputs so the state is well mixed.
    for (let i = 0; i < 15; i++) this.next()
  }

  /** The next uint32. */
  next (): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0
    this.d = (this.d + 1) | 0
    this.a = this.b ^ (this.b >>> 9)
    this.b = (this.c + (this.c << 3)) | 0
    this.c = (this.c << 21) | (this.c >>> 11)
    this.c = (this.c + t) | 0
    return t >>> 0
  }

  /** Uniform in [0, 1) with 32 bits of resolution (exact, engine-independent). */
  float (): number {
    return this.next() / TWO_POW_32
  }

  /**
   * Uniform integer in [0, n) for n ≤ 2^32. Multiply-shift rather than modulo:
   * the bias is below n / 2^32, irrelevant for synthetic data, and it costs no division.
   */
  int (n: number): number {
    return Math.floor((this.next() / TWO_POW_32) * n)
  }

  /** True with probability p (to 32-bit resolution). */
  chance (p: number): boolean {
    return this.next() < p * TWO_POW_32
  }
}

/**
 * A keyed bijection of 0..999999 onto itself: a 4-round balanced Feistel
 * network over base-1000 halves (10^6 = 1000 × 1000). Each round maps
 * (L, R) → (R, (L + F(R)) mod 1000), which is invertible whatever F is, so the
 * whole network is a permutation. Feeding it a per-bucket counter yields
 * "random-looking" six-digit PIN suffixes that can never collide, with no
 * memory beyond the counter.
 */
export function permuteMillion (x: number, key: number): number {
  let l = Math.floor(x / 1000)
  let r = x - l * 1000
  for (let round = 0; round < 4; round++) {
    const f = hash32((r + Math.imul(round + 1, 0x9e3779b9)) ^ key) % 1000
    const next = l + f
    l = r
    r = next >= 1000 ? next - 1000 : next
  }
  return l * 1000 + r
}

/**
 * Weighted choice in O(1): a 65,536-slot lookup table filled in proportion to
 * the weights, indexed by the top 16 bits of one draw. The quantisation error
 * (≤ 1/65536 per entry) is far below the realism we are after; every entry
 * must keep at least one slot, which the constructor checks.
 */
export class WeightedTable<T> {
  static readonly SLOTS = 65536
  readonly items: readonly T[]
  private readonly slots: Uint16Array

  constructor (entries: ReadonlyArray<readonly [T, number]>) {
    if (entries.length === 0 || entries.length > 65535) throw new RangeError('a weighted table needs 1..65535 entries')
    const total = entries.reduce((sum, [, w]) => {
      if (!(w > 0) || !Number.isFinite(w)) throw new RangeError(`weights must be positive, got ${w}`)
      return sum + w
    }, 0)
    this.items = entries.map(([item]) => item)
    this.slots = new Uint16Array(WeightedTable.SLOTS)
    // Slot s belongs to the entry whose cumulative interval contains the slot's midpoint.
    let entry = 0
    let upper = (entries[0]?.[1] ?? 0) / total
    const seen = new Uint8Array(entries.length)
    for (let s = 0; s < WeightedTable.SLOTS; s++) {
      const mid = (s + 0.5) / WeightedTable.SLOTS
      while (mid > upper && entry < entries.length - 1) {
        entry++
        upper += (entries[entry]?.[1] ?? 0) / total
      }
      this.slots[s] = entry
      seen[entry] = 1
    }
    const lost = seen.indexOf(0)
    if (lost >= 0) throw new RangeError(`weight of entry ${lost} is too small for a ${WeightedTable.SLOTS}-slot table`)
  }

  /** Index of a weighted-random entry. */
  pickIndex (rng: Sfc32): number {
    return this.slots[rng.next() >>> 16] ?? 0
  }

  /** A weighted-random entry. */
  pick (rng: Sfc32): T {
    return this.items[this.pickIndex(rng)] as T
  }
}
