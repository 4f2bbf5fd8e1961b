/**
 * Regressions for defects found by the unit-test review (long values truncated
 * before hashing, personal data in reject reasons, lax integer parsing, invalid
 * UTF-8 accepted inside MessagePack strings).
 */
import { Packr } from 'msgpackr'
import { describe, expect, it } from 'vitest'
import { loadConfig } from '../../src/config.js'
import { RecordCodec } from '../../src/domain/record.js'
import { parseSourceLine } from '../../src/domain/source-record.js'
import { Verifier } from '../../src/verify/verifier.js'
import { parseVerifyRequest, type VerifyRequest } from '../../src/verify/verify-request.js'
import { ConfigError, ServiceError } from '../../src/errors.js'
import { decodeBody } from '../../src/http/media.js'
import { MemoryStore } from '../helpers/memory-store.js'

describe('regressions', () => {
  it('hashes the whole of a value that NFD expands past any scratch buffer', () => {
    const codec = new RecordCodec(new Uint8Array(32).fill(1))
    const stored = '한'.repeat(499) + '가' // 500 code units, 4497 bytes after NFD
    const store = new MemoryStore()
    store.put(1099012345, codec.encode(1099012345, { pin: '001099012345', fullName: 'An', dateOfBirth: '1999-05-17', gender: 'male', status: 'active', placeOfResidence: stored }))
    const verifier = new Verifier(store, codec)
    const ask = (place: string) => verifier.verify(parseVerifyRequest({ pin: '001099012345', attributes: { placeOfResidence: place } }) as VerifyRequest).attributes.placeOfResidence
    expect(ask('한'.repeat(499) + '나')).toBe('mismatch')
    expect(ask(stored)).toBe('match')
  })

  it('reject reasons for PIN consistency name the rule, not the birth year or gender', () => {
    const base = { pin: '001099012345', fullName: 'Nguyễn Văn An', dateOfBirth: '1999-05-17', status: 'active' }
    for (const line of [{ ...base, gender: 'female' }, { ...base, gender: 'male', dateOfBirth: '1998-05-17' }]) {
      const r = parseSourceLine(JSON.stringify(line))
      expect(r.ok).toBe(false)
      const reason = (r as { reason: string }).reason
      expect(reason).not.toMatch(/199[89]|female|male|expected/)
    }
  })

  it('refuses whitespace-only, hex and exponent integers, and treats an empty IDV_PORT as unset', () => {
    for (const bad of [' ', '0x1f90', '8e3', '80.0']) {
      expect(() => loadConfig({ IDV_PORT: bad }), JSON.stringify(bad)).toThrow(ConfigError)
    }
    expect(loadConfig({ IDV_PORT: '', PORT: '3000' }).port).toBe(3000)
  })

  it('refuses MessagePack strings holding invalid UTF-8', () => {
    const valid = new Packr({ useRecords: false }).pack({ pin: '001099012345', attributes: { fullName: 'An' } })
    const i = valid.indexOf(Buffer.from('An'))
    const broken = Buffer.from(valid)
    broken[i] = 0xc3; broken[i + 1] = 0x28
    expect(() => decodeBody(broken, 'msgpack')).toThrow(ServiceError)
    expect(() => decodeBody(valid, 'msgpack')).not.toThrow()
  })
})
