/**
 * The signature base's HMAC (two one-shot hashes over per-key pads) against
 * node:crypto's createHmac, for keys shorter than, equal to and longer than
 * the 64-byte block, and bases of any characters, including ones longer than
 * the scratch buffer and ones whose last character would not fit in it.
 */
import { createHmac, createSecretKey } from 'node:crypto'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { hmacOfString } from '../../src/signatures/message-signature.js'

describe('hmacOfString', () => {
  it('equals createHmac for any key and any string', () => {
    fc.assert(fc.property(fc.uint8Array({ minLength: 1, maxLength: 100 }), fc.string({ unit: 'binary', maxLength: 400 }), (keyBytes, message) => {
      const key = createSecretKey(Buffer.from(keyBytes))
      expect(hmacOfString(key, message).toString('hex')).toBe(createHmac('sha256', key).update(message, 'utf8').digest('hex'))
    }), { numRuns: 1500 })
  })

  it('equals createHmac for bases at and beyond the scratch buffer, multi-byte characters at the edge', () => {
    const key = createSecretKey(Buffer.alloc(32, 7))
    for (const n of [16_380, 16_381, 16_382, 16_383, 16_384, 16_385, 20_000]) {
      for (const tail of ['', 'ạ', '😀']) {
        const message = 'x'.repeat(n - Buffer.byteLength(tail)) + tail
        expect(hmacOfString(key, message).toString('hex'), `${n} ${tail}`).toBe(createHmac('sha256', key).update(message, 'utf8').digest('hex'))
      }
    }
  })
})
