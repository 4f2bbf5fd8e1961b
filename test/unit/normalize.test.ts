/**
 * Canonical names: the spellings people regard as one name hash alike
 * (NFC/NFD, case, spacing, old/new tone placement, Ð for Đ), and names that
 * differ stay different. Plus asciiName and isIsoDate.
 */
import { describe, expect, it } from 'vitest'
import { asciiName, canonicalName, canonicalPlace, isIsoDate } from '../../src/domain/normalize.js'

const same = (a: string, b: string): void => { expect(canonicalName(a), `${a} vs ${b}`).toBe(canonicalName(b)) }
const differ = (a: string, b: string): void => { expect(canonicalName(a), `${a} vs ${b}`).not.toBe(canonicalName(b)) }

describe('canonicalName: spellings of the same name agree', () => {
  it('NFC and NFD input', () => {
    for (const name of ['Nguyễn Văn An', 'Trần Thị Thùy Dương', 'Đặng Thị Ngọc Ánh', 'Lê Hoàng Phúc', 'Phạm Thị Hồng Nhung']) {
      const nfc = name.normalize('NFC'); const nfd = name.normalize('NFD')
      expect(nfc).not.toBe(nfd)
      same(nfc, nfd)
      same(nfc, name.normalize('NFKC'))
    }
  })

  it('upper and lower case, including with diacritics', () => {
    same('Nguyễn Văn An', 'NGUYỄN VĂN AN')
    same('Nguyễn Văn An', 'nguyễn văn an')
    same('Đặng Đức Độ', 'đặng đức độ')
    same('Đặng Đức Độ', 'ĐẶNG ĐỨC ĐỘ')
    same('Trần Thị Thùy Dương', 'tRẦN tHỊ tHÙY dƯƠNG')
  })

  it('extra, leading, trailing spaces and tabs/newlines/no-break spaces', () => {
    same('Nguyễn Văn An', '  Nguyễn   Văn An ')
    same('Nguyễn Văn An', '\tNguyễn\tVăn\t\tAn\t')
    same('Nguyễn Văn An', 'Nguyễn \n Văn\r\nAn')
    same('Nguyễn Văn An', 'Nguyễn\u00a0Văn\u00a0An')
    expect(canonicalName('  Nguyễn   Văn An ')).not.toMatch(/^\s|\s$|\s\s/)
  })

  it('old and new tone placement on oa/oe/uy, in single words', () => {
    same('Hoà', 'Hòa')
    same('Hoá', 'Hóa')
    same('Thuỷ', 'Thủy')
    same('Khoẻ', 'Khỏe')
    same('Thuý', 'Thúy')
    same('Hoạ', 'Họa')
    same('Toàn', 'Toa\u0300n') // tone after the final vowel either way
    same('Hoàng Huỳnh', 'HOA\u0300NG HUY\u0300NH')
  })

  it('old and new tone placement in full names, combined with case and NFD', () => {
    same('Nguyễn Thị Thuỷ', 'NGUYỄN THỊ THỦY')
    same('Nguyễn Thị Thuỷ', 'Nguyễn Thị Thủy'.normalize('NFD'))
    same('Lê Văn Hoà', 'LÊ VĂN HÒA')
    same('Trần Thị Khoẻ', 'trần thị khỏe')
    same('Phạm Văn Hoá', 'PHẠM VĂN HÓA')
    same('Trần Thị Thùy Dương', 'Trần Thị Thuỳ Dương')
  })

  it('Ð (U+00D0, eth) and ð stand for Đ/đ', () => {
    same('\u00d0ặng V\u0103n \u00d0ức', 'Đặng Văn Đức')
    same('\u00f0ặng', 'đặng')
    same('\u00d0ặng', 'ĐẶNG')
    expect(canonicalName('\u00d0ức')).toBe(canonicalName('\u0110ức'))
  })

  it('non-canonical order of equal-class marks (tilde before circumflex) agrees', () => {
    // e + U+0303 + U+0302: NFD does not reorder two class-230 marks
    same('Nguy\u0065\u0303\u0302n', 'Nguyễn')
  })

  it('is idempotent', () => {
    for (const name of ['Nguyễn Thị Thuỷ', 'LÊ VĂN HÒA', '\u00d0ặng  Khoẻ', 'an']) {
      expect(canonicalName(canonicalName(name))).toBe(canonicalName(name))
    }
  })

  it('canonicalPlace folds places the same way', () => {
    expect(canonicalPlace('Thanh Hoá')).toBe(canonicalPlace('THANH HÓA'))
    expect(canonicalPlace('  Khánh   Hòa')).toBe(canonicalPlace('Khánh Hoà'.normalize('NFD')))
  })
})

describe('canonicalName: different names stay different', () => {
  it('tone differences', () => {
    differ('Hòa', 'Hoa')
    differ('Hòa', 'Hóa')
    differ('Hoa', 'Hóa')
    differ('Hoà', 'Hoá')
    differ('Thủy', 'Thùy')
    differ('Thuỷ', 'Thuỳ')
    differ('Thủy', 'Thúy')
    differ('Thủy', 'Thuy')
    differ('Nguyễn Thị Thủy', 'Nguyễn Thị Thùy')
  })

  it('Đ versus D, and other letter diacritics', () => {
    differ('Đức', 'Dức')
    differ('Đặng', 'Dặng')
    differ('Văn', 'Van')
    differ('Dương', 'Duong')
    differ('Dương', 'Dưong')
    differ('Lê', 'Le')
    differ('Ân', 'An')
    differ('Ơn', 'Ôn')
  })

  it('all five tones plus level on one syllable are six distinct names', () => {
    const forms = ['Hoa', 'Hòa', 'Hóa', 'Hỏa', 'Hõa', 'Họa']
    expect(new Set(forms.map(canonicalName)).size).toBe(6)
    const old = ['Hoa', 'Hoà', 'Hoá', 'Hoả', 'Hoã', 'Hoạ']
    expect(old.map(canonicalName)).toEqual(forms.map(canonicalName))
  })

  it('a tone on a different word is a different name', () => {
    differ('Hòa An', 'Hoa Àn')
    differ('Văn An', 'VănAn')
  })

  it('word order matters', () => {
    differ('Nguyễn Văn An', 'Văn Nguyễn An')
  })
})

describe('asciiName', () => {
  it("gives 'nguyen van an' for 'Nguyễn Văn An'", () => {
    expect(asciiName(canonicalName('Nguyễn Văn An'))).toBe('nguyen van an')
  })

  it("gives 'dang' for 'Đặng' (and for Ð)", () => {
    expect(asciiName(canonicalName('Đặng'))).toBe('dang')
    expect(asciiName(canonicalName('\u00d0ặng'))).toBe('dang')
  })

  it('matches how systems without diacritics store names', () => {
    expect(asciiName(canonicalName('Trần Thị Thùy Dương'))).toBe(asciiName(canonicalName('TRAN THI THUY DUONG')))
    expect(asciiName(canonicalName('Trần Thị Thùy Dương'))).toBe('tran thi thuy duong')
    expect(asciiName(canonicalName('Nguyễn Thị Thuỷ'))).toBe('nguyen thi thuy')
    expect(asciiName(canonicalName('Đỗ Đức Độ'))).toBe('do duc do')
  })

  it('yields only ASCII for Vietnamese input', () => {
    const s = asciiName(canonicalName('Ưng Hoàng Phúc Ỷ Lã Ơn Ở Ỵ Đặng Ễnh'))
    expect(s).toMatch(/^[\x20-\x7e]*$/)
  })
})

describe('isIsoDate', () => {
  it('accepts real dates', () => {
    for (const d of ['1999-01-02', '2000-12-31', '1800-01-01', '2399-12-31', '2024-04-30']) expect(isIsoDate(d), d).toBe(true)
  })

  it('leap years: 2000 and 2024 have 29 February, 1900 and 2023 do not', () => {
    expect(isIsoDate('2000-02-29')).toBe(true)
    expect(isIsoDate('2024-02-29')).toBe(true)
    expect(isIsoDate('1900-02-29')).toBe(false)
    expect(isIsoDate('2023-02-29')).toBe(false)
    expect(isIsoDate('2100-02-29')).toBe(false)
    expect(isIsoDate('2000-02-30')).toBe(false)
    expect(isIsoDate('1900-02-28')).toBe(true)
  })

  it('refuses impossible days and months', () => {
    for (const d of ['2024-02-30', '2024-02-31', '2024-04-31', '2024-06-31', '2024-09-31', '2024-11-31',
      '2024-01-32', '2024-13-01', '2024-00-10', '2024-01-00', '2024-99-99']) {
      expect(isIsoDate(d), d).toBe(false)
    }
    expect(isIsoDate('2024-01-31')).toBe(true)
    expect(isIsoDate('2024-12-31')).toBe(true)
  })

  it('refuses other layouts and surrounding characters', () => {
    for (const d of ['1999-1-02', '1999-01-2', '99-01-02', '19990102', '1999/01/02', '02/01/1999', '1999-01-02T00:00:00Z',
      '1999-01-02 ', ' 1999-01-02', '1999-01-02\n', '1999-01-02x', '+1999-01-02', '', '１９９９-01-02', '١٩٩٩-01-02']) {
      expect(isIsoDate(d), JSON.stringify(d)).toBe(false)
    }
  })

  it('refuses years outside 1800–2399', () => {
    expect(isIsoDate('1799-12-31')).toBe(false)
    expect(isIsoDate('2400-01-01')).toBe(false)
    expect(isIsoDate('0000-01-01')).toBe(false)
    expect(isIsoDate('9999-12-31')).toBe(false)
  })
})
