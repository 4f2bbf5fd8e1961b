/** readDg1's direct read of the canonical DG1 layout gives what asn1js gives; other layouts still go through asn1js. */
import { describe, expect, it } from 'vitest'
import * as asn1js from 'asn1js'
import { readDg1 } from '../../src/chip/passive-auth/mrz.js'
import { AN, DUONG, makeDg1, makeMrz } from 'chip-test-pki'

function viaAsn1js (dg1: Uint8Array): string {
  const root = asn1js.fromBER(dg1).result as asn1js.Constructed
  return Buffer.from((root.valueBlock.value[0] as asn1js.Primitive).valueBlock.valueHexView).toString('latin1')
}

describe('readDg1', () => {
  it.each([AN, DUONG])('canonical DG1: same MRZ as asn1js', (c) => {
    const dg1 = makeDg1(makeMrz(c))
    expect(readDg1(dg1)).toEqual({ ok: true, mrz: viaAsn1js(dg1) })
    // A view into a larger buffer reads the right bytes.
    const big = new Uint8Array(dg1.byteLength + 7)
    big.set(dg1, 3)
    expect(readDg1(big.subarray(3, 3 + dg1.byteLength))).toEqual({ ok: true, mrz: viaAsn1js(dg1) })
  })

  it('non-canonical lengths and trailing bytes still go through asn1js', () => {
    const dg1 = makeDg1(makeMrz(AN))
    const longForm = new Uint8Array([0x61, 0x81, dg1[1] as number, ...dg1.subarray(2)])
    expect(readDg1(longForm)).toEqual({ ok: true, mrz: viaAsn1js(dg1) })
    expect(readDg1(new Uint8Array([...dg1, 0])).ok).toBe(false)
    const shortInner = dg1.slice()
    shortInner[4] = (shortInner[4] as number) - 1
    expect(readDg1(shortInner).ok).toBe(false)
  })
})
