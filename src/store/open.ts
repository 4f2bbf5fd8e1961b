/**
 * Opens the configured storage engine and binds it to the hash key: the key's
 * fingerprint and the record layout version are stored in the index's
 * metadata on first use, and a different key or layout is refused at open.
 * Hashes made with another key would otherwise turn every answer into a
 * silent `mismatch`. The directory is checked before the engine opens it
 * (inspect.ts), so a damaged or foreign index is one line, not a crash.
 */
import { timingSafeEqual } from 'node:crypto'
import { ConfigError } from '../errors.js'
import type { StoreKind } from '../config.js'
import { RECORD_VERSION, type RecordCodec } from '../domain/record.js'
import { inspectIndexDir, StoreFileError } from './inspect.js'
import { openLmdbStore } from './lmdb.js'
import type { StorageCore, StoreHandle } from './types.js'

export { StoreFileError } from './inspect.js'
export const FINGERPRINT_META = 'hashKeyFingerprint'
export const LAYOUT_META = 'recordLayout'
/** The last change-feed sequence applied to the index (decimal text), written in the same batch as the change. */
export const SEQUENCE_META = 'appliedSequence'

export interface OpenStoreOptions {
  readonly readOnly?: boolean
  /** Refuse a path with no index directory instead of creating one (serving; loading creates). */
  readonly mustExist?: boolean
}

export async function openStore (kind: StoreKind, dir: string, options: OpenStoreOptions = {}): Promise<StorageCore> {
  const state = inspectIndexDir(kind, dir)
  if (state === 'missing' && (options.mustExist === true || options.readOnly === true)) {
    throw new StoreFileError(`no index at ${dir}: check --data-dir (IDV_DATA_DIR), or build one with idv load`)
  }
  try {
    switch (kind) {
      case 'lmdb': return await openLmdbStore(dir, options)
      case 'native-free': {
        // Loaded on demand: an LMDB deployment never loads the other engine, and vice versa.
        const { openNativeFreeStore } = await import('./native-free.js')
        return await openNativeFreeStore(dir, options)
      }
    }
  } catch (err) {
    // Engine errors on open (a corrupt segment, a held lock, a file the engine refuses) are about the files, not a bug.
    throw new StoreFileError(`cannot open the ${kind} index at ${dir}: ${(err as Error).message}`)
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

/**
 * Checks (and on first use records) that `codec`'s key is the one the index was
 * built with, and that its records have the layout this build reads.
 */
export async function bindHashKey (store: StorageCore, codec: RecordCodec): Promise<void> {
  const layout = indexLayout(store)
  if (layout !== undefined && layout !== RECORD_VERSION) {
    throw new ConfigError([`the index holds records of layout version ${layout}, and this build reads version ${RECORD_VERSION}: rebuild it from the register extract with idv load into a new --data-dir`])
  }
  const fingerprint = codec.keyFingerprint()
  const stored = store.getMeta(FINGERPRINT_META)
  if (stored !== undefined && (stored.length !== fingerprint.length || !timingSafeEqual(stored, fingerprint))) {
    throw new ConfigError(['the hash key does not match the one this index was built with; use the original IDV_HASH_KEY_FILE or rebuild the index'])
  }
  if (stored === undefined || store.getMeta(LAYOUT_META) === undefined) {
    await store.writeBatch([], { [FINGERPRINT_META]: fingerprint, [LAYOUT_META]: Uint8Array.of(RECORD_VERSION) })
  }
}

/**
 * The record layout version of an index: its metadata, or for an index written
 * before that was recorded, the version byte of its first record; undefined
 * for an empty index.
 */
export function indexLayout (store: StorageCore): number | undefined {
  const meta = store.getMeta(LAYOUT_META)
  if (meta !== undefined) return meta.length === 1 ? meta[0] : -1
  for (const [, value] of store.entries()) return value[0]
  return undefined
}
