/**
 * DG13 (Vietnamese personal data) parsing: diacritics, both layouts, and the
 * liberal rules for values (NFD input, Nam/Nữ variants, dates).
 */
import { describe, expect, it } from 'vitest'
import * as asn1js from 'asn1js'
import { parseDg13 } from '../../src/chip/passive-auth/index.js'
import { parseDate, parseGender } from '../../src/chip/passive-auth/dg13.js'
import { AN, DUONG, makeDg13 } from 'chip-test-pki'

describe('parseDg13', () => {
  it('nominal layout: every field, diacritics intact (NFC)', () => {
    const r = parseDg13(makeDg13(AN))
    expect(r.ok).toBe(true)
    if (!r.ok) return
    expect(r.data).toMatchObject({
      pin: '001099012345',
      fullName: 'Nguyễn Văn An',
      dateOfBirth: '1999-03-15',
      gender: 'male',
      nationality: 'Việt Nam',
      issueDate: '2021-04-10',
      expiryDate: '2039-03-15',
      fatherName: 'Nguyễn Văn Bình',
      motherName: 'Trần Thị Hoà'
    })
    expect(r.data.fields.get(9)?.[0]).toBe('Số 12 Phố Huế, Phường Hàng Bài, Quận Hoàn Kiếm, Hà Nội')
    expect(r.data.fields.get(10)?.[0]).toBe('Nốt ruồi cách 2cm trên đầu lông mày trái')
    expect(r.data.spouseName).toBeUndefined()
  })

  it('alternative layout (no SET, PrintableString PIN, parents nested one level deeper)', () => {
    const r = parseDg13(makeDg13(DUONG, 'flat'))
    expect(r.ok && r.data).toMatchObject({
      pin: '079301004567', fullName: 'Trần Thị Thùy Dương', dateOfBirth: '2001-11-30', gender: 'female',
      fatherName: 'Trần Văn Đạt', motherName: 'Phạm Thị Thủy', spouseName: 'Lê Đức Thắng'
    })
  })

  it('decomposed (NFD) text comes out precomposed (NFC)', () => {
    const r = parseDg13(makeDg13(DUONG, 'set', 'NFD'))
    expect(r.ok && r.data.fullName).toBe('Trần Thị Thùy Dương'.normalize('NFC'))
    expect(r.ok && r.data.fullName === 'Trần Thị Thùy Dương'.normalize('NFD')).toBe(false)
    expect(r.ok && r.data.gender).toBe('female')
  })

  it('"Không thời hạn" expiry is not a date and not an error', () => {
    const r = parseDg13(makeDg13({ ...AN, expiry: null }))
    expect(r.ok).toBe(true)
    expect(r.ok && r.data.expiryDate).toBeUndefined()
  })

  it.each([
    ['not tag 0x6D', new Uint8Array([0x61, 0x00])],
    ['empty 0x6D', new Uint8Array([0x6d, 0x00])],
    ['garbage', new Uint8Array([0x6d, 0x05, 0x30, 0x80, 0x01])]
  ])('%s → not ok', (_what, bytes) => {
    expect(parseDg13(bytes).ok).toBe(false)
  })

  it('a bad birth date is reported, not guessed', () => {
    const dg = new asn1js.Constructed({
      idBlock: { tagClass: 2, tagNumber: 13 },
      value: [new asn1js.Sequence({ value: [
        new asn1js.Sequence({ value: [new asn1js.Integer({ value: 1 }), new asn1js.Utf8String({ value: '001099012345' })] }),
        new asn1js.Sequence({ value: [new asn1js.Integer({ value: 2 }), new asn1js.Utf8String({ value: 'Lê Thị Ánh' })] }),
        new asn1js.Sequence({ value: [new asn1js.Integer({ value: 3 }), new asn1js.Utf8String({ value: '31/02/1999' })] })
      ] })]
    })
    expect(parseDg13(new Uint8Array(dg.toBER(false)))).toMatchObject({ ok: false, detail: expect.stringContaining('birth date') })
  })
})

describe('value rules', () => {
  it.each([
    ['Nam', 'male'], ['NAM', 'male'], ['Nữ', 'female'], ['nữ', 'female'], ['Nu', 'female'], ['Nữ'.normalize('NFD'), 'female'], ['Khác', undefined]
  ])('gender %s → %s', (text, want) => {
    expect(parseGender(text)).toBe(want)
  })

  it.each([
    ['15/03/1999', '1999-03-15'], ['15-03-1999', '1999-03-15'], ['15031999', '1999-03-15'], ['29/02/2000', '2000-02-29'], ['29/02/1999', undefined], ['1999-03-15', undefined]
  ])('date %s → %s', (text, want) => {
    expect(parseDate(text)).toBe(want)
  })
})
