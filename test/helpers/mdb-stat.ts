/**
 * LMDB's own mdb_stat, as an independent reader of the index files.
 *
 * Debian's lmdb-utils (LMDB 0.9.x) reads data format 1 only; lmdb-js 3 writes
 * format 2 ("MDB_INVALID: File is not an LMDB file" from Debian's tool). So the
 * tool is compiled (once, cached) from the LMDB sources lmdb-js itself ships:
 * the same C library, none of the JavaScript.
 */
import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { packageRoot } from '../../src/paths.js'

export function mdbStat (): string {
  const root = packageRoot()
  const out = join(root, 'node_modules', '.cache', 'idv', 'mdb_stat')
  if (existsSync(out)) return out
  const src = join(root, 'node_modules', 'lmdb', 'dependencies', 'lmdb', 'libraries', 'liblmdb')
  mkdirSync(join(out, '..'), { recursive: true })
  execFileSync('cc', ['-O2', '-pthread', `-I${src}`, '-o', out, ...['mdb_stat.c', 'mdb.c', 'midl.c', 'module.c'].map((f) => join(src, f)), '-ldl'], { stdio: 'pipe' })
  return out
}

/** Entries of the `citizens`-style named database `name`, as mdb_stat reads them. */
export function mdbStatEntries (dir: string, name: string): number {
  const text = execFileSync(mdbStat(), ['-s', name, dir], { encoding: 'utf8' })
  const m = /Entries: (\d+)/.exec(text)
  if (m === null) throw new Error(`mdb_stat printed no entry count:\n${text}`)
  return Number(m[1])
}
