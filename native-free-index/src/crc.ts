/**
 * CRC-32 (IEEE, as zlib and gzip use) over byte ranges, including views of
 * SharedArrayBuffers.
 *
 * node:zlib gained a native crc32 in Node 20.15; the table-driven fallback keeps the
 * engine working (slowly) on older Node 20 releases with identical results.
 */
import zlib from 'node:zlib'

type Crc32 = (data: Uint8Array, initial?: number) => number

const native = (zlib as unknown as { crc32?: Crc32 }).crc32

let table: Uint32Array | undefined

function crc32Table (data: Uint8Array, initial = 0): number {
  if (table === undefined) {
    table = new Uint32Array(256)
    for (let n = 0; n < 256; n++) {
      let c = n
      for (let k = 0; k < 8; k++) c = (c & 1) !== 0 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
      table[n] = c >>> 0
    }
  }
  const t = table
  let crc = (initial ^ 0xffffffff) >>> 0
  for (let i = 0; i < data.length; i++) crc = t[(crc ^ data[i]!) & 0xff]! ^ (crc >>> 8)
  return (crc ^ 0xffffffff) >>> 0
}

/** CRC-32 of `data`, continuing from `initial` (the CRC of the bytes before it). */
export const crc32: Crc32 = native !== undefined ? (data, initial = 0) => native(data, initial) : crc32Table
