/**
 * StorageCore over lmdb-js: one environment with two named databases,
 * `citizens` (5-byte key → record bytes) and `meta` (string → bytes).
 *
 * Reads are synchronous memory-mapped lookups (getBinaryFast). Writes run in one
 * lmdb-js transaction per batch; lmdb-js resolves a transaction when it is
 * visible, before it is on disk, so writeBatch also awaits `flushed`.
 */
import { statSync } from 'node:fs'
import { join } from 'node:path'
import { open, type Database, type RootDatabase } from 'lmdb'
import { KEY_BYTES, keyBuffer, readKey, writeKey } from './key-bytes.js'
import type { KeyRange, StorageCore, StoreEntry, StoreHandle, StoreStats, WriteOptions } from './types.js'

export interface LmdbOptions {
  readOnly?: boolean
}

type Bytes = Buffer | Uint8Array
/** lmdb-js accepts a read transaction here; its typings omit the option. */
interface SnapshotGetter { getBinaryFast (key: Bytes, options: { transaction: unknown }): Buffer | undefined }

export async function openLmdbStore (dir: string, options: LmdbOptions = {}): Promise<StorageCore> {
  const root: RootDatabase<Bytes, Bytes> = open({
    path: dir,
    keyEncoding: 'binary',
    encoding: 'binary',
    compression: false,
    readOnly: options.readOnly ?? false,
    // Room for 100M records plus history without remapping; LMDB files are sparse.
    mapSize: 64 * 1024 ** 3,
    maxDbs: 4
  })
  const citizens = root.openDB<Bytes, Bytes>({ name: 'citizens', keyEncoding: 'binary', encoding: 'binary', compression: false })
  const meta = root.openDB<Bytes, string>({ name: 'meta', encoding: 'binary', compression: false })
  return new LmdbStore(dir, root, citizens, meta)
}

class LmdbStore implements StorageCore {
  readonly kind = 'lmdb' as const
  readonly #dir: string
  readonly #root: RootDatabase<Bytes, Bytes>
  readonly #citizens: Database<Bytes, Bytes>
  readonly #meta: Database<Bytes, string>
  readonly #key = Buffer.allocUnsafe(KEY_BYTES)
  #closing: Promise<void> | undefined

  constructor (dir: string, root: RootDatabase<Bytes, Bytes>, citizens: Database<Bytes, Bytes>, meta: Database<Bytes, string>) {
    this.#dir = dir
    this.#root = root
    this.#citizens = citizens
    this.#meta = meta
  }

  getFast (key: number): Uint8Array | undefined {
    writeKey(key, this.#key)
    const fast = this.#citizens.getBinaryFast(this.#key)
    // lmdb-js returns its whole shared read buffer with an own `length` property
    // set to the value's size; a real view keeps subarray/set/Buffer.from honest.
    return fast === undefined ? undefined : fast.subarray(0, fast.length)
  }

  get (key: number): Uint8Array | undefined {
    writeKey(key, this.#key)
    return this.#citizens.getBinary(this.#key)
  }

  getMany (keys: readonly number[]): Array<Uint8Array | undefined> {
    const txn = this.#root.useReadTransaction()
    try {
      const out = new Array<Uint8Array | undefined>(keys.length)
      for (let i = 0; i < keys.length; i++) {
        writeKey(keys[i]!, this.#key)
        const fast = (this.#citizens as unknown as SnapshotGetter).getBinaryFast(this.#key, { transaction: txn })
        out[i] = fast === undefined ? undefined : Uint8Array.prototype.slice.call(fast, 0, fast.length)
      }
      return out
    } finally {
      txn.done()
    }
  }

  async writeBatch (entries: readonly StoreEntry[], meta?: Readonly<Record<string, Uint8Array>>, options: WriteOptions = {}): Promise<void> {
    const append = options.append === true ? { append: true } : undefined
    await this.#root.transaction(() => {
      for (const e of entries) {
        const k = keyBuffer(e.key)
        if (e.value === null) void this.#citizens.remove(k)
        // MDB_APPEND refuses (put answers false) a key not above the last: a caller's ordering bug, never silent.
        else if (this.#citizens.put(k, e.value, append as never) as unknown === false) throw new Error(`append out of key order at key ${e.key}`)
      }
      if (meta !== undefined) for (const [name, value] of Object.entries(meta)) void this.#meta.put(name, value)
    })
    // Visible is not durable: wait for the fsync before the caller reports data as safe.
    await this.#root.flushed
  }

  getMeta (name: string): Uint8Array | undefined {
    return this.#meta.getBinary(name)
  }

  count (): number {
    return (this.#citizens.getStats() as { entryCount: number }).entryCount
  }

  * entries (range: KeyRange = {}): IterableIterator<[number, Uint8Array]> {
    const options: { start?: Buffer, end?: Buffer, snapshot: boolean } = { snapshot: true }
    if (range.start !== undefined) options.start = keyBuffer(range.start)
    if (range.end !== undefined) options.end = keyBuffer(range.end)
    for (const { key, value } of this.#citizens.getRange(options)) {
      yield [readKey(key as Uint8Array), Uint8Array.prototype.slice.call(value)]
    }
  }

  stats (): StoreStats {
    let bytesOnDisk = 0
    try {
      // data.mdb is sparse (mapSize is reserved, not written): count allocated blocks.
      const st = statSync(join(this.#dir, 'data.mdb'))
      bytesOnDisk = st.blocks * 512
    } catch { /* not created yet */ }
    return { entries: this.count(), bytesOnDisk, bytesInMemory: 0 }
  }

  /** A B-tree has no separate compaction step. */
  async compact (): Promise<void> {}

  async copyTo (dir: string): Promise<void> {
    // mdb_env_copy2 with MDB_CP_COMPACT: one read transaction, free pages left out.
    await this.#root.backup(join(dir, 'data.mdb'), true)
  }

  /** LMDB is shared through the file system: each thread opens the same directory (lmdb-js shares the environment). */
  shareHandle (): StoreHandle {
    return { kind: 'lmdb', data: this.#dir }
  }

  async close (): Promise<void> {
    this.#closing ??= (async () => {
      await this.#root.flushed
      await this.#root.close()
    })()
    return await this.#closing
  }
}
