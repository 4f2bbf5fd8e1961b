/**
 * Shared pieces of the benchmarks: realistic PINs, fixed-size records, timing.
 */
import { performance } from 'node:perf_hooks'

const PROVINCES = [1, 2, 4, 6, 8, 10, 11, 12, 14, 15, 17, 19, 20, 22, 24, 25, 26, 27, 30, 31, 33, 34, 35, 36, 37, 38, 40, 42, 44, 45, 46, 48, 49, 51, 52, 54, 56, 58, 60, 62, 64, 66, 67, 68, 70, 72, 74, 75, 77, 79, 80, 82, 83, 84, 86, 87, 89, 91, 92, 93, 94, 95, 96]

/** xorshift32: deterministic and fast, so runs are comparable. */
export function rng (seed = 0x9e3779b9): () => number {
  let s = seed >>> 0
  return () => {
    s ^= s << 13; s >>>= 0
    s ^= s >>> 17
    s ^= s << 5; s >>>= 0
    return s / 4294967296
  }
}

/** n distinct structurally valid PINs (PPP G YY NNNNNN), in random order. */
export function randomPins (n: number, seed?: number): Float64Array {
  const random = rng(seed)
  const over = Math.ceil(n * 1.02) + 16
  const keys = new Float64Array(over)
  for (let i = 0; i < over; i++) {
    const province = PROVINCES[Math.floor(random() * PROVINCES.length)]!
    const g = Math.floor(random() * 4)
    const yy = Math.floor(random() * 100)
    const serial = Math.floor(random() * 1e6)
    keys[i] = ((province * 10 + g) * 100 + yy) * 1e6 + serial
  }
  keys.sort()
  let m = 0
  for (let i = 0; i < over; i++) if (m === 0 || keys[i] !== keys[m - 1]) keys[m++] = keys[i]!
  if (m < n) throw new Error('not enough distinct keys; raise the oversampling')
  const out = keys.slice(0, n)
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1))
    const t = out[i]!
    out[i] = out[j]!
    out[j] = t
  }
  return out
}

export const RECORD_BYTES = 131

/** A record whose bytes depend on the key (so a wrong answer would be visible). */
export function recordFor (key: number, out = new Uint8Array(RECORD_BYTES)): Uint8Array {
  const lo = key >>> 0
  for (let i = 0; i < out.length; i++) out[i] = (lo >>> ((i & 3) * 8)) ^ i
  return out
}

export async function timed<T> (fn: () => Promise<T> | T): Promise<{ value: T, ms: number }> {
  const t0 = performance.now()
  const value = await fn()
  return { value, ms: performance.now() - t0 }
}

/** ns per call of lookup over keys (after a warm-up pass). */
export function nsPerLookup (keys: Float64Array, lookup: (key: number) => Uint8Array | undefined): { ns: number, hits: number } {
  let hits = 0
  for (let i = 0; i < Math.min(keys.length, 100_000); i++) if (lookup(keys[i]!) !== undefined) hits++
  hits = 0
  let sink = 0
  const t0 = performance.now()
  for (let i = 0; i < keys.length; i++) {
    const v = lookup(keys[i]!)
    if (v !== undefined) { hits++; sink ^= v[7]! }
  }
  const ns = (performance.now() - t0) * 1e6 / keys.length
  if (sink === 0x1ffff) console.log('')
  return { ns, hits }
}

export function argNumber (name: string, fallback: number): number {
  const arg = process.argv.find((a) => a.startsWith(`--${name}=`))
  return arg === undefined ? fallback : Number(arg.slice(name.length + 3))
}
