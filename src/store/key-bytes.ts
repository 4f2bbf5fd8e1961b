/**
 * 40-bit PIN keys as 5 big-endian bytes: byte order equals numeric order, so an
 * engine that sorts bytes iterates PINs in order, and a key costs 5 bytes, not 12.
 */
export const KEY_BYTES = 5

export function writeKey (key: number, out: Uint8Array, offset = 0): void {
  const hi = Math.floor(key / 0x100000000)
  const lo = key >>> 0
  out[offset] = hi
  out[offset + 1] = lo >>> 24
  out[offset + 2] = lo >>> 16
  out[offset + 3] = lo >>> 8
  out[offset + 4] = lo
}

export function readKey (bytes: Uint8Array, offset = 0): number {
  return bytes[offset]! * 0x100000000 + ((bytes[offset + 1]! << 24) >>> 0) + (bytes[offset + 2]! << 16) + (bytes[offset + 3]! << 8) + bytes[offset + 4]!
}

export function keyBuffer (key: number): Buffer {
  const b = Buffer.allocUnsafe(KEY_BYTES)
  writeKey(key, b)
  return b
}
