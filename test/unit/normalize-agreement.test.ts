/**
 * Name canonicalisation word by word through a cache (canonicalName) against
 * the one-pass reference without it (canonicalNameReference): the same answer
 * for every input, real Vietnamese names and hostile strings alike. The cache
 * is shared by every call, so the inputs also check that one input's words
 * never change another's answer.
 */
import fc from 'fast-check'
import { canonicalName, canonicalNameReference } from '../../src/domain/normalize.js'
import { agreementSuite } from '../helpers/agreement.js'

const SYLLABLES = ['Nguyễn', 'NGUYỄN', 'nguyên', 'Trần', 'Thị', 'Thùy', 'Thuỳ', 'Hoà', 'Hòa', 'Dương', 'Đặng', 'ĐẶNG', 'Ðỗ', 'Văn', 'An', 'Ngọc', 'Phường', 'Thành', 'phố', 'Hồ', 'Chí', 'Minh', 'Quận', 'Bà', 'Rịa']
const SPACES = [' ', '  ', '\t', '\u00a0', '\u2028', '\u3000', '\ufeff']
const syllable = fc.oneof(
  fc.constantFrom(...SYLLABLES),
  fc.constantFrom(...SYLLABLES).map((s) => s.normalize('NFD')),
  fc.string({ unit: 'grapheme', maxLength: 6 }),
  fc.string({ unit: 'binary', maxLength: 6 })
)
const name = fc.array(fc.tuple(fc.constantFrom(...SPACES), syllable), { maxLength: 8 }).map((parts) => parts.map(([s, w]) => s + w).join(''))

agreementSuite<string, string>({
  name: 'canonical names (cached words against one pass)',
  reference: canonicalNameReference,
  fast: canonicalName,
  // Canonicalisation refuses nothing: an empty canonical name is what an unusable input gives.
  refused: (canonical) => canonical === '',
  nominal: [['a Vietnamese name', 'Trần Thị Thuỳ Dương'], ['NFD and extra spaces', '  NGUYỄN\u00a0 Văn   Hoà '.normalize('NFD')], ['eth for Đ', 'Ðỗ Thị An'], ['a place', 'Phường Bến Nghé, Quận 1, Thành phố Hồ Chí Minh']],
  arbitrary: name,
  runs: 5000,
  minTaken: 1,
  minRefused: 0.01,
  minAccepted: 0.5
})
