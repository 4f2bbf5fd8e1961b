/** Distinct, structurally valid PIN keys in a deterministic random order, for storage benchmarks. */
import { PROVINCES } from '../../../dist/src/domain/pin.js'

export function randomPins (n: number, seed: number): Float64Array {
  const provinces = [...PROVINCES.keys()].map(Number)
  let s = seed >>> 0 || 1
  const random = (): number => { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; return s / 4294967296 }
  const seen = new Set<number>()
  const out = new Float64Array(n)
  let i = 0
  while (i < n) {
    const key = ((provinces[Math.floor(random() * provinces.length)]! * 10 + Math.floor(random() * 4)) * 100 + Math.floor(random() * 100)) * 1e6 + Math.floor(random() * 1e6)
    if (seen.has(key)) continue
    seen.add(key)
    out[i++] = key
  }
  return out
}
