/**
 * KeyedHasher must equal node:crypto's HMAC-SHA-256 (truncated) bit for bit:
 * every message length across the one/two-block padding boundaries, random
 * keys and messages from fast-check, every accepted key length class.
 */
import { createHmac } from 'node:crypto'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { KeyedHasher } from '../../src/domain/keyed-hash.js'

/** Byte strings of min..max bytes, every length in the range drawn (size 'max'). */
const bytes = (min: number, max = min): fc.Arbitrary<Uint8Array> => fc.uint8Array({ minLength: min, maxLength: max, size: 'max' })

function reference (key: Uint8Array, message: Uint8Array, outLength: number): Buffer {
  return createHmac('sha256', key).update(message).digest().subarray(0, outLength)
}

function ours (h: KeyedHasher, message: Uint8Array, outLength: number): Buffer {
  const out = Buffer.alloc(outLength)
  h.digestInto(message, message.length, out, 0, outLength)
  return out
}

const KEY_LENGTHS = [32, 48, 64] as const

describe('KeyedHasher equals createHmac(sha256)', () => {
  for (const keyLength of KEY_LENGTHS) {
    describe(`key of ${keyLength} bytes`, () => {
      const KEY = bytes(keyLength)

      it('for every message length 0..300 (outLength 32 and 16)', () => {
        // One instance per key, reused for all 301 prefixes of one message.
        fc.assert(fc.property(KEY, bytes(300), (key, msg) => {
          const h = new KeyedHasher(key)
          for (let len = 0; len <= 300; len++) {
            const m = msg.subarray(0, len)
            const want = reference(key, m, 32)
            expect(ours(h, m, 32).toString('hex'), `len ${len}`).toBe(want.toString('hex'))
            expect(ours(h, m, 16).toString('hex'), `len ${len}`).toBe(want.subarray(0, 16).toString('hex'))
          }
        }), { numRuns: 3 })
      })

      it('for 300 random messages of random length up to 1024 bytes', () => {
        let runs = 0
        let oneBlock = 0
        let beyondTwo = 0
        fc.assert(fc.property(KEY, bytes(0, 1024), (key, m) => {
          runs++
          if (m.length <= 55) oneBlock++
          if (m.length >= 120) beyondTwo++
          expect(ours(new KeyedHasher(key), m, 32).toString('hex'), `${m.length} bytes`).toBe(reference(key, m, 32).toString('hex'))
        }), { numRuns: 300 })
        // The lengths spread over the padding cases: one block, and more than two.
        expect(runs).toBe(300)
        expect(oneBlock, `${oneBlock} of ${runs} messages fit one block`).toBeGreaterThanOrEqual(10)
        expect(beyondTwo, `${beyondTwo} of ${runs} messages take more than two blocks`).toBeGreaterThanOrEqual(180)
      })

      it('for all-zero and all-0xff messages at the padding boundaries', () => {
        fc.assert(fc.property(KEY, (key) => {
          const h = new KeyedHasher(key)
          for (const len of [55, 56, 63, 64, 65, 119, 120, 127, 128, 129]) {
            for (const fill of [0x00, 0xff]) {
              const m = new Uint8Array(len).fill(fill)
              expect(ours(h, m, 32).toString('hex'), `len ${len} fill ${fill}`).toBe(reference(key, m, 32).toString('hex'))
            }
          }
        }), { numRuns: 10 })
      })
    })
  }

  it('for a key whose bytes are all 0x36 / 0x5c (pads of zero) and for keys of 33 and 63 bytes', () => {
    const m = new TextEncoder().encode('idv')
    for (const key of [new Uint8Array(32).fill(0x36), new Uint8Array(64).fill(0x5c), new Uint8Array(33).fill(7), new Uint8Array(63).fill(9)]) {
      expect(ours(new KeyedHasher(key), m, 32).toString('hex')).toBe(reference(key, m, 32).toString('hex'))
    }
  })

  it('for long messages (several KiB, across block boundaries)', () => {
    fc.assert(fc.property(bytes(32), bytes(10_000), (key, msg) => {
      const h = new KeyedHasher(key)
      for (const len of [4031, 4095, 4096, 4097, 9999, 10_000]) {
        const m = msg.subarray(0, len)
        expect(ours(h, m, 32).toString('hex'), `len ${len}`).toBe(reference(key, m, 32).toString('hex'))
      }
    }), { numRuns: 3 })
  })

  it('matches the published RFC 4231 test case 2 value', () => {
    // The RFC's "Jefe" key is 4 bytes (refused here); pad the same text to 32 bytes instead and compare.
    const key = new TextEncoder().encode('Jefe'.padEnd(32, '\0'))
    const m = new TextEncoder().encode('what do ya want for nothing?')
    // HMAC zero-pads short keys, so a 32-byte zero-padded key gives the RFC's published value.
    expect(ours(new KeyedHasher(key), m, 32).toString('hex')).toBe('5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843')
  })
})

describe('KeyedHasher behaviour', () => {
  const key = new Uint8Array(32).map((_, i) => i)

  it('rejects key lengths outside 32..64', () => {
    for (const n of [0, 1, 16, 31, 65, 128]) {
      expect(() => new KeyedHasher(new Uint8Array(n)), `${n} bytes`).toThrow(RangeError)
    }
    for (const n of [32, 33, 48, 64]) expect(() => new KeyedHasher(new Uint8Array(n)), `${n} bytes`).not.toThrow()
  })

  it('hashes only message[0..length) and writes only out[offset..offset+outLength)', () => {
    const h = new KeyedHasher(key)
    const m = new TextEncoder().encode('Nguyễn Văn An|trailing garbage')
    const len = new TextEncoder().encode('Nguyễn Văn An').length
    const out = new Uint8Array(40).fill(0xaa)
    h.digestInto(m, len, out, 5, 16)
    const want = reference(key, m.subarray(0, len), 16)
    expect(Buffer.from(out.subarray(5, 21)).equals(want)).toBe(true)
    expect([...out.subarray(0, 5)]).toEqual([0xaa, 0xaa, 0xaa, 0xaa, 0xaa])
    expect([...out.subarray(21)].every((b) => b === 0xaa)).toBe(true)
  })

  it('is stateless across calls on one instance (long then short, repeated)', () => {
    const h = new KeyedHasher(key)
    const long = new Uint8Array(200).fill(1)
    const short = new Uint8Array([1, 2, 3])
    const first = ours(h, short, 32).toString('hex')
    ours(h, long, 32)
    expect(ours(h, short, 32).toString('hex')).toBe(first)
    expect(first).toBe(reference(key, short, 32).toString('hex'))
  })

  it('does not keep a reference to the key array (mutating it later changes nothing)', () => {
    const k = new Uint8Array(32).fill(3)
    const h = new KeyedHasher(k)
    const before = ours(h, short(), 32).toString('hex')
    k.fill(4)
    expect(ours(h, short(), 32).toString('hex')).toBe(before)
    function short (): Uint8Array { return new Uint8Array([9, 9]) }
  })

  it('two instances with different keys give different outputs; equal keys give equal outputs', () => {
    const a = new KeyedHasher(new Uint8Array(32).fill(1))
    const b = new KeyedHasher(new Uint8Array(32).fill(2))
    const a2 = new KeyedHasher(new Uint8Array(32).fill(1))
    for (const text of ['', 'Nguyễn Văn An', '1999-05-17']) {
      const m = new TextEncoder().encode(text)
      expect(ours(a, m, 16).toString('hex')).not.toBe(ours(b, m, 16).toString('hex'))
      expect(ours(a, m, 16).toString('hex')).toBe(ours(a2, m, 16).toString('hex'))
    }
  })
})
