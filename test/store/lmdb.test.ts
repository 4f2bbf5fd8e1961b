import { openLmdbStore } from '../../src/store/lmdb.js'
import { mdbStatEntries } from '../helpers/mdb-stat.js'
import { expect } from 'vitest'
import { runStorageConformance } from './conformance.js'

runStorageConformance({
  name: 'lmdb',
  open: async (dir) => await openLmdbStore(dir),
  // lmdb-js: reopen from the last transaction known flushed, as after an operating-system crash.
  crashVariants: [{ label: ', LMDB_RESTORE=safe', env: { LMDB_RESTORE: 'safe' } }],
  independentCheck: (dir, entries) => { expect(mdbStatEntries(dir, 'citizens')).toBe(entries) }
})
