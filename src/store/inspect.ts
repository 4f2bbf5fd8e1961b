/**
 * Checks an index directory before an engine opens it. Engines trust their
 * files: LMDB maps data.mdb and follows page numbers from its meta page, so a
 * file cut short (an incomplete copy) faults the process with SIGBUS on the
 * first read past its end, and random bytes can segfault it at open. Neither
 * leaves a log line. What can be checked cheaply is checked here, from the
 * engine's own metadata, and refused with one line (StoreFileError) instead:
 * - the path is a directory (or absent, where the caller may create it);
 * - the files in it belong to the engine asked for (an LMDB directory opened
 *   as native-free would otherwise look empty, and vice versa);
 * - LMDB: each meta page's magic and format version, the page size, and the
 *   file at least as long as the newest meta page says it is
 *   ((last page + 1) × page size), with its trees' page counts inside it.
 * The native-free engine checks its own files on open (segment lengths and
 * checksums, log records); its errors become StoreFileError too (openStore).
 * Damage inside the B-tree pages of an LMDB file whose metadata is intact
 * is reported by LMDB as MDB_PAGE_NOTFOUND/MDB_CORRUPTED errors, not crashes.
 */
import { closeSync, openSync, readSync, readdirSync, statSync, type Stats } from 'node:fs'
import { join } from 'node:path'
import type { StoreKind } from '../config.js'

/** A directory that is not an index this engine can open; the message is the whole story (one line). */
export class StoreFileError extends Error {
  constructor (message: string) {
    super(message)
    this.name = 'StoreFileError'
  }
}

/** `missing`: nothing at the path; `empty`: a directory without index files; `index`: index files that passed the checks. */
export type IndexDirState = 'missing' | 'empty' | 'index'

const NATIVE_FREE_FILE = /^(seg|wal)-\d{12}\.(nfi|log|tmp)$|^LOCK$/

export function inspectIndexDir (kind: StoreKind, dir: string): IndexDirState {
  const st = statOrUndefined(dir)
  if (st === undefined) return 'missing'
  if (!st.isDirectory()) throw new StoreFileError(`${dir} is not a directory: --data-dir names the index directory (idv load creates it)`)
  const names = readdirSync(dir)
  const nativeFree = names.filter((n) => NATIVE_FREE_FILE.test(n))
  if (kind === 'lmdb' && !names.includes('data.mdb') && nativeFree.length > 0) {
    throw new StoreFileError(`${dir} holds a native-free index, not LMDB: use --store native-free (IDV_STORE)`)
  }
  if (kind === 'native-free' && names.includes('data.mdb')) {
    throw new StoreFileError(`${dir} holds an LMDB index, not native-free: use --store lmdb (IDV_STORE)`)
  }
  if (kind === 'lmdb') {
    if (!names.includes('data.mdb')) return 'empty'
    checkLmdbDataFile(join(dir, 'data.mdb'))
    return 'index'
  }
  return nativeFree.some((n) => n !== 'LOCK') ? 'index' : 'empty'
}

function statOrUndefined (path: string): Stats | undefined {
  try {
    return statSync(path)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw new StoreFileError(`cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
  }
}

// LMDB's file format (as lmdb-js 3.x builds it, LMDB 1.0 "mdb.master3"): pages 0 and 1
// are meta pages; the one with the larger transaction id is current. Offsets below are
// from the start of a meta page, little-endian, 64-bit pgno_t/size_t.
const LMDB_MAGIC = 0xbeefc0de
/** Format versions this build of lmdb-js writes and reads (checked against a real file in test/store/inspect.test.ts). */
const LMDB_VERSIONS = new Set([2])
/** Page header: pgno (8), txnid (8), pad (2), flags (2), lower/upper (4). */
const PAGE_HEADER = 24
const P_META = 0x08
const META = {
  magic: PAGE_HEADER,
  version: PAGE_HEADER + 4,
  /** mm_dbs[FREE_DBI].md_pad holds the page size. */
  pageSize: PAGE_HEADER + 24,
  freeDb: PAGE_HEADER + 24,
  mainDb: PAGE_HEADER + 72,
  lastPage: PAGE_HEADER + 120,
  txnId: PAGE_HEADER + 128,
  end: PAGE_HEADER + 136
} as const
/** MDB_db: pad u32, flags u16, depth u16, branch, leaf, overflow pages, entries, root (u64 each). */
const DB = { branch: 8, leaf: 16, overflow: 24, entries: 32, root: 40 } as const

interface LmdbMeta { readonly pageSize: number, readonly lastPage: number, readonly txnId: number }

function checkLmdbDataFile (file: string): void {
  const st = statOrUndefined(file)
  if (st === undefined || !st.isFile()) throw new StoreFileError(`${file} is not a regular file`)
  const what = `${file} is not an LMDB index`
  if (st.size < META.end) throw new StoreFileError(`${what}: ${st.size} bytes, shorter than its header`)
  const first = readMeta(file, 0, what)
  if (typeof first === 'string') throw new StoreFileError(`${what}: ${first}`)
  const second = st.size >= first.pageSize + META.end ? readMeta(file, first.pageSize, what) : 'missing'
  // A torn write can spoil at most the meta page being written: the other one is then current.
  const metas = [first, second].filter((m): m is LmdbMeta => typeof m !== 'string')
  const current = metas.reduce((a, b) => (b.txnId > a.txnId ? b : a))
  const needed = (current.lastPage + 1) * current.pageSize
  if (st.size < needed) {
    throw new StoreFileError(`${file} is cut short: ${st.size} bytes, but its own metadata says at least ${needed} (an incomplete copy?); restore the whole file or rebuild the index with idv load`)
  }
}

function readMeta (file: string, offset: number, what: string): LmdbMeta | string {
  const page = Buffer.alloc(META.end)
  const fd = openSync(file, 'r')
  try {
    if (readSync(fd, page, 0, page.length, offset) !== page.length) return 'meta page cut short'
  } finally {
    closeSync(fd)
  }
  if (page.readUInt32LE(META.magic) !== LMDB_MAGIC) return offset === 0 ? 'no LMDB magic number' : 'second meta page has no LMDB magic number'
  const version = page.readUInt32LE(META.version)
  if (!LMDB_VERSIONS.has(version)) throw new StoreFileError(`${what} this build can read: LMDB format version ${version} (reads ${[...LMDB_VERSIONS].join(', ')})`)
  if ((page.readUInt16LE(18) & P_META) === 0) return 'meta page is not marked as one'
  const pageSize = page.readUInt32LE(META.pageSize)
  if (pageSize < 512 || pageSize > 65536 || (pageSize & (pageSize - 1)) !== 0) return `page size ${pageSize} is not a power of two from 512 to 65536`
  const lastPage = safe(page.readBigUInt64LE(META.lastPage))
  const txnId = safe(page.readBigUInt64LE(META.txnId))
  if (lastPage === undefined || txnId === undefined || lastPage < 1) return 'meta page holds impossible numbers'
  for (const db of [META.freeDb, META.mainDb]) {
    const pages = [DB.branch, DB.leaf, DB.overflow].map((o) => safe(page.readBigUInt64LE(db + o)))
    const root = safe(page.readBigUInt64LE(db + DB.root))
    const entries = safe(page.readBigUInt64LE(db + DB.entries))
    if (pages.some((p) => p === undefined || p > lastPage + 1) || entries === undefined) return 'a tree in the meta page is larger than the file'
    // An empty tree has root P_INVALID (all ones, undefined here); a non-empty one starts inside the file.
    if (entries > 0 && (root === undefined || root > lastPage)) return 'a tree root lies outside the file'
  }
  return { pageSize, lastPage, txnId }
}

/** A 64-bit field as a number, or undefined when it is beyond 2^53 (never true of a real file). */
function safe (n: bigint): number | undefined {
  return n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : undefined
}
