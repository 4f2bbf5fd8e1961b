/**
 * The storage core: the only storage module the HTTP and domain layers import.
 *
 * A store maps a citizen's PIN, as an integer key (< 2^40), to opaque record
 * bytes (the keyed hashes built by src/domain/record.ts). Engines (LMDB,
 * native-free-index) implement this interface and leak none of their types.
 */

/** One write in a batch: `value: null` deletes the key. */
export interface StoreEntry {
  readonly key: number
  readonly value: Uint8Array | null
}

export interface StoreStats {
  /** Number of records (metadata excluded). */
  readonly entries: number
  /** Bytes the engine's files take on disk. */
  readonly bytesOnDisk: number
  /** Bytes the engine holds in process memory for its index (not the OS page cache). */
  readonly bytesInMemory: number
}

export interface WriteOptions {
  /**
   * The entries are in ascending key order and above every key the store holds
   * (a sorted bulk load into an empty index): LMDB appends them (MDB_APPEND),
   * filling each leaf page instead of splitting it; other engines may ignore it.
   */
  readonly append?: boolean
}

export interface KeyRange {
  /** Inclusive lower bound. */
  readonly start?: number
  /** Exclusive upper bound. */
  readonly end?: number
}

/**
 * An opaque, structured-cloneable description of an open store that another
 * thread passes to openSharedStore() to read the same data without copying or
 * rebuilding it.
 */
export interface StoreHandle {
  readonly kind: 'lmdb' | 'native-free'
  readonly data: unknown
}

export interface StorageCore {
  readonly kind: 'lmdb' | 'native-free'
  /**
   * Synchronous point read for the hot path; a miss is undefined. The bytes may
   * point into a reused buffer and are valid only until the next call on this store.
   */
  getFast (key: number): Uint8Array | undefined
  /** Point read returning a copy the caller may keep. */
  get (key: number): Uint8Array | undefined
  /** Reads many keys from one consistent snapshot; results are copies, in input order. */
  getMany (keys: readonly number[]): Array<Uint8Array | undefined>
  /**
   * Applies every entry and metadata change in one atomic transaction and resolves
   * once the batch is durable on disk (not merely visible).
   */
  writeBatch (entries: readonly StoreEntry[], meta?: Readonly<Record<string, Uint8Array>>, options?: WriteOptions): Promise<void>
  /** Reads a metadata value (e.g. the hash-key fingerprint) written by writeBatch. */
  getMeta (name: string): Uint8Array | undefined
  /** Number of records. */
  count (): number
  /** Records in ascending key order, from one consistent snapshot; values are copies. */
  entries (range?: KeyRange): IterableIterator<[number, Uint8Array]>
  stats (): StoreStats
  /**
   * Folds recent writes into the engine's compact form and resolves once that is
   * durable (native-free: rebuilds segments, so every record costs ≤ 16 bytes of
   * index again; LMDB: nothing to do). The loader calls it after a bulk load.
   */
  compact (): Promise<void>
  /**
   * Writes a consistent, compact copy of the store into `dir` (an empty directory)
   * while the store may be serving and loading: LMDB copies inside one read
   * transaction with compaction; native-free writes its view's records and the
   * named metadata into a fresh segment. The copy opens as this engine's index.
   */
  copyTo (dir: string, metaNames: readonly string[]): Promise<void>
  /** A handle for readers in other threads (see openSharedStore). */
  shareHandle (): StoreHandle
  /** Waits for pending writes, then releases files. Idempotent. */
  close (): Promise<void>
}
