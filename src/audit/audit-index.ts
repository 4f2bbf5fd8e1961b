/**
 * What the log keeps beside its segment files, in one LMDB environment
 * (`<log>/index`): everything here can be rebuilt from the segments, and the
 * writer does rebuild what a crash lost (audit-log.ts replays the segments
 * from `state`).
 *
 *   hashes  [level u8 ‖ index u64 BE] → SHA-256 of complete subtree `index`
 *           at `level` (leaves are level 0): what inclusion and consistency
 *           proofs are made of, ~2 per entry
 *   pins    [pinHash 16 ‖ entry index u64 BE] → [time f64 ‖ offset u32 ‖
 *           length u32]: a citizen's entries, newest first by a reverse range
 *           read, and where each one's bytes lie in its segment
 *   usage   [partyId, day] → { requests, noMatch }: a party's own report
 *   meta    state (size, tail segment, its byte length), checkpoint (the
 *           newest signed note), retained (the first entry kept)
 */
import { open, type Database, type RootDatabase } from 'lmdb'
import { HASH_BYTES } from '../merkle/rfc6962.js'

export interface IndexState {
  /** Entries indexed (the tree size whose hashes are all here). */
  readonly size: number
  /** The segment holding entry size-1 (or the next one), and its length in bytes after it. */
  readonly segment: number
  readonly offset: number
}

export interface PinLocation {
  readonly index: number
  readonly time: number
  readonly offset: number
  readonly length: number
}

export interface UsageDay {
  readonly day: string
  readonly requests: number
  readonly noMatch: number
}

const PIN_HASH_BYTES = 16
export const PIN_KEY_BYTES = PIN_HASH_BYTES + 8
/** Packed records the log hands its index writer (index-writer.ts): [level u8, index f64, hash 32] and [pin key 24, pin value 16]. */
export const HASH_RECORD_BYTES = 1 + 8 + 32
export const PIN_RECORD_BYTES = PIN_KEY_BYTES + 16

export function hashKey (level: number, index: number): Buffer {
  const k = Buffer.allocUnsafe(9)
  k[0] = level
  k.writeBigUInt64BE(BigInt(index), 1)
  return k
}

export function pinKey (pinHash: Buffer, index: number): Buffer {
  const k = Buffer.allocUnsafe(PIN_HASH_BYTES + 8)
  pinHash.copy(k, 0, 0, PIN_HASH_BYTES)
  k.writeBigUInt64BE(BigInt(index), PIN_HASH_BYTES)
  return k
}

export function pinValue (time: number, offset: number, length: number): Buffer {
  const v = Buffer.allocUnsafe(16)
  v.writeDoubleBE(time, 0)
  v.writeUInt32BE(offset, 8)
  v.writeUInt32BE(length, 12)
  return v
}

export class AuditIndex {
  readonly root: RootDatabase
  readonly hashes: Database<Buffer, Buffer>
  readonly pins: Database<Buffer, Buffer>
  readonly usage: Database<{ requests: number, noMatch: number }, [string, string]>
  readonly meta: Database<unknown, string>

  private constructor (root: RootDatabase) {
    this.root = root
    this.hashes = root.openDB<Buffer, Buffer>({ name: 'hashes', keyEncoding: 'binary', encoding: 'binary', compression: false })
    this.pins = root.openDB<Buffer, Buffer>({ name: 'pins', keyEncoding: 'binary', encoding: 'binary', compression: false })
    this.usage = root.openDB<{ requests: number, noMatch: number }, [string, string]>({ name: 'usage', encoding: 'msgpack' })
    this.meta = root.openDB<unknown, string>({ name: 'meta', encoding: 'msgpack' })
  }

  /** Opens (creating) the index of a log directory; every thread of a process may open it (lmdb-js shares the environment). */
  static open (dir: string, readOnly = false): AuditIndex {
    // noSync: commits are writes to the page cache (a killed process loses nothing); sync() makes them durable before a checkpoint relies on them.
    return new AuditIndex(open({ path: dir, readOnly, noSync: true, compression: false, mapSize: 64 * 1024 ** 3, maxDbs: 8 }))
  }

  state (): IndexState {
    return (this.meta.get('state') as IndexState | undefined) ?? { size: 0, segment: 0, offset: 0 }
  }

  checkpoint (): string | undefined {
    return this.meta.get('checkpoint') as string | undefined
  }

  /** The first entry kept (earlier ones were removed by retention). */
  retained (): number {
    return (this.meta.get('retained') as number | undefined) ?? 0
  }

  hash (level: number, index: number): Buffer | undefined {
    const v = this.hashes.getBinary(hashKey(level, index))
    return v === undefined ? undefined : Buffer.from(v)
  }

  /** A citizen's entries, newest first, below `before` (an entry index), at most `limit`. */
  pinEntries (pinHash: Buffer, before: number, limit: number): PinLocation[] {
    const out: PinLocation[] = []
    // Reverse: from just below `before` down to the bare prefix, which sorts before every key of this citizen.
    const range = this.pins.getRange({ start: pinKey(pinHash, Math.max(0, before - 1)), end: pinHash.subarray(0, PIN_HASH_BYTES), reverse: true, limit: limit + 1 })
    for (const { key, value } of range) {
      const index = Number(key.readBigUInt64BE(PIN_HASH_BYTES))
      if (index >= before) continue
      out.push({ index, time: value.readDoubleBE(0), offset: value.readUInt32BE(8), length: value.readUInt32BE(12) })
      if (out.length === limit) break
    }
    return out
  }

  /** A party's counts by day, from `from` to `to` (YYYY-MM-DD, inclusive). */
  usageDays (partyId: string, from: string, to: string): UsageDay[] {
    const out: UsageDay[] = []
    for (const { key, value } of this.usage.getRange({ start: [partyId, from], end: [partyId, `${to}\uffff`] })) {
      out.push({ day: key[1], requests: value.requests, noMatch: value.noMatch })
    }
    return out
  }

  /** Flushes committed transactions to disk. */
  async sync (): Promise<void> {
    // RootDatabase.sync is missing from lmdb-js typings (open.js has it).
    const root = this.root as unknown as { sync: (cb: (err: unknown) => void) => void }
    await new Promise<void>((resolve, reject) => { root.sync((err: unknown) => { if (err === null || err === undefined) resolve(); else reject(err) }) })
  }

  async close (): Promise<void> {
    await this.root.close()
  }
}

export { HASH_BYTES, PIN_HASH_BYTES }
