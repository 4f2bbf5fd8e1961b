/**
 * StorageCore over native-free-index: a thin adapter, no logic of its own.
 *
 * The engine already speaks the interface's vocabulary (integer keys, opaque bytes,
 * batches durable on resolve, snapshot reads), so each method forwards. Only the
 * engine's richer stats are narrowed to StoreStats. Reads stay synchronous and
 * allocation-light: getFast returns a view into the engine's shared memory.
 */
import { open, openShared } from 'native-free-index'
import type { Engine, SharedHandle, SharedView } from 'native-free-index'
import type { KeyRange, StorageCore, StoreEntry, StoreHandle, StoreStats } from './types.js'

class NativeFreeStore implements StorageCore {
  readonly kind = 'native-free' as const
  private readonly engine: Engine

  constructor (engine: Engine) {
    this.engine = engine
  }

  getFast (key: number): Uint8Array | undefined {
    return this.engine.getFast(key)
  }

  get (key: number): Uint8Array | undefined {
    return this.engine.get(key)
  }

  getMany (keys: readonly number[]): Array<Uint8Array | undefined> {
    return this.engine.getMany(keys)
  }

  writeBatch (entries: readonly StoreEntry[], meta?: Readonly<Record<string, Uint8Array>>): Promise<void> {
    return this.engine.writeBatch(entries, meta)
  }

  getMeta (name: string): Uint8Array | undefined {
    return this.engine.getMeta(name)
  }

  count (): number {
    return this.engine.count()
  }

  entries (range?: KeyRange): IterableIterator<[number, Uint8Array]> {
    return this.engine.entries(range)
  }

  stats (): StoreStats {
    const s = this.engine.stats()
    return { entries: s.entries, bytesOnDisk: s.bytesOnDisk, bytesInMemory: s.bytesInMemory }
  }

  compact (): Promise<void> {
    return this.engine.compact()
  }

  shareHandle (): StoreHandle {
    return { kind: 'native-free', data: this.engine.shareHandle() }
  }

  async copyTo (dir: string, metaNames: readonly string[]): Promise<void> {
    await copyEntries(this, dir, metaNames)
  }

  close (): Promise<void> {
    return this.engine.close()
  }
}

/**
 * A reader in another thread over the writer's SharedArrayBuffers: nothing is
 * copied or rebuilt; new commits become visible as whole snapshots.
 */
class NativeFreeSharedStore implements StorageCore {
  readonly kind = 'native-free' as const
  private readonly view: SharedView
  private readonly handle: StoreHandle

  constructor (handle: StoreHandle) {
    this.handle = handle
    this.view = openShared(handle.data as SharedHandle)
  }

  getFast (key: number): Uint8Array | undefined { return this.view.getFast(key) }
  get (key: number): Uint8Array | undefined { return this.view.get(key) }
  getMany (keys: readonly number[]): Array<Uint8Array | undefined> { return this.view.getMany(keys) }
  getMeta (name: string): Uint8Array | undefined { return this.view.getMeta(name) }
  count (): number { return this.view.count() }
  entries (range?: KeyRange): IterableIterator<[number, Uint8Array]> { return this.view.entries(range) }
  async writeBatch (): Promise<void> { throw new Error('a shared native-free store is read-only: write through the owning thread') }
  async compact (): Promise<void> { throw new Error('a shared native-free store is read-only: compact through the owning thread') }
  stats (): StoreStats { return { entries: this.view.count(), bytesOnDisk: 0, bytesInMemory: 0 } }
  shareHandle (): StoreHandle { return this.handle }
  async copyTo (dir: string, metaNames: readonly string[]): Promise<void> { await copyEntries(this, dir, metaNames) }
  async close (): Promise<void> { this.view.close() }
}

/**
 * A native-free copy: the records of one snapshot read (entries() iterates one
 * epoch), written in key order into a fresh engine and compacted into one segment.
 */
async function copyEntries (from: StorageCore, dir: string, metaNames: readonly string[]): Promise<void> {
  const to = await open(dir, { readOnly: false })
  try {
    const meta: Record<string, Uint8Array> = {}
    for (const name of metaNames) {
      const value = from.getMeta(name)
      if (value !== undefined) meta[name] = value
    }
    let batch: StoreEntry[] = []
    for (const [key, value] of from.entries()) {
      batch.push({ key, value })
      if (batch.length === 100_000) { await to.writeBatch(batch); batch = [] }
    }
    await to.writeBatch(batch, meta)
    await to.compact()
  } finally {
    await to.close()
  }
}

export function openNativeFreeShared (handle: StoreHandle): StorageCore {
  return new NativeFreeSharedStore(handle)
}

/** Opens (creating if needed) a native-free-index store in dir. */
export async function openNativeFreeStore (dir: string, options: { readOnly?: boolean } = {}): Promise<StorageCore> {
  const engine = await open(dir, { readOnly: options.readOnly ?? false })
  return new NativeFreeStore(engine)
}
