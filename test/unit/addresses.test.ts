/**
 * Addresses across the 2025 reorganisation (issue 25): real pairs of the same
 * place written before and after 1 July 2025, through the record codec and the
 * verifier, so each pair is checked as the service answers it: the register
 * holds one form (hashed), the question is written in the other.
 */
import { describe, expect, it } from 'vitest'
import { adminUnits, readPlace, storedPlace } from '../../src/addresses/index.js'
import type { CitizenRecord } from '../../src/domain/citizen.js'
import { pinToKey } from '../../src/domain/pin.js'
import { RecordCodec } from '../../src/domain/record.js'
import { attributeProblem } from '../../src/domain/attribute-value.js'
import { Verifier, type AttributeResult } from '../../src/verify/verifier.js'
import { MemoryStore } from '../helpers/memory-store.js'

const HASH_KEY = new Uint8Array(32).map((_, i) => (i * 29 + 7) & 0xff)
const PIN = '001099012345'

/** Asks the verifier about `asked` for a citizen whose register address is `held`. */
async function answer (held: string, asked: string, addressMatching: 'reorganisation-aware' | 'exact' = 'reorganisation-aware'): Promise<AttributeResult> {
  const store = new MemoryStore()
  const codec = new RecordCodec(HASH_KEY)
  const citizen: CitizenRecord = { pin: PIN, fullName: 'Nguyễn Văn An', dateOfBirth: '1999-05-17', gender: 'male', placeOfResidence: held, status: 'active' }
  await store.writeBatch([{ key: pinToKey(PIN), value: codec.encode(pinToKey(PIN), citizen) }])
  const outcome = new Verifier(store, codec).verify({ key: pinToKey(PIN), attributes: [['placeOfResidence', asked]] }, addressMatching)
  return outcome.attributes.placeOfResidence!
}

/**
 * [register (new form), question (old form or a variant), expected result].
 * Mappings are those of the shipped table (src/addresses/table/, from the
 * merger resolutions of the National Assembly Standing Committee, 2025).
 */
const PAIRS: ReadonlyArray<readonly [string, string, AttributeResult, string]> = [
  // Hà Nội: province unchanged, districts gone, wards merged
  ['Phường Ba Đình, Thành phố Hà Nội', 'Phường Điện Biên, Quận Ba Đình, Thành phố Hà Nội', 'match_reorganised', 'Hà Nội, merged ward'],
  ['Phường Ba Đình, Thành phố Hà Nội', 'P. Điện Biên, Q. Ba Đình, TP. Hà Nội', 'match_reorganised', 'abbreviations P. Q. TP.'],
  ['Phường Ba Đình, Thành phố Hà Nội', 'phuong dien bien, quan ba dinh, ha noi', 'match_reorganised', 'no diacritics, lower case'],
  ['Phường Ba Đình, Thành phố Hà Nội', 'PHƯỜNG ĐIỆN BIÊN, QUẬN BA ĐÌNH, THÀNH PHỐ HÀ NỘI', 'match_reorganised', 'upper case'],
  ['Phường Ba Đình, Thành phố Hà Nội', 'Phường Điện Biên, Quận Ba Đình, Thành phố Hà Nội, Việt Nam', 'match_reorganised', 'with the country'],
  ['Phường Ba Đình, Thành phố Hà Nội', 'Phường Điện Biên - Quận Ba Đình - Hà Nội', 'match_reorganised', 'dash separators, no province type'],
  ['Phường Ba Đình, Thành phố Hà Nội', 'P. Ba Đình, Tp Hà Nội', 'match', 'new form, abbreviated'],
  ['Phường Ba Đình, Thành phố Hà Nội', 'phuong ba dinh, tp ha noi', 'match', 'new form without diacritics'],
  // split ward: Kim Mã went to Ba Đình, Giảng Võ and Ngọc Hà
  ['Số 12, Ngõ 5, Phường Giảng Võ, Thành phố Hà Nội', 'Số 12, Ngõ 5, Phường Kim Mã, Quận Ba Đình, Thành phố Hà Nội', 'match_reorganised', 'split ward, one of three'],
  ['Số 12, Ngõ 5, Phường Ngọc Hà, Thành phố Hà Nội', '12 ngõ 5, P. Kim Mã, Q. Ba Đình, Hà Nội', 'match_reorganised', 'split ward, another of three'],
  ['Số 12, Ngõ 5, Phường Láng, Thành phố Hà Nội', 'Số 12, Ngõ 5, Phường Kim Mã, Quận Ba Đình, Thành phố Hà Nội', 'mismatch', 'split ward, not among its three'],
  ['Xã Phù Đổng, Thành phố Hà Nội', 'Xã Cổ Bi, Huyện Gia Lâm, Thành phố Hà Nội', 'match_reorganised', 'split commune (Cổ Bi → Gia Lâm, Phù Đổng, Thuận An)'],
  ['Phường Hoàng Liệt, Thành phố Hà Nội', 'TT. Văn Điển, H. Thanh Trì, TP. Hà Nội', 'match_reorganised', 'township split, TT. and H.'],
  // Bình Dương and Bà Rịa-Vũng Tàu into Hồ Chí Minh City
  ['Phường Thủ Dầu Một, Thành phố Hồ Chí Minh', 'Phường Phú Cường, Thành phố Thủ Dầu Một, Tỉnh Bình Dương', 'match_reorganised', 'Bình Dương → Hồ Chí Minh'],
  ['Phường Thủ Dầu Một, Thành phố Hồ Chí Minh', 'Phuong Phu Cuong, TP Thu Dau Mot, T. Binh Duong', 'match_reorganised', 'Bình Dương, ASCII, T.'],
  ['Phường Thủ Dầu Một, Thành phố Hồ Chí Minh', 'Phường Phú Cường, Tỉnh Bình Dương', 'match_reorganised', 'old province, no district'],
  ['Phường Vũng Tàu, Thành phố Hồ Chí Minh', 'Phường 1, Thành phố Vũng Tàu, Tỉnh Bà Rịa - Vũng Tàu', 'match_reorganised', 'Bà Rịa-Vũng Tàu → Hồ Chí Minh, numbered ward'],
  ['Phường Bàn Cờ, TP. Hồ Chí Minh', 'P.1, Q.3, TP.HCM', 'match_reorganised', 'numbered ward and district, TP.HCM'],
  ['Phường Bàn Cờ, Thành phố Hồ Chí Minh', 'Phường 01, Quận 3, Thành phố Hồ Chí Minh', 'match_reorganised', 'leading zero'],
  ['Phường An Khánh, Thành phố Hồ Chí Minh', 'Phường Thảo Điền, Quận 2, Thành phố Hồ Chí Minh', 'match_reorganised', 'district merged before 2025 (Quận 2 → Thủ Đức): ward unique in the city'],
  // Hải Dương into Hải Phòng
  ['Phường Thành Đông, Thành phố Hải Phòng', 'Phường Bình Hàn, Thành phố Hải Dương, Tỉnh Hải Dương', 'match_reorganised', 'Hải Dương → Hải Phòng'],
  ['Phường Lê Thanh Nghị, Thành phố Hải Phòng', 'P. Lê Thanh Nghị, TP. Hải Dương, T. Hải Dương', 'match_reorganised', 'same ward name, new province'],
  // Hòa Bình into Phú Thọ, Quảng Nam into Đà Nẵng, Thái Bình into Hưng Yên, Kon Tum into Quảng Ngãi
  ['Phường Hòa Bình, Tỉnh Phú Thọ', 'Phường Hữu Nghị, Thành phố Hòa Bình, Tỉnh Hòa Bình', 'match_reorganised', 'Hòa Bình → Phú Thọ'],
  ['Phường Hoà Bình, Tỉnh Phú Thọ', 'Phường Phương Lâm, TP Hoà Bình, Tỉnh Hoà Bình', 'match_reorganised', 'old tone placement (Hoà)'],
  ['Phường Hội An Tây, Thành phố Đà Nẵng', 'Phường Cẩm An, Thành phố Hội An, Tỉnh Quảng Nam', 'match_reorganised', 'Quảng Nam → Đà Nẵng'],
  ['Thôn 2, Xã Thái Thụy, Tỉnh Hưng Yên', 'Thôn 2, TT. Diêm Điền, H. Thái Thụy, T. Thái Bình', 'match_reorganised', 'Thái Bình → Hưng Yên, township → commune'],
  ['Xã Kiến Đức, Tỉnh Lâm Đồng', "Xã Kiến Thành, Huyện Đắk R'Lấp, Tỉnh Đắk Nông", 'match_reorganised', 'apostrophe in a district name'],
  ['Xã Kiến Đức, Tỉnh Lâm Đồng', 'Xã Kiến Thành, Huyện Đắk R’Lấp, Tỉnh Đắk Nông', 'match_reorganised', 'curly apostrophe'],
  ['Phường An Nhơn Nam, Tỉnh Gia Lai', 'Phường Nhơn Hòa, TX. An Nhơn, Tỉnh Bình Định', 'match_reorganised', 'Bình Định → Gia Lai, TX.'],
  ['Xã Diễn Châu, Tỉnh Nghệ An', 'X. Diễn Hoa, H. Diễn Châu, T. Nghệ An', 'match_reorganised', 'province unchanged, X. H. T.'],
  // street part
  ['Số 12, Ngõ 5, Phường Ba Đình, Thành phố Hà Nội', '12 Ngõ 5, Phường Điện Biên, Quận Ba Đình, Hà Nội', 'match_reorganised', '"Số" before a house number'],
  ['Số 12, Ngõ 5, Phường Ba Đình, Thành phố Hà Nội', 'SO 12 NGO 5, PHUONG DIEN BIEN, QUAN BA DINH, HA NOI', 'match_reorganised', 'street in ASCII upper case'],
  // never a match: another street, ward or province
  ['Số 12, Ngõ 5, Phường Ba Đình, Thành phố Hà Nội', 'Số 14, Ngõ 5, Phường Điện Biên, Quận Ba Đình, Thành phố Hà Nội', 'mismatch', 'another house number'],
  ['Phường Ba Đình, Thành phố Hà Nội', 'Phường Hàng Bạc, Quận Hoàn Kiếm, Thành phố Hà Nội', 'mismatch', 'another ward'],
  ['Phường Ba Đình, Thành phố Hà Nội', 'Phường Hoàn Kiếm, Thành phố Hà Nội', 'mismatch', 'another new ward'],
  ['Phường Thủ Dầu Một, Thành phố Hồ Chí Minh', 'Phường Phú Cường, Thành phố Thủ Dầu Một, Tỉnh Đồng Nai', 'mismatch', 'another province'],
  ['Phường Thành Đông, Thành phố Hải Phòng', 'Phường Bình Hàn, Thành phố Hải Dương, Tỉnh Hưng Yên', 'mismatch', 'wrong province for the district'],
  ['Phường Ba Đình, Thành phố Hà Nội', 'Phường Điện Biên, Quận Đống Đa, Thành phố Hà Nội', 'mismatch', 'ward not in that district: never looked up elsewhere'],
  // unresolved: compared as text, as before the reorganisation
  ['Phường Ba Đình, Thành phố Hà Nội', 'Phường Điên Biên, Quận Ba Đình, Thành phố Hà Nội', 'mismatch', 'typo in the ward: not guessed'],
  ['Khu phố Xyz, Nơi Không Có, Hà Nội', 'Khu phố Xyz, Nơi Không Có, Hà Nội', 'match', 'unknown units, same text'],
  ['Khu phố Xyz, Nơi Không Có, Hà Nội', 'khu pho xyz, noi khong co, ha noi', 'mismatch', 'unknown units: text comparison keeps diacritics']
]

describe('address pairs across the 2025 reorganisation', () => {
  it.each(PAIRS)('%s ← %s: %s (%s)', async (held, asked, expected) => {
    expect(await answer(held, asked)).toBe(expected)
  })

  it('the register may hold the old form: a new-form question matches it as reorganised, an old-form one too', async () => {
    const held = 'Phường Phú Cường, Thành phố Thủ Dầu Một, Tỉnh Bình Dương'
    expect(await answer(held, 'Phường Thủ Dầu Một, Thành phố Hồ Chí Minh')).toBe('match')
    expect(await answer(held, held)).toBe('match_reorganised')
  })

  it('an exact party gets mismatch where another gets match_reorganised, and match for the same units', async () => {
    expect(await answer('Phường Ba Đình, Thành phố Hà Nội', 'Phường Điện Biên, Quận Ba Đình, Thành phố Hà Nội', 'exact')).toBe('mismatch')
    expect(await answer('Phường Ba Đình, Thành phố Hà Nội', 'P. Ba Đình, TP. Hà Nội', 'exact')).toBe('match')
    expect(await answer('Khu phố Xyz, Nơi Không Có, Hà Nội', 'Khu phố Xyz, Nơi Không Có, Hà Nội', 'exact')).toBe('match')
  })

  it('a register address in a split old ward is kept as text: the same text matches, a new-form one does not (no guess)', async () => {
    const held = 'Phường Kim Mã, Quận Ba Đình, Thành phố Hà Nội'
    expect(storedPlace(held).startsWith('t|')).toBe(true)
    expect(await answer(held, 'P. Kim Mã, Q. Ba Đình, TP. Hà Nội')).toBe('mismatch')
    expect(await answer(held, held)).toBe('match')
    expect(await answer(held, 'Phường Giảng Võ, Thành phố Hà Nội')).toBe('mismatch')
  })
})

describe('reading addresses', () => {
  it('the table: 34 provinces from 63, 3,315 wards from 10,037, 297 split', () => {
    const units = adminUnits()
    expect(units.provinces).toHaveLength(34)
    expect(units.oldProvinces).toHaveLength(63)
    expect(units.wards).toHaveLength(3315)
    let old = 0; let split = 0
    for (const p of units.oldProvinces) for (const w of p.wards.all()) { old++; if (w.to.length > 1) split++ }
    expect(old).toBe(10037)
    expect(split).toBe(297)
  })

  it('two units of one name and nothing to tell them apart: unresolved (Xã and Thị trấn Yên Viên, Gia Lâm)', () => {
    expect(readPlace('Yên Viên, Gia Lâm, Hà Nội').form).toBe('unresolved')
    expect(readPlace('Xã Yên Viên, Gia Lâm, Hà Nội').form).toBe('old')
    expect(readPlace('TT Yên Viên, Gia Lâm, Hà Nội').form).toBe('old')
    // Phước Long, Bạc Liêu: a commune and a township of one name in one district, which went to different wards
    const commune = readPlace('Xã Phước Long, Huyện Phước Long, Tỉnh Bạc Liêu')
    const township = readPlace('Thị trấn Phước Long, Huyện Phước Long, Tỉnh Bạc Liêu')
    expect(readPlace('Phước Long, Huyện Phước Long, Tỉnh Bạc Liêu').form).toBe('unresolved')
    expect(commune.form).toBe('old')
    expect(township.form).toBe('old')
  })

  it('the old Thừa Thiên Huế is the city of Huế', () => {
    expect(readPlace('Phường Phú Hội, Thành phố Huế, Tỉnh Thừa Thiên Huế').form).toBe('old')
  })

  it('forms and candidates', () => {
    expect(readPlace('Phường Ba Đình, Thành phố Hà Nội')).toMatchObject({ form: 'new' })
    expect(readPlace('Phường Kim Mã, Quận Ba Đình, Thành phố Hà Nội').candidates).toHaveLength(3)
    expect(readPlace('Hà Nội').form).toBe('unresolved')
    expect(readPlace('').form).toBe('unresolved')
    expect(readPlace(', , ,').form).toBe('unresolved')
  })
})

describe('hostile addresses', () => {
  const HOSTILE = [
    'Phường Điện Biên, '.repeat(600), // 10 KB
    ','.repeat(499) + 'x',
    'Phường '.repeat(71),
    ('Рhường Кim Mã, ').repeat(33), // Cyrillic look-alikes
    'a' + '\u0301'.repeat(499),
    '\u0000\u0001\u0002Phường Ba Đình\u0007, Hà Nội',
    '\uD800Phường Ba Đình, Hà Nội', // lone surrogate
    'Phường Ba Đình, 河内, Hà Nội'
  ]
  it.each(HOSTILE.map((h) => [h.slice(0, 30), h]))('%j: a clear 400 or a mismatch', async (_, hostile) => {
    const problem = attributeProblem('placeOfResidence', hostile)
    if (problem !== undefined) { expect(problem).toMatch(/characters/); return }
    expect(await answer('Phường Ba Đình, Thành phố Hà Nội', hostile)).toBe('mismatch')
  })

  it('control characters are refused in places', () => {
    expect(attributeProblem('placeOfResidence', 'Phường Ba Đình\u0000, Hà Nội')).toMatch(/control characters/)
    expect(attributeProblem('placeOfResidence', 'Phường Ba Đình,\tHà Nội')).toBeUndefined()
  })
})
