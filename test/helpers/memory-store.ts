/**
 * A tiny in-memory StorageCore for unit tests: a Map from integer key to record
 * bytes. No durability and no engine behaviour; it only honours the interface
 * contract (copies from get/getMany/entries, ascending key order, atomic-enough
 * batches, metadata, idempotent close).
 */
import type { KeyRange, StorageCore, StoreEntry, StoreHandle, StoreStats } from '../../src/store/types.js'

export class MemoryStore implements StorageCore {
  readonly kind = 'lmdb' as const
  readonly #records = new Map<number, Uint8Array>()
  readonly #meta = new Map<string, Uint8Array>()
  #closed = false
  /** Number of getFast calls, so tests can check the hot path is used. */
  fastReads = 0

  /** Returns the stored bytes themselves (allowed: valid only until the next call). */
  getFast (key: number): Uint8Array | undefined {
    this.fastReads++
    return this.#records.get(key)
  }

  get (key: number): Uint8Array | undefined {
    const v = this.#records.get(key)
    return v === undefined ? undefined : v.slice()
  }

  getMany (keys: readonly number[]): Array<Uint8Array | undefined> {
    return keys.map((k) => this.get(k))
  }

  async writeBatch (entries: readonly StoreEntry[], meta?: Readonly<Record<string, Uint8Array>>): Promise<void> {
    if (this.#closed) throw new Error('store is closed')
    for (const e of entries) {
      if (e.value === null) this.#records.delete(e.key)
      else this.#records.set(e.key, e.value.slice())
    }
    if (meta !== undefined) for (const [name, value] of Object.entries(meta)) this.#meta.set(name, value.slice())
  }

  /** Synchronous put for tests that do not care about batches. */
  put (key: number, value: Uint8Array): void {
    this.#records.set(key, value.slice())
  }

  getMeta (name: string): Uint8Array | undefined {
    const v = this.#meta.get(name)
    return v === undefined ? undefined : v.slice()
  }

  count (): number {
    return this.#records.size
  }

  * entries (range: KeyRange = {}): IterableIterator<[number, Uint8Array]> {
    const start = range.start ?? 0
    const end = range.end ?? Number.POSITIVE_INFINITY
    const keys = [...this.#records.keys()].filter((k) => k >= start && k < end).sort((a, b) => a - b)
    for (const k of keys) yield [k, this.#records.get(k)!.slice()]
  }

  async compact (): Promise<void> {}

  async copyTo (): Promise<void> { throw new Error('an in-memory store has no files to copy') }

  shareHandle (): StoreHandle {
    throw new Error('MemoryStore lives in one thread')
  }

  stats (): StoreStats {
    let bytes = 0
    for (const v of this.#records.values()) bytes += v.byteLength
    return { entries: this.#records.size, bytesOnDisk: 0, bytesInMemory: bytes }
  }

  async close (): Promise<void> {
    this.#closed = true
  }
}
