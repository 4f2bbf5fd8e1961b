/**
 * The two pieces of the record slots' construction (record.ts, layout 2),
 * against node:crypto: stateOf is HMAC-SHA-256 (as words), and continueInto
 * from the standard IV is SHA-256 itself, for every message length that
 * crosses a block boundary (so only the starting chaining value differs in
 * the record slots, and test/unit/match.test.ts checks those with a
 * textbook SHA-256 started from HMAC's output).
 */
import { createHash, createHmac } from 'node:crypto'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { KeyedHasher } from '../../src/domain/keyed-hash.js'

const IV = Int32Array.from([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19])

describe('the keyed cascade', () => {
  it('continueInto from the IV is SHA-256, and stateOf is HMAC-SHA-256, for messages of 0 to 300 bytes', () => {
    fc.assert(fc.property(fc.uint8Array({ minLength: 32, maxLength: 64 }), fc.uint8Array({ maxLength: 300 }), (key, message) => {
      const hasher = new KeyedHasher(key)
      const out = new Uint8Array(32)
      hasher.continueInto(IV, message, message.length, out, 0, 32)
      expect(Buffer.from(out).toString('hex')).toBe(createHash('sha256').update(message).digest('hex'))
      const state = new Int32Array(8)
      hasher.stateOf(message, message.length, state)
      const words = Buffer.alloc(32)
      state.forEach((w, i) => words.writeInt32BE(w, i * 4))
      expect(words.toString('hex')).toBe(createHmac('sha256', key).update(message).digest('hex'))
    }), { numRuns: 600 })
  })
})
