/**
 * Randomized model check: random batches of puts and deletes, metadata, compactions
 * started without awaiting (so writes and reads interleave with the merge), delta
 * growth and tiny value chunks, and reopens, all checked against a Map.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { open } from '../src/index.js'
import type { Engine } from '../src/index.js'
import { removeDir, sameBytes, tempDir, valueFor } from './helpers.js'

let dir: string
beforeEach(() => { dir = tempDir('model') })
afterEach(() => { removeDir(dir) })

function prng (seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

function check (engine: Engine, model: Map<number, Uint8Array>, meta: Map<string, number>): void {
  expect(engine.count()).toBe(model.size)
  const keys = [...model.keys()].sort((a, b) => a - b)
  const seen: number[] = []
  for (const [key, value] of engine.entries()) {
    seen.push(key)
    if (!sameBytes(value, model.get(key))) throw new Error(`entries(): wrong value for ${key}`)
  }
  expect(seen).toEqual(keys)
  for (const [key, value] of model) if (!sameBytes(engine.getFast(key), value)) throw new Error(`getFast(${key}) wrong`)
  for (const [name, v] of meta) expect(engine.getMeta(name)?.[0]).toBe(v)
  if (keys.length > 2) {
    const lo = keys[Math.floor(keys.length / 3)]!
    const hi = keys[Math.floor((2 * keys.length) / 3)]!
    expect([...engine.entries({ start: lo, end: hi })].map(([k]) => k)).toEqual(keys.filter((k) => k >= lo && k < hi))
  }
}

describe('model check', () => {
  for (const seed of [1, 2, 3]) {
    it(`agrees with a Map under random operations (seed ${seed})`, async () => {
      const random = prng(seed)
      const options = { chunkBits: 13, deltaCapacity: 4, compactMinLogBytes: 8192, compactLogRatio: 0.3 }
      let engine = await open(dir, options)
      const model = new Map<number, Uint8Array>()
      const meta = new Map<string, number>()
      const keySpace = 400
      const key = (): number => Math.floor(random() * keySpace) * 2_500_000_000 + (seed * 7)
      let version = 0
      const pending: Array<Promise<void>> = []
      for (let step = 0; step < 400; step++) {
        const r = random()
        if (r < 0.75) {
          const entries: Array<{ key: number, value: Uint8Array | null }> = []
          const n = 1 + Math.floor(random() * 12)
          for (let i = 0; i < n; i++) {
            const k = key()
            if (random() < 0.25) {
              entries.push({ key: k, value: null })
              model.delete(k)
            } else {
              // Mostly fixed-length values with some odd lengths, so both base layouts occur.
              const len = random() < 0.8 ? 40 : Math.floor(random() * 3000)
              const v = valueFor(k, ++version, len)
              entries.push({ key: k, value: v })
              model.set(k, v)
            }
          }
          const m: Record<string, Uint8Array> = {}
          if (random() < 0.1) {
            const name = `m${Math.floor(random() * 3)}`
            meta.set(name, step & 0xff)
            m[name] = new Uint8Array([step & 0xff])
          }
          const p = engine.writeBatch(entries, m)
          if (random() < 0.5) await p
          else pending.push(p)
        } else if (r < 0.85) {
          pending.push(engine.compact())
        } else if (r < 0.95) {
          await Promise.all(pending.splice(0))
          check(engine, model, meta)
        } else {
          await Promise.all(pending.splice(0))
          await engine.close()
          engine = await open(dir, options)
          check(engine, model, meta)
        }
      }
      await Promise.all(pending.splice(0))
      check(engine, model, meta)
      await engine.close()
      engine = await open(dir)
      check(engine, model, meta)
      await engine.close()
    }, 60_000)
  }
})
