/**
 * Snapshots: a whole index as one file, made while the service serves, restored
 * in the time it takes to copy it. This is how a node is rebuilt after a
 * disaster and how a fleet node bootstraps (the manifest's `sequence` is the last
 * change of the feed the snapshot covers).
 *
 * File layout (docs/design/snapshots.md):
 *   "IDVSNAP1" | u32 BE manifest length | manifest JSON | the index's files, concatenated | SHA-256 of all before
 * The manifest names the engine, record layout, record count, hash-key
 * fingerprint (never the key), the SHA-256 of the files, creation time, sequence
 * and the files with their sizes. Restore checks the manifest against this
 * build and key before it reads further, checks both digests while it writes
 * into a new directory beside the target, and only then swaps it in.
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, readSync, renameSync, rmSync, statSync, writeSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'
import type { StoreKind } from '../config.js'
import { RECORD_VERSION } from '../domain/record.js'
import { FINGERPRINT_META, indexLayout, LAYOUT_META, openStore } from '../store/open.js'

const MAGIC = Buffer.from('IDVSNAP1', 'latin1')
const MAX_MANIFEST_BYTES = 64 * 1024
const BLOCK = 4 * 1024 * 1024
/** Metadata a snapshot carries for engines that copy records, not files. */
export const SEQUENCE_META = 'appliedSequence'
const CARRIED_META = [FINGERPRINT_META, LAYOUT_META, SEQUENCE_META]

export interface SnapshotManifest {
  readonly format: 1
  readonly engine: StoreKind
  readonly layout: number
  readonly count: number
  /** Hex SHA-256 fingerprint of the hash key (src/domain/record.ts keyFingerprint), never the key. */
  readonly keyFingerprint: string
  /** Hex SHA-256 of the files' bytes, in order. */
  readonly sha256: string
  readonly createdAt: string
  /** The last change-feed sequence applied to the index; null when it was only bulk-loaded. */
  readonly sequence: number | null
  readonly files: ReadonlyArray<{ readonly name: string, readonly bytes: number }>
}

/** A snapshot refused: the index it would replace is untouched. */
export class SnapshotError extends Error {}

export interface CreateResult { readonly manifest: SnapshotManifest, readonly bytes: number, readonly seconds: number }

/** Writes a snapshot of the index at dataDir to `out` (never overwritten), while the service may serve and load. */
export async function createSnapshot (engine: StoreKind, dataDir: string, out: string): Promise<CreateResult> {
  const started = performance.now()
  if (existsSync(out)) throw new SnapshotError(`${out} already exists and is never overwritten: choose another --out or remove it first`)
  if (!existsSync(dirname(out))) throw new SnapshotError(`the directory ${dirname(out)} does not exist: create it first`)
  const copyDir = `${out}.copy`
  rmSync(copyDir, { recursive: true, force: true })
  mkdirSync(copyDir, { mode: 0o700 })
  const partial = `${out}.partial`
  try {
    const store = await openStore(engine, dataDir, { mustExist: true, readOnly: true })
    try {
      await store.copyTo(copyDir, CARRIED_META)
    } finally {
      await store.close()
    }
    // The count, fingerprint and layout are read from the copy: they describe exactly what the file holds.
    const copy = await openStore(engine, copyDir, { readOnly: true })
    let count: number, fingerprint: Uint8Array | undefined, layout: number | undefined, sequence: Uint8Array | undefined
    try {
      count = copy.count()
      fingerprint = copy.getMeta(FINGERPRINT_META)
      layout = indexLayout(copy)
      sequence = copy.getMeta(SEQUENCE_META)
    } finally {
      await copy.close()
    }
    if (fingerprint === undefined || layout === undefined) throw new SnapshotError(`the index at ${dataDir} is empty or was never bound to a hash key: nothing to snapshot`)
    const files = readdirSync(copyDir).filter((name) => name !== 'lock.mdb' && name !== 'LOCK').sort().map((name) => ({ name, bytes: statSync(join(copyDir, name)).size }))
    const contentHash = createHash('sha256')
    for (const f of files) forEachBlock(join(copyDir, f.name), (b) => contentHash.update(b))
    const manifest: SnapshotManifest = {
      format: 1,
      engine,
      layout,
      count,
      keyFingerprint: Buffer.from(fingerprint).toString('hex'),
      sha256: contentHash.digest('hex'),
      createdAt: new Date().toISOString(),
      sequence: sequence === undefined ? null : Number(Buffer.from(sequence).toString('utf8')),
      files
    }
    const head = Buffer.from(JSON.stringify(manifest), 'utf8')
    const whole = createHash('sha256')
    const fd = openSync(partial, 'w', 0o600)
    let bytes = 0
    const write = (b: Uint8Array): void => { whole.update(b); writeSync(fd, b); bytes += b.length }
    try {
      const len = Buffer.alloc(4)
      len.writeUInt32BE(head.length)
      write(MAGIC)
      write(len)
      write(head)
      for (const f of files) forEachBlock(join(copyDir, f.name), write)
      const trailer = whole.digest()
      writeSync(fd, trailer)
      bytes += trailer.length
      fsyncSync(fd)
    } finally {
      closeSync(fd)
    }
    renameSync(partial, out)
    return { manifest, bytes, seconds: (performance.now() - started) / 1000 }
  } finally {
    rmSync(copyDir, { recursive: true, force: true })
    rmSync(partial, { force: true })
  }
}

/** Reads and checks a snapshot's header; the content is not read. */
export function readSnapshotManifest (file: string): SnapshotManifest {
  const fd = openSync(file, 'r')
  try {
    return readHeader(fd, file).manifest
  } finally {
    closeSync(fd)
  }
}

export interface RestoreOptions {
  readonly file: string
  readonly engine: StoreKind
  readonly dataDir: string
  /** The hash key's fingerprint (RecordCodec.keyFingerprint()): a snapshot of another key is refused. */
  readonly keyFingerprint: Uint8Array
}

/**
 * Restores a snapshot into dataDir: checks the manifest (engine, layout, key),
 * writes the files into `<dataDir>.restore` while checking both digests, and only
 * then swaps the new directory in (the old one, if any, is removed after).
 * A refused snapshot leaves dataDir untouched. The service must be stopped.
 */
export async function restoreSnapshot (o: RestoreOptions): Promise<{ manifest: SnapshotManifest, seconds: number }> {
  const started = performance.now()
  const staging = `${o.dataDir}.restore`
  const replaced = `${o.dataDir}.replaced`
  rmSync(staging, { recursive: true, force: true }) // leftovers of a restore killed before its swap
  rmSync(replaced, { recursive: true, force: true })
  const fd = openSync(o.file, 'r')
  try {
    const { manifest, contentStart } = readHeader(fd, o.file)
    if (manifest.engine !== o.engine) throw new SnapshotError(`${o.file} is a snapshot of a ${manifest.engine} index, and this node runs ${o.engine} (--store): restore it on a ${manifest.engine} node or re-load from the extract`)
    if (manifest.layout !== RECORD_VERSION) throw new SnapshotError(`${o.file} holds records of layout version ${manifest.layout}, and this build reads version ${RECORD_VERSION}: make a new snapshot with this build, or re-load from the extract`)
    const fingerprint = Buffer.from(manifest.keyFingerprint, 'hex')
    if (fingerprint.length !== o.keyFingerprint.length || !timingSafeEqual(fingerprint, o.keyFingerprint)) {
      throw new SnapshotError(`${o.file} was made with another hash key (its fingerprint differs from IDV_HASH_KEY_FILE's): restore it with the key it was made with`)
    }
    const expected = manifest.files.reduce((n, f) => n + f.bytes, 0)
    const size = statSync(o.file).size
    if (size !== contentStart + expected + 32) throw new SnapshotError(`${o.file} is ${size} bytes, and its manifest says ${contentStart + expected + 32}: it is truncated or damaged`)

    mkdirSync(staging, { mode: 0o700 })
    const whole = createHash('sha256')
    const header = Buffer.alloc(contentStart)
    readSync(fd, header, 0, contentStart, 0)
    whole.update(header)
    const content = createHash('sha256')
    let position = contentStart
    const block = Buffer.allocUnsafe(BLOCK)
    for (const f of manifest.files) {
      if (basename(f.name) !== f.name || f.name.startsWith('.')) throw new SnapshotError(`${o.file} names a file outside the index (${JSON.stringify(f.name)}): refused`)
      const out = openSync(join(staging, f.name), 'w', 0o600)
      try {
        for (let left = f.bytes; left > 0;) {
          const n = readSync(fd, block, 0, Math.min(BLOCK, left), position)
          if (n === 0) throw new SnapshotError(`${o.file} ends early: it is truncated`)
          const piece = block.subarray(0, n)
          whole.update(piece)
          content.update(piece)
          writeSync(out, piece)
          position += n
          left -= n
        }
        fsyncSync(out)
      } finally {
        closeSync(out)
      }
    }
    const trailer = Buffer.alloc(32)
    readSync(fd, trailer, 0, 32, position)
    if (content.digest('hex') !== manifest.sha256 || !whole.digest().equals(trailer)) {
      throw new SnapshotError(`${o.file} does not match its checksum: it is damaged (a flipped or missing byte); the index at ${o.dataDir} is untouched`)
    }
    const check = await openStore(o.engine, staging, { readOnly: true })
    const count = check.count()
    await check.close()
    if (count !== manifest.count) throw new SnapshotError(`${o.file} restores ${count} records, and its manifest says ${manifest.count}: refused`)
    // The swap: two renames on one file system; a crash between them leaves
    // <dataDir>.replaced (the old index) and <dataDir>.restore (the new, whole).
    syncDir(staging)
    if (existsSync(o.dataDir)) renameSync(o.dataDir, replaced)
    renameSync(staging, o.dataDir)
    syncDir(dirname(o.dataDir))
    rmSync(replaced, { recursive: true, force: true })
    return { manifest, seconds: (performance.now() - started) / 1000 }
  } catch (err) {
    rmSync(staging, { recursive: true, force: true })
    throw err
  } finally {
    closeSync(fd)
  }
}

function readHeader (fd: number, file: string): { manifest: SnapshotManifest, contentStart: number } {
  const head = Buffer.alloc(12)
  if (readSync(fd, head, 0, 12, 0) < 12 || !head.subarray(0, 8).equals(MAGIC)) throw new SnapshotError(`${file} is not an idv snapshot (it does not start with IDVSNAP1)`)
  const length = head.readUInt32BE(8)
  if (length > MAX_MANIFEST_BYTES) throw new SnapshotError(`${file} has a ${length}-byte manifest: damaged, refused`)
  const raw = Buffer.alloc(length)
  if (readSync(fd, raw, 0, length, 12) < length) throw new SnapshotError(`${file} ends inside its manifest: it is truncated`)
  let manifest: SnapshotManifest
  try {
    manifest = JSON.parse(raw.toString('utf8')) as SnapshotManifest
  } catch {
    throw new SnapshotError(`${file} has a damaged manifest (not JSON)`)
  }
  const valid = manifest !== null && typeof manifest === 'object' && manifest.format === 1 &&
    (manifest.engine === 'lmdb' || manifest.engine === 'native-free') && Number.isInteger(manifest.layout) &&
    Number.isInteger(manifest.count) && typeof manifest.keyFingerprint === 'string' && typeof manifest.sha256 === 'string' &&
    Array.isArray(manifest.files) && manifest.files.every((f) => typeof f?.name === 'string' && Number.isSafeInteger(f.bytes) && f.bytes >= 0)
  if (!valid) throw new SnapshotError(`${file} has a damaged or unknown manifest (format ${String((manifest as { format?: unknown } | null)?.format)})`)
  return { manifest, contentStart: 12 + length }
}

function forEachBlock (path: string, each: (b: Uint8Array) => void): void {
  const fd = openSync(path, 'r')
  const block = Buffer.allocUnsafe(BLOCK)
  try {
    for (let n = readSync(fd, block, 0, BLOCK, null); n > 0; n = readSync(fd, block, 0, BLOCK, null)) each(block.subarray(0, n))
  } finally {
    closeSync(fd)
  }
}

function syncDir (dir: string): void {
  const fd = openSync(dir, 'r')
  try { fsyncSync(fd) } finally { closeSync(fd) }
}
