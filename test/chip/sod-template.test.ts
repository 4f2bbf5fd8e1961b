/**
 * The SOD template path reads a plain UTCTime signingTime itself; it must
 * give the Date asn1js gives (and leave every other encoding to asn1js).
 */
import { describe, expect, it } from 'vitest'
import * as asn1js from 'asn1js'
import { parseSod } from '../../src/chip/passive-auth/sod.js'
import { AN, DUONG, createTestPki, makeChip } from 'chip-test-pki'

describe('SOD template signingTime', () => {
  const pki = createTestPki()
  const primer = makeChip({ citizen: AN, ds: pki.ds.ecdsa, signingTime: new Date(Date.UTC(2025, 0, 2, 3, 4, 5)) })
  const other = makeChip({ citizen: DUONG, ds: pki.ds.ecdsa, signingTime: new Date(Date.UTC(2025, 5, 1)) })
  // Where the UTCTime element sits (same place in both: same DS, same layout).
  const oidSigningTime = Buffer.from([0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x05, 0x31, 0x0f])
  const at = Buffer.from(other.sod).indexOf(oidSigningTime) + oidSigningTime.byteLength

  it('finds the signingTime element', () => {
    expect(Buffer.from(other.sod.subarray(at, at + 15)).toString('latin1')).toBe('\x17\x0d250601000000Z')
  })

  it.each([
    '250601000000Z', '491231235959Z', '500101000000Z', '991332250000Z', '000000000000Z', '251301996161Z', '99999999999' + '9Z',
    '25060100000z', '2506010000A0Z', '250601000000+', '25060100000 Z'
  ])('%s: same Date (or the same refusal) as asn1js', (text) => {
    expect(parseSod(primer.sod, 65536).ok).toBe(true)
    const sod = other.sod.slice()
    sod.set(Buffer.from(text.padEnd(13, 'Z').slice(0, 13), 'latin1'), at + 2)
    const element = sod.subarray(at, at + 15)
    const decoded = asn1js.fromBER(element)
    let want: number | undefined
    try {
      want = decoded.offset === -1 ? undefined : (decoded.result as asn1js.UTCTime).toDate().getTime()
    } catch {
      want = undefined
    }
    const r = parseSod(sod, 65536)
    if (want === undefined || Number.isNaN(want)) {
      expect(r.ok).toBe(false)
    } else {
      expect(r.ok).toBe(true)
      expect(r.ok && r.sod.signingTime?.getTime()).toBe(want)
    }
  })
})
