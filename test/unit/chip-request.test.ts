/**
 * The chip request's byte fields: base64 text in JSON is accepted only in its
 * canonical form (standard alphabet, padded, zero pad bits), also when wrapped
 * in lines as MIME writes it; anything else is a 400 naming the field.
 */
import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { parseChipRequest } from '../../src/chip/chip-request.js'
import { ServiceError } from '../../src/errors.js'

const dg1 = Buffer.from([0x61, 0x5b, 0x5f, 0x1f, 0x58])
const request = (sod: unknown): unknown => ({ sod, dataGroups: { 1: dg1.toString('base64') } })

function refusal (sod: unknown): string {
  const r = parseChipRequest(request(sod))
  if (!(r instanceof ServiceError)) throw new Error('accepted')
  expect(r.code).toBe('IDV_ERR_INVALID_FIELD')
  return r.detail ?? ''
}

describe('chip request byte fields', () => {
  it('decodes canonical base64 of every length, and the same wrapped in lines', () => {
    for (const n of [1, 2, 3, 4, 5, 16_385]) {
      const bytes = randomBytes(n)
      const text = bytes.toString('base64')
      for (const sod of [text, text.replace(/.{1,76}/g, '$&\r\n'), ` ${text}\n`]) {
        const r = parseChipRequest(request(sod))
        if (r instanceof ServiceError) throw r
        expect(Buffer.from(r.sod).equals(bytes)).toBe(true)
        expect(r.dataGroups.map(([n, b]) => [n, Buffer.from(b).toString('hex')])).toEqual([[1, dg1.toString('hex')]])
      }
    }
  })

  it('refuses what is not canonical base64, naming the field', () => {
    for (const sod of ['', '   ', 'QQ', 'QR==', 'Q===', 'ab-_', 'ab+/cd==ef', 'éééé', 'AAAA!', '////\u0000']) {
      expect(refusal(sod)).toContain('sod is not valid base64')
    }
    const r = parseChipRequest({ sod: 'AAAA', dataGroups: { 1: 'not base64!' } })
    expect(r instanceof ServiceError ? r.detail : r).toBe('dataGroups.1 is not valid base64')
  })
})
