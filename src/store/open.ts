/**
 * Opens the configured storage engine and binds it to the hash key: the key's
 * fingerprint is stored in the index's metadata on first use, and a different
 * key is refused at open. Hashes made with another key would otherwise turn every
 * answer into a silent `mismatch`.
 */
import { timingSafeEqual } from 'node:crypto'
import { ConfigError } from '../errors.js'
import type { StoreKind } from '../config.js'
import type { RecordCodec } from '../domain/record.js'
import { openLmdbStore } from './lmdb.js'
import type { StorageCore, StoreHandle } from './types.js'

export const FINGERPRINT_META = 'hashKeyFingerprint'

export interface OpenStoreOptions {
  readonly readOnly?: boolean
}

export async function openStore (kind: StoreKind, dir: string, options: OpenStoreOptions = {}): Promise<StorageCore> {
  switch (kind) {
    case 'lmdb': return await openLmdbStore(dir, options)
    case 'native-free': {
      // Loaded on demand: an LMDB deployment never loads the other engine, and vice versa.
      const { openNativeFreeStore } = await import('./native-free.js')
      return await openNativeFreeStore(dir, options)
    }
  }
}

/** Opens, in this thread, a reader over a store another thread opened (StorageCore.shareHandle()). */
export async function openSharedStore (handle: StoreHandle): Promise<StorageCore> {
  switch (handle.kind) {
    case 'lmdb': return await openLmdbStore(handle.data as string)
    case 'native-free': {
      const { openNativeFreeShared } = await import('./native-free.js')
      return openNativeFreeShared(handle)
    }
  }
}

/** Checks (and on first use records) that `codec`'s key is the one the index was built with. */
export async function bindHashKey (store: StorageCore, codec: RecordCodec): Promise<void> {
  const fingerprint = codec.keyFingerprint()
  const stored = store.getMeta(FINGERPRINT_META)
  if (stored === undefined) {
    await store.writeBatch([], { [FINGERPRINT_META]: fingerprint })
    return
  }
  if (stored.length !== fingerprint.length || !timingSafeEqual(stored, fingerprint)) {
    throw new ConfigError(['the hash key does not match the one this index was built with; use the original IDV_HASH_KEY_FILE or rebuild the index'])
  }
}
