/**
 * A batch of chips packed into one ArrayBuffer, so a pool task moves to its
 * worker by transfer instead of structured clone.
 *
 * Why: structured clone copies every SOD and data group twice (serialise on
 * the main thread, deserialise in the worker) and pays per object; a chip is
 * ~20 KB (a 16 KB DG2), and cloning a 32-chip batch cost ~13 µs per chip on
 * the main thread alone. Packing is one copy per chip; the transfer is free,
 * and the worker verifies subarray views of the buffer.
 *
 * Buffers are recycled (the worker hands the buffer back with its answer, and
 * the pool packs the next batch into it): a fresh 600 KB buffer per batch
 * costs ~8 µs per chip in page faults and unmapping, a reused one ~1 µs.
 *
 * Layout: a Float64Array header, then the bytes back to back.
 *   header  [count, then per chip: sodLength, dgCount, (dgNumber, dgLength) × dgCount]
 * Numbers are float64 so a data-group number arrives exactly as submitted
 * (verifyChip, not the transport, decides what a bad one means). A length of
 * -1 marks a value that was not a Uint8Array; it unpacks as undefined.
 */
import type { ChipInput } from './passive-auth/types.js'

export interface ChipBatchItem {
  readonly sod: Uint8Array
  /** [data group number, bytes] pairs, as the route parses them. */
  readonly dataGroups: ReadonlyArray<readonly [number, Uint8Array]>
}

export interface PackedChipBatch {
  readonly buffer: ArrayBuffer
  /** Float64 entries at the start of `buffer`. */
  readonly headerLength: number
  /** Bytes of `buffer` in use (it may be a larger, recycled one). */
  readonly byteLength: number
}

/** Fresh buffers are at least this big, so a recycled one fits a typical 32-chip batch (~0.6 MB). */
const MIN_BUFFER_BYTES = 1 << 20

/**
 * Packs into the first of `spare` that is big enough (removing it from the
 * list), else into a new buffer. Never throws: anything that is not bytes
 * unpacks as undefined (and a malformed pair as [NaN, undefined]), for
 * verifyChip to reject.
 */
export function packChipBatch (items: readonly ChipBatchItem[], spare: ArrayBuffer[] = []): PackedChipBatch {
  const header: number[] = [items.length]
  const parts: Uint8Array[] = []
  let bytes = 0
  const add = (b: unknown): number => {
    if (!(b instanceof Uint8Array)) return -1
    parts.push(b)
    bytes += b.byteLength
    return b.byteLength
  }
  for (const item of items) {
    const sodLength = add(item?.sod)
    const groups: unknown = item?.dataGroups
    const pairs: unknown[] = Array.isArray(groups) ? groups : []
    header.push(sodLength, pairs.length)
    for (const pair of pairs) {
      if (Array.isArray(pair) && typeof pair[0] === 'number') header.push(pair[0], add(pair[1]))
      else header.push(NaN, -1)
    }
  }
  const headerBytes = header.length * 8
  const byteLength = headerBytes + bytes
  const reuse = spare.findIndex(b => b.byteLength >= byteLength)
  // A new one skips the zero-fill (every used byte is written below); allocUnsafeSlow owns its ArrayBuffer, so it can be transferred.
  const buffer = reuse >= 0 ? spare.splice(reuse, 1)[0] as ArrayBuffer : Buffer.allocUnsafeSlow(Math.max(byteLength, MIN_BUFFER_BYTES)).buffer as ArrayBuffer
  new Float64Array(buffer, 0, header.length).set(header)
  const out = new Uint8Array(buffer)
  let at = headerBytes
  for (const part of parts) {
    out.set(part, at)
    at += part.byteLength
  }
  return { buffer, headerLength: header.length, byteLength }
}

/** Views into `packed.buffer`, one ChipInput per chip; throws RangeError on a header that does not fit the buffer. */
export function unpackChipBatch (packed: PackedChipBatch): ChipInput[] {
  const { buffer, headerLength, byteLength } = packed
  if (!(buffer instanceof ArrayBuffer) || !Number.isSafeInteger(byteLength) || byteLength > buffer.byteLength ||
    !Number.isSafeInteger(headerLength) || headerLength < 1 || headerLength * 8 > byteLength) {
    throw new RangeError('packed chip batch: bad header')
  }
  const header = new Float64Array(buffer, 0, headerLength)
  let h = 0
  let at = headerLength * 8
  const next = (): number => {
    if (h >= headerLength) throw new RangeError('packed chip batch: header too short')
    return header[h++] as number
  }
  const take = (len: number): Uint8Array | undefined => {
    if (len === -1) return undefined
    if (!Number.isSafeInteger(len) || len < 0 || at + len > byteLength) throw new RangeError('packed chip batch: length out of range')
    const view = new Uint8Array(buffer, at, len)
    at += len
    return view
  }
  const count = next()
  if (!Number.isSafeInteger(count) || count < 0) throw new RangeError('packed chip batch: bad count')
  const inputs: ChipInput[] = []
  for (let i = 0; i < count; i++) {
    const sodLength = next()
    const dgCount = next()
    if (!Number.isSafeInteger(dgCount) || dgCount < 0) throw new RangeError('packed chip batch: bad data-group count')
    const dgs: Array<[number, number]> = []
    for (let j = 0; j < dgCount; j++) dgs.push([next(), next()])
    const sod = take(sodLength)
    const dataGroups = new Map<number, Uint8Array>()
    for (const [n, len] of dgs) {
      const dg = take(len)
      // A later duplicate wins, as with `new Map(pairs)` on the unpacked form.
      dataGroups.set(n, dg as Uint8Array)
    }
    inputs.push({ sod: sod as Uint8Array, dataGroups })
  }
  if (at !== byteLength) throw new RangeError('packed chip batch: trailing bytes')
  return inputs
}
