/**
 * Keys are 12-digit PINs held as plain numbers: integers below 2^40 are exact in a
 * float64, so keys live in Float64Arrays and compare with `<` without BigInt.
 */
import { invalidArgument } from './errors.js'

/** Exclusive upper bound of a key (10^12 < 2^40, so every PIN fits). */
export const KEY_LIMIT = 2 ** 40

export function assertKey (key: number): void {
  if (!Number.isInteger(key) || key < 0 || key >= KEY_LIMIT) {
    throw invalidArgument(`key must be an integer in [0, 2^40), got ${String(key)}`)
  }
}

/** A well-mixed 32-bit hash of a key, for the delta's open-addressing table. */
export function hashKey (key: number): number {
  const lo = key >>> 0
  const hi = (key / 4294967296) >>> 0
  let h = Math.imul(lo ^ Math.imul(hi, 0x85ebca6b), 0x9e3779b1)
  h ^= h >>> 15
  h = Math.imul(h, 0x2c1b3c6d)
  return (h ^ (h >>> 12)) >>> 0
}
