/**
 * The pool's batch transport (src/chip/batch.ts): chips packed into one
 * ArrayBuffer unpack to the same bytes and give the same verdicts, whatever
 * buffers the input views live in; malformed items stay malformed verdicts.
 */
import { beforeAll, describe, expect, it } from 'vitest'
import { loadTrustStore, REASONS, verifyChip, type TrustStore } from '../../src/chip/passive-auth/index.js'
import { packChipBatch, unpackChipBatch, type ChipBatchItem } from '../../src/chip/batch.js'
import { AN, DUONG, createTestPki, makeChip, type TestPki } from 'chip-test-pki'

let pki: TestPki
let trust: TrustStore
beforeAll(() => {
  pki = createTestPki()
  trust = loadTrustStore(pki.trustDir)
})

const item = (c: { sod: Uint8Array, dataGroups: Map<number, Uint8Array> }): ChipBatchItem => ({ sod: c.sod, dataGroups: [...c.dataGroups] })

describe('packChipBatch / unpackChipBatch', () => {
  it('round-trips bytes and data-group numbers, including views into larger (pooled) buffers', () => {
    const a = makeChip({ citizen: AN, ds: pki.ds.ecdsa })
    const b = makeChip({ citizen: DUONG, ds: pki.ds.rsa, dataGroups: [1, 13] })
    // A view at an offset into a bigger buffer, as Buffer.from(base64) gives for small inputs.
    const big = new Uint8Array(b.sod.byteLength + 100)
    big.set(b.sod, 37)
    const items = [item(a), { sod: big.subarray(37, 37 + b.sod.byteLength), dataGroups: [...b.dataGroups] }]
    const inputs = unpackChipBatch(packChipBatch(items))
    expect(inputs).toHaveLength(2)
    expect(Buffer.from(inputs[1]!.sod).equals(Buffer.from(b.sod))).toBe(true)
    expect([...inputs[0]!.dataGroups.keys()]).toEqual([1, 2, 13])
    for (const [n, dg] of a.dataGroups) expect(Buffer.from(inputs[0]!.dataGroups.get(n)!).equals(Buffer.from(dg))).toBe(true)
    expect(inputs.map(i => verifyChip(i, trust))).toEqual([verifyChip(a, trust), verifyChip(b, trust)])
    expect(unpackChipBatch(packChipBatch([]))).toEqual([])
  })

  it('keeps malformed items malformed (never throws while packing)', () => {
    const good = makeChip({ citizen: AN, ds: pki.ds.ecdsa })
    const hostile = [
      { sod: 'nope', dataGroups: [[1, good.dataGroups.get(1)]] },
      { sod: good.sod, dataGroups: [[0.5, good.dataGroups.get(1)], [1, good.dataGroups.get(1)]] },
      { sod: good.sod, dataGroups: [['x', 1], 7, [1, 'text']] },
      { sod: good.sod, dataGroups: 5 },
      null
    ] as unknown as ChipBatchItem[]
    const results = unpackChipBatch(packChipBatch(hostile)).map(i => verifyChip(i, trust))
    expect(results.map(r => r.valid)).toEqual([false, false, false, false, false])
    expect(results[0]?.reason).toBe(REASONS.MALFORMED_SOD)
    expect(results[1]?.reason).toBe(REASONS.MALFORMED_DG)
    expect(results[2]?.reason).toBe(REASONS.MALFORMED_DG)
    expect(results[3]?.reason).toBe(REASONS.DG1_REQUIRED)
  })

  it('refuses a header that does not fit the buffer', () => {
    const packed = packChipBatch([item(makeChip({ citizen: AN, ds: pki.ds.ecdsa }))])
    const header = new Float64Array(packed.buffer, 0, packed.headerLength)
    header[2] = 99 // [count, sodLength, dgCount, …]: claims 99 data groups
    expect(() => unpackChipBatch(packed)).toThrow(RangeError)
    expect(() => unpackChipBatch({ ...packed, headerLength: 1e12 })).toThrow(RangeError)
    expect(() => unpackChipBatch({ ...packed, byteLength: packed.buffer.byteLength + 1 })).toThrow(RangeError)
  })

  it('verdicts survive the JSON text the worker sends them back as', () => {
    const chips = [makeChip({ citizen: AN, ds: pki.ds.rsa }), makeChip({ citizen: DUONG, ds: pki.ds.ecdsa, tamperDg: 13 })]
    const results = chips.map(c => verifyChip(c, trust))
    expect(JSON.parse(JSON.stringify(results))).toEqual(results)
  })
})
