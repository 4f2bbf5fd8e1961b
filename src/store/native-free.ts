/**
 * StorageCore over native-free-index: a thin adapter, no logic of its own.
 *
 * The engine already speaks the interface's vocabulary (integer keys, opaque bytes,
 * batches durable on resolve, snapshot reads), so each method forwards. Only the
 * engine's richer stats are narrowed to StoreStats. Reads stay synchronous and
 * allocation-light: getFast returns a view into the engine's shared memory.
 */
import { open } from 'native-free-index'
import type { Engine } from 'native-free-index'
import type { KeyRange, StorageCore, StoreEntry, StoreStats } from './types.js'

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

  close (): Promise<void> {
    return this.engine.close()
  }
}

/** Opens (creating if needed) a native-free-index store in dir. */
export async function openNativeFreeStore (dir: string, options: { readOnly?: boolean } = {}): Promise<StorageCore> {
  const engine = await open(dir, { readOnly: options.readOnly ?? false })
  return new NativeFreeStore(engine)
}
