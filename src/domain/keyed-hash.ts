/**
 * HMAC-SHA-256 with the key schedule done once (FIPS 180-4 SHA-256, RFC 2104 HMAC).
 *
 * Why not node:crypto.createHmac: every call re-derives the inner and outer
 * padded keys and crosses into C++ several times; on this hardware that costs
 * ~5.7 µs per short message. Here the two padded-key blocks are compressed once
 * (their "midstates" are kept), so a message under 56 bytes costs two
 * compressions in plain JS (~1.5 µs). The loader hashes 8 attributes per
 * citizen, so this is the difference between ~20k and ~80k records/s per core.
 * Output is identical to createHmac (checked against it in test/unit/keyed-hash.test.ts).
 *
 * Besides HMAC, the record slots' cascade (record.ts, layout 2): `stateOf`
 * keeps an HMAC output as a SHA-256 chaining value, and `continueInto` hashes
 * a message from that secret chaining value instead of the public IV (NMAC's
 * inner function, Bellare–Canetti–Krawczyk 1996): one compression per short
 * message instead of HMAC's three.
 *
 * Not thread-safe by design: each instance owns scratch buffers; make one per thread.
 */

const K = new Int32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2
])
const IV = new Int32Array([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19])

export class KeyedHasher {
  readonly #inner = new Int32Array(8)
  readonly #outer = new Int32Array(8)
  readonly #state = new Int32Array(8)
  readonly #w = new Int32Array(64)
  /** The message tail plus padding: at most two blocks. */
  readonly #block = new Uint8Array(128)
  readonly #digest = new Uint8Array(32)

  constructor (key: Uint8Array) {
    if (key.length < 32 || key.length > 64) throw new RangeError('HMAC key must be 32 to 64 bytes')
    const pad = new Uint8Array(64)
    for (let i = 0; i < 64; i++) pad[i] = (key[i] ?? 0) ^ 0x36
    this.#inner.set(IV); this.#compress(this.#inner, pad, 0)
    for (let i = 0; i < 64; i++) pad[i] = (key[i] ?? 0) ^ 0x5c
    this.#outer.set(IV); this.#compress(this.#outer, pad, 0)
    pad.fill(0)
  }

  /**
   * HMAC-SHA-256 of `message[0..length)` (any length), truncated to `outLength`
   * (≤ 32) bytes written at `out[outOffset..]`.
   */
  digestInto (message: Uint8Array, length: number, out: Uint8Array, outOffset: number, outLength: number): void {
    const st = this.#state
    const blk = this.#block
    st.set(this.#inner)
    // Inner hash: 64 bytes of ipad were already absorbed, so the bit length counts them.
    const full = length & ~63
    for (let off = 0; off < full; off += 64) this.#compress(st, message, off)
    const rest = length - full
    for (let i = 0; i < rest; i++) blk[i] = message[full + i]!
    blk[rest] = 0x80
    const tail = rest + 9 <= 64 ? 64 : 128
    blk.fill(0, rest + 1, tail)
    const bits = (64 + length) * 8
    blk[tail - 4] = bits >>> 24; blk[tail - 3] = bits >>> 16; blk[tail - 2] = bits >>> 8; blk[tail - 1] = bits
    this.#compress(st, blk, 0)
    if (tail === 128) this.#compress(st, blk, 64)
    // Outer hash over the 32-byte inner digest: one block.
    for (let i = 0; i < 8; i++) {
      const v = st[i]!
      blk[i * 4] = v >>> 24; blk[i * 4 + 1] = v >>> 16; blk[i * 4 + 2] = v >>> 8; blk[i * 4 + 3] = v
    }
    blk[32] = 0x80
    blk.fill(0, 33, 62)
    blk[62] = (96 * 8) >>> 8; blk[63] = (96 * 8) & 0xff
    st.set(this.#outer)
    this.#compress(st, blk, 0)
    for (let i = 0; i < outLength; i++) out[outOffset + i] = st[i >>> 2]! >>> (24 - ((i & 3) << 3))
  }

  /** HMAC-SHA-256 of `message[0..length)`, kept as the eight 32-bit words of a SHA-256 chaining value. */
  stateOf (message: Uint8Array, length: number, state: Int32Array): void {
    this.digestInto(message, length, this.#digest, 0, 32)
    const d = this.#digest
    for (let i = 0; i < 8; i++) state[i] = (d[i * 4]! << 24) | (d[i * 4 + 1]! << 16) | (d[i * 4 + 2]! << 8) | d[i * 4 + 3]!
  }

  /**
   * SHA-256's Merkle–Damgård iteration over `message[0..length)` with its
   * standard padding (the bit length of this message alone), started from the
   * chaining value `state` rather than the IV; the first `outLength` (≤ 32)
   * bytes of the result are written at `out[outOffset..]`.
   */
  continueInto (state: Int32Array, message: Uint8Array, length: number, out: Uint8Array, outOffset: number, outLength: number): void {
    const st = this.#state
    const blk = this.#block
    st.set(state)
    const full = length & ~63
    for (let off = 0; off < full; off += 64) this.#compress(st, message, off)
    const rest = length - full
    for (let i = 0; i < rest; i++) blk[i] = message[full + i]!
    blk[rest] = 0x80
    const tail = rest + 9 <= 64 ? 64 : 128
    blk.fill(0, rest + 1, tail)
    const bits = length * 8
    blk[tail - 4] = bits >>> 24; blk[tail - 3] = bits >>> 16; blk[tail - 2] = bits >>> 8; blk[tail - 1] = bits
    this.#compress(st, blk, 0)
    if (tail === 128) this.#compress(st, blk, 64)
    for (let i = 0; i < outLength; i++) out[outOffset + i] = st[i >>> 2]! >>> (24 - ((i & 3) << 3))
  }

  #compress (st: Int32Array, blk: Uint8Array, off: number): void {
    // The message schedule is computed inside the round loop, so each word is
    // read once, as it is made (≈ 10% less per HMAC than a separate expansion loop).
    const w = this.#w
    let a = st[0]!; let b = st[1]!; let c = st[2]!; let d = st[3]!
    let e = st[4]!; let f = st[5]!; let g = st[6]!; let h = st[7]!
    for (let i = 0; i < 64; i++) {
      let wi: number
      if (i < 16) {
        const j = off + i * 4
        wi = (blk[j]! << 24) | (blk[j + 1]! << 16) | (blk[j + 2]! << 8) | blk[j + 3]!
      } else {
        const x = w[i - 15]!; const y = w[i - 2]!
        wi = (w[i - 16]! + (((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3)) + w[i - 7]! + (((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10))) | 0
      }
      w[i] = wi
      const t1 = (h + (((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7))) + (g ^ (e & (f ^ g))) + K[i]! + wi) | 0
      const t2 = ((((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10))) + ((a & b) ^ (c & (a ^ b)))) | 0
      h = g; g = f; f = e; e = (d + t1) | 0; d = c; c = b; b = a; a = (t1 + t2) | 0
    }
    st[0] = (st[0]! + a) | 0; st[1] = (st[1]! + b) | 0; st[2] = (st[2]! + c) | 0; st[3] = (st[3]! + d) | 0
    st[4] = (st[4]! + e) | 0; st[5] = (st[5]! + f) | 0; st[6] = (st[6]! + g) | 0; st[7] = (st[7]! + h) | 0
  }
}
