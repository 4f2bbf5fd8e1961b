/**
 * The change feed's format: NDJSON changes validated with a reason (never the
 * personal data), the wire form the producer publishes (keyed hashes only),
 * and its refusals of malformed messages and of another hash key.
 */
import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { RecordCodec, RECORD_BYTES } from '../../src/domain/record.js'
import { generateCitizens, toJsonLine } from '../../src/population/generate.js'
import { pinToKey } from '../../src/domain/pin.js'
import { decodeChange, encodeChange, keyTagOf, parseChangeLine, wireSeq, type Change } from '../../src/replication/index.js'

const citizen = [...generateCitizens(1, 7)][0]!
const citizenJson = toJsonLine(citizen).trim()

describe('change lines', () => {
  it('accepts upsert, status and delete with their seq', () => {
    const up = parseChangeLine(`{"seq":1,"op":"upsert","citizen":${citizenJson}}`)
    expect(up).toMatchObject({ ok: true, change: { seq: 1, op: 'upsert', key: pinToKey(citizen.pin) } })
    expect(parseChangeLine(`{"seq":2,"op":"status","pin":"${citizen.pin}","status":"deceased"}`)).toEqual({ ok: true, change: { seq: 2, op: 'status', key: pinToKey(citizen.pin), status: 'deceased' } })
    expect(parseChangeLine(`{"seq":3,"op":"delete","pin":"${citizen.pin}"}`)).toEqual({ ok: true, change: { seq: 3, op: 'delete', key: pinToKey(citizen.pin) } })
  })

  it.each([
    ['{', 'not valid JSON', undefined],
    ['[]', 'not a JSON object', undefined],
    ['{"op":"delete","pin":"001099012345"}', 'seq missing or not a positive integer', undefined],
    ['{"seq":0,"op":"delete","pin":"001099012345"}', 'seq missing or not a positive integer', undefined],
    ['{"seq":1.5,"op":"delete","pin":"001099012345"}', 'seq missing or not a positive integer', undefined],
    ['{"seq":"4","op":"delete","pin":"001099012345"}', 'seq missing or not a positive integer', undefined],
    ['{"seq":9007199254740992,"op":"delete","pin":"001099012345"}', 'seq missing or not a positive integer', undefined],
    ['{"seq":4,"op":"merge","pin":"001099012345"}', 'op must be upsert, status or delete', 4],
    ['{"seq":4,"op":"delete","pin":"001099012345","status":"active"}', 'unknown field "status" for op delete', 4],
    ['{"seq":4,"op":"delete","pin":"999099012345"}', 'pin is not 12 digits with a known province code', 4],
    ['{"seq":4,"op":"delete"}', 'pin missing or not a string', 4],
    ['{"seq":4,"op":"status","pin":"001099012345","status":"missing"}', 'status must be active, deceased or revoked', 4],
    ['{"seq":4,"op":"upsert"}', 'citizen missing', 4],
    ['{"seq":4,"op":"upsert","citizen":{"pin":"001099012345","fullName":"Nguyễn Văn An","dateOfBirth":"1999-13-01","gender":"male","status":"active"}}', 'citizen: dateOfBirth', 4]
  ])('refuses %s: %s', (line, reason, seq) => {
    const r = parseChangeLine(line)
    expect(r.ok).toBe(false)
    if (r.ok) return
    expect(r.reason.startsWith(reason)).toBe(true)
    expect(r.seq).toBe(seq)
    // A reason never repeats the personal data it refused.
    expect(r.reason).not.toContain('Nguyễn')
    expect(r.reason).not.toContain('001099012345')
  })
})

describe('wire form', () => {
  const hashKey = randomBytes(32)
  const codec = new RecordCodec(hashKey)
  const tag = keyTagOf(hashKey)
  const key = pinToKey(citizen.pin)
  const changes: Change[] = [
    { seq: 1, op: 'upsert', key, citizen },
    { seq: 2 ** 40 + 3, op: 'status', key, status: 'revoked' },
    { seq: Number.MAX_SAFE_INTEGER, op: 'delete', key: 999_999_999_999 }
  ]

  it('round-trips every op; an upsert carries the record the index would hold and no plaintext', () => {
    for (const c of changes) {
      const bytes = encodeChange(c, codec, tag)
      expect(wireSeq(bytes)).toBe(c.seq)
      const d = decodeChange(bytes, tag)
      expect(d.ok).toBe(true)
      if (!d.ok) continue
      expect(d.change.seq).toBe(c.seq)
      expect(d.change.key).toBe(c.key)
      if (c.op === 'upsert' && d.change.op === 1) {
        expect(Buffer.from(d.change.record)).toEqual(Buffer.from(codec.encode(key, citizen)))
        expect(d.change.record.length).toBe(RECORD_BYTES)
        const text = Buffer.from(bytes).toString('latin1')
        expect(text).not.toContain(citizen.pin)
        expect(Buffer.from(bytes).includes(Buffer.from(citizen.fullName))).toBe(false)
      }
    }
  })

  it('refuses truncated, extended, unknown and foreign-key messages', () => {
    const up = encodeChange(changes[0]!, codec, tag)
    const st = encodeChange(changes[1]!, codec, tag)
    const del = encodeChange(changes[2]!, codec, tag)
    const refused = (b: Uint8Array, t = tag): string => { const d = decodeChange(b, t); return d.ok ? 'accepted' : d.reason }
    expect(refused(up.subarray(0, 10))).toMatch(/shorter than its header/)
    expect(refused(up.subarray(0, up.length - 1))).toMatch(/not a layout/)
    expect(refused(Uint8Array.from([...del, 0]))).toMatch(/trailing bytes/)
    expect(refused(Uint8Array.from([...st.subarray(0, st.length - 1), 9]))).toMatch(/without a known status/)
    const op = Uint8Array.from(del); op[1] = 7
    expect(refused(op)).toMatch(/unknown op 7/)
    const format = Uint8Array.from(del); format[0] = 2
    expect(refused(format)).toMatch(/format 2/)
    const zero = Uint8Array.from(del); zero.fill(0, 2, 10)
    expect(refused(zero)).toMatch(/seq out of range/)
    expect(refused(up, keyTagOf(randomBytes(32)))).toMatch(/another hash key/)
  })
})
