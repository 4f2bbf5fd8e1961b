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
 * Layout: a Float64Array header, then the bytes back to back.
 *   header  [count, then per chip: sodLength, dgCount, (dgNumber, dgLength) × dgCount]
 * Numbers are float64 so a data-group number arrives exactly as submitted
 * (verifyChip, not the transport, decides what a bad one means). A length of
 * -1 marks a value that was not a Uint8Array; it unpacks as undefined.
 */
import type { ChipInput } from '../chip/types.js'

export interface ChipBatchItem {
  readonly sod: Uint8Array
  /** [data group number, bytes] pairs, as the route parses them. */
  readonly dataGroups: ReadonlyArray<readonly [number, Uint8Array]>
}

export interface PackedChipBatch {
  readonly buffer: ArrayBuffer
  /** Float64 entries at the start of `buffer`. */
  readonly headerLength: number
}

const lengthOf = (b: unknown): number => b instanceof Uint8Array ? b.byteLength : -1

/** The item's pairs; a malformed entry becomes [NaN, undefined], which verifyChip answers as a malformed DG. */
function pairsOf (item: ChipBatchItem | undefined): ReadonlyArray<readonly [number, unknown]> {
  const groups: unknown = item?.dataGroups
  if (!Array.isArray(groups)) return []
  return groups.map((g: unknown) => Array.isArray(g) && typeof g[0] === 'number' ? [g[0], g[1]] as const : [NaN, undefined] as const)
}

/** Never throws: anything that is not bytes unpacks as undefined, for verifyChip to reject. */
export function packChipBatch (items: readonly ChipBatchItem[]): PackedChipBatch {
  const header: number[] = [items.length]
  const pairs = items.map(pairsOf)
  let bytes = 0
  for (let i = 0; i < items.length; i++) {
    const sodLength = lengthOf(items[i]?.sod)
    const groups = pairs[i] as ReadonlyArray<readonly [number, unknown]>
    header.push(sodLength, groups.length)
    bytes += Math.max(0, sodLength)
    for (const [n, dg] of groups) {
      const len = lengthOf(dg)
      header.push(n, len)
      bytes += Math.max(0, len)
    }
  }
  const headerBytes = header.length * 8
  const buffer = new ArrayBuffer(headerBytes + bytes)
  new Float64Array(buffer, 0, header.length).set(header)
  const out = new Uint8Array(buffer)
  let at = headerBytes
  const put = (b: unknown): void => {
    if (b instanceof Uint8Array) { out.set(b, at); at += b.byteLength }
  }
  for (let i = 0; i < items.length; i++) {
    put(items[i]?.sod)
    for (const [, dg] of pairs[i] as ReadonlyArray<readonly [number, unknown]>) put(dg)
  }
  return { buffer, headerLength: header.length }
}

/** Views into `packed.buffer`, one ChipInput per chip; throws RangeError on a header that does not fit the buffer. */
export function unpackChipBatch (packed: PackedChipBatch): ChipInput[] {
  const { buffer, headerLength } = packed
  if (!(buffer instanceof ArrayBuffer) || !Number.isSafeInteger(headerLength) || headerLength < 1 || headerLength * 8 > buffer.byteLength) {
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
    if (!Number.isSafeInteger(len) || len < 0 || at + len > buffer.byteLength) throw new RangeError('packed chip batch: length out of range')
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
  if (at !== buffer.byteLength) throw new RangeError('packed chip batch: trailing bytes')
  return inputs
}
