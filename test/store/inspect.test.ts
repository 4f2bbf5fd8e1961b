/**
 * The checks made before an engine opens a directory (src/store/inspect.ts),
 * against files lmdb-js and native-free-index really write, then damaged.
 */
import { randomBytes } from 'node:crypto'
import { copyFileSync, mkdirSync, readFileSync, truncateSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { tempDir } from '../helpers/temp.js'
import { beforeAll, describe, expect, it } from 'vitest'
import { RecordCodec, RECORD_VERSION } from '../../src/domain/record.js'
import { generateCitizens } from '../../src/population/generate.js'
import { inspectIndexDir, StoreFileError } from '../../src/store/inspect.js'
import { bindHashKey, indexLayout, LAYOUT_META, openStore } from '../../src/store/open.js'
import { fillStore } from '../helpers/server.js'

const dir = tempDir('idv-inspect')
const lmdbDir = join(dir, 'lmdb')
const codec = new RecordCodec(randomBytes(32))

beforeAll(async () => {
  const store = await openStore('lmdb', lmdbDir)
  await bindHashKey(store, codec)
  await fillStore(store, codec, generateCitizens(3000, 7))
  await store.close()
})

/** A copy of the LMDB index with data.mdb changed by `damage`. */
function damaged (name: string, damage: (file: string) => void): string {
  const copy = join(dir, name)
  mkdirSync(copy)
  copyFileSync(join(lmdbDir, 'data.mdb'), join(copy, 'data.mdb'))
  damage(join(copy, 'data.mdb'))
  return copy
}

describe('inspectIndexDir', () => {
  it('passes a real LMDB index (the format version it accepts is the one lmdb-js writes)', () => {
    expect(inspectIndexDir('lmdb', lmdbDir)).toBe('index')
    expect(inspectIndexDir('lmdb', join(dir, 'absent'))).toBe('missing')
  })

  it('refuses random bytes, a cut-short file and a spoiled meta page, naming the problem', () => {
    const random = damaged('random', (f) => { writeFileSync(f, randomBytes(64 * 1024)) })
    expect(() => inspectIndexDir('lmdb', random)).toThrow(/no LMDB magic number/)
    const cut = damaged('cut', (f) => { truncateSync(f, Math.floor(readFileSync(f).length * 0.6)) })
    expect(() => inspectIndexDir('lmdb', cut)).toThrow(/cut short/)
    const tiny = damaged('tiny', (f) => { truncateSync(f, 100) })
    expect(() => inspectIndexDir('lmdb', tiny)).toThrow(StoreFileError)
    // A meta page whose tree claims more pages than the file has.
    const huge = damaged('huge', (f) => {
      const bytes = readFileSync(f)
      for (const page of [0, 4096]) bytes.writeBigUInt64LE(1n << 40n, page + 24 + 72 + 16)
      writeFileSync(f, bytes)
    })
    expect(() => inspectIndexDir('lmdb', huge)).toThrow(/larger than the file|outside the file/)
    const version = damaged('version', (f) => {
      const bytes = readFileSync(f)
      for (const page of [0, 4096]) bytes.writeUInt32LE(999, page + 28)
      writeFileSync(f, bytes)
    })
    expect(() => inspectIndexDir('lmdb', version)).toThrow(/format version 999/)
  })

  it('a torn write of one meta page leaves the other, as LMDB itself would use it', () => {
    const torn = damaged('torn', (f) => {
      const bytes = readFileSync(f)
      bytes.fill(0xab, 4096 + 24, 4096 + 160)
      writeFileSync(f, bytes)
    })
    expect(inspectIndexDir('lmdb', torn)).toBe('index')
  })

  it('tells the engines apart, and refuses a file where a directory belongs', () => {
    writeFileSync(join(dir, 'plain-file'), 'x')
    expect(() => inspectIndexDir('lmdb', join(dir, 'plain-file'))).toThrow(/is not a directory/)
    expect(() => inspectIndexDir('native-free', join(dir, 'plain-file'))).toThrow(/is not a directory/)
    expect(() => inspectIndexDir('native-free', lmdbDir)).toThrow(/holds an LMDB index/)
    mkdirSync(join(dir, 'nf'))
    writeFileSync(join(dir, 'nf', 'wal-000000000001.log'), '')
    expect(() => inspectIndexDir('lmdb', join(dir, 'nf'))).toThrow(/holds a native-free index/)
    mkdirSync(join(dir, 'empty'))
    expect(inspectIndexDir('lmdb', join(dir, 'empty'))).toBe('empty')
    expect(inspectIndexDir('native-free', join(dir, 'empty'))).toBe('empty')
  })
})

describe('record layout version', () => {
  it('is recorded on first use and refused when it is not the one this build reads', async () => {
    const store = await openStore('lmdb', lmdbDir)
    expect(indexLayout(store)).toBe(RECORD_VERSION)
    expect([...store.getMeta(LAYOUT_META)!]).toEqual([RECORD_VERSION])
    await store.writeBatch([], { [LAYOUT_META]: Uint8Array.of(RECORD_VERSION + 1) })
    await expect(bindHashKey(store, codec)).rejects.toThrow(`layout version ${RECORD_VERSION + 1}, and this build reads version ${RECORD_VERSION}: rebuild it`)
    await store.writeBatch([], { [LAYOUT_META]: Uint8Array.of(RECORD_VERSION) })
    await store.close()
  })

  it('an index written before the version was recorded is read from its first record', async () => {
    const legacy = join(dir, 'legacy')
    const store = await openStore('native-free', legacy)
    await fillStore(store, codec, generateCitizens(10, 3))
    expect(store.getMeta(LAYOUT_META)).toBeUndefined()
    expect(indexLayout(store)).toBe(RECORD_VERSION)
    await bindHashKey(store, codec)
    expect([...store.getMeta(LAYOUT_META)!]).toEqual([RECORD_VERSION])
    await store.close()
  })
})
