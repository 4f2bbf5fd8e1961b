/**
 * Value arenas: values live in SharedArrayBuffer chunks addressed by one "global"
 * byte offset g, where chunk c covers [c * 2^chunkBits, (c + 1) * 2^chunkBits).
 *
 * Why chunks: on Node 20 a typed array over one SharedArrayBuffer is capped near
 * 4 GiB, while 100M records of 131 bytes need 13 GB. Chunks also let the delta
 * arena grow without copying. A base (segment) value may straddle two chunks (its
 * file layout is contiguous); reading one then copies, which happens at most once
 * per chunk boundary. Delta values never straddle: the allocator starts a new chunk.
 */

/**
 * Copies len bytes. TypedArray.prototype.set into a SharedArrayBuffer costs about
 * 250 ns per call in Node 20 whatever the size (a relaxed-atomic copy path), so
 * record-sized copies use a plain loop, which is about twice as fast.
 */
export function copyBytes (dst: Uint8Array, dstOff: number, src: Uint8Array, srcOff: number, len: number): void {
  if (len < 512) {
    for (let k = 0; k < len; k++) dst[dstOff + k] = src[srcOff + k]!
  } else {
    dst.set(src.subarray(srcOff, srcOff + len), dstOff)
  }
}

/** Returns the bytes of [g, g + len): a view when they sit in one chunk, else a copy. */
export function viewValue (chunks: readonly Uint8Array[], chunkBits: number, g: number, len: number): Uint8Array {
  if (len === 0) return new Uint8Array(0)
  const size = 2 ** chunkBits
  const c = Math.floor(g / size)
  const off = g - c * size
  const chunk = chunks[c]!
  // A fresh view is about twice as fast as subarray() in V8.
  if (off + len <= chunk.length) return new Uint8Array(chunk.buffer, chunk.byteOffset + off, len)
  const out = new Uint8Array(len)
  copyOut(chunks, chunkBits, g, out, 0, len)
  return out
}

/** Copies [g, g + len) of the arena into dst at dstOff. */
export function copyOut (chunks: readonly Uint8Array[], chunkBits: number, g: number, dst: Uint8Array, dstOff: number, len: number): void {
  const size = 2 ** chunkBits
  while (len > 0) {
    const c = Math.floor(g / size)
    const off = g - c * size
    const chunk = chunks[c]!
    const n = Math.min(len, chunk.length - off)
    dst.set(chunk.subarray(off, off + n), dstOff)
    g += n; dstOff += n; len -= n
  }
}

/** Copies src bytes into the arena at [g, g + src.length), crossing chunks as needed. */
export function copyIn (chunks: readonly Uint8Array[], chunkBits: number, g: number, src: Uint8Array): void {
  const size = 2 ** chunkBits
  let srcOff = 0
  let len = src.length
  while (len > 0) {
    const c = Math.floor(g / size)
    const off = g - c * size
    const chunk = chunks[c]!
    const n = Math.min(len, chunk.length - off)
    copyBytes(chunk, off, src, srcOff, n)
    g += n; srcOff += n; len -= n
  }
}

/** Allocates chunks (as SharedArrayBuffers) holding exactly `total` contiguous bytes. */
export function allocateContiguous (total: number, chunkBits: number): SharedArrayBuffer[] {
  const size = 2 ** chunkBits
  const out: SharedArrayBuffer[] = []
  for (let left = total; left > 0; left -= size) out.push(new SharedArrayBuffer(Math.min(size, left)))
  return out
}

export function toViews (chunks: readonly SharedArrayBuffer[]): Uint8Array[] {
  return chunks.map((sab) => new Uint8Array(sab))
}

/** Copies [g, g + len) of one arena into another at dg; both may cross chunk boundaries. */
export function copyBetween (src: readonly Uint8Array[], dst: readonly Uint8Array[], chunkBits: number, g: number, dg: number, len: number): void {
  const size = 2 ** chunkBits
  while (len > 0) {
    const sc = Math.floor(g / size)
    const so = g - sc * size
    const dc = Math.floor(dg / size)
    const dof = dg - dc * size
    const s = src[sc]!
    const d = dst[dc]!
    const n = Math.min(len, s.length - so, d.length - dof)
    copyBytes(d, dof, s, so, n)
    g += n; dg += n; len -= n
  }
}
