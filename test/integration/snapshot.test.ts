/**
 * Snapshots on both engines: made while a load writes, restored into an empty
 * directory with the same answers; a flipped byte, a truncation, another hash key
 * and another layout are refused with the existing index left untouched.
 */
import { randomBytes } from 'node:crypto'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { RecordCodec } from '../../src/domain/record.js'
import { loadFile } from '../../src/bulk-load/loader.js'
import { generateCitizens, toJsonLine } from '../../src/population/generate.js'
import { bindHashKey, openStore } from '../../src/store/open.js'
import { createSnapshot, readSnapshotManifest, restoreSnapshot } from '../../src/snapshot/index.js'
import type { StorageCore } from '../../src/store/types.js'
import { tempDir } from '../helpers/temp.js'

const hashKey = randomBytes(32)
const fingerprint = new RecordCodec(hashKey).keyFingerprint()
const contents = (store: StorageCore): string[] => [...store.entries()].map(([k, v]) => `${k}:${Buffer.from(v).toString('hex')}`)
let dir: string
beforeAll(() => { dir = tempDir('idv-snapshot') })

describe.each(['lmdb', 'native-free'] as const)('idv snapshot (%s)', (engine) => {
  it('creates while a load writes, restores into an empty directory, and refuses damaged or foreign snapshots leaving the index untouched', async () => {
    const base = join(dir, engine)
    const file = `${base}.ndjson`
    writeFileSync(file, [...generateCitizens(4000, 3)].map(toJsonLine).join('\n') + '\n')
    const dataDir = join(base, 'index')
    const store = await openStore(engine, dataDir)
    await bindHashKey(store, new RecordCodec(hashKey))
    await loadFile({ file, store, hashKey, rejectFile: `${base}.rejects`, workDir: `${base}.load`, threads: 2 })
    const expected = contents(store)
    if (engine === 'native-free') await store.close() // its writer holds the directory; LMDB keeps loading below
    const more = join(dir, `${engine}-more.ndjson`)
    writeFileSync(more, [...generateCitizens(9000, 3)].slice(4000).map(toJsonLine).join('\n') + '\n')
    const loading = engine === 'lmdb' ? loadFile({ file: more, store, hashKey, rejectFile: `${base}.r2`, workDir: `${base}.l2`, threads: 1, commitRecords: 500 }) : undefined
    const snap = `${base}.snapshot`
    const { manifest } = await createSnapshot(engine, dataDir, snap)
    await loading
    if (engine === 'lmdb') await store.close()
    expect(manifest.engine).toBe(engine)
    expect(manifest.count).toBeGreaterThanOrEqual(4000)
    expect(manifest.keyFingerprint).toBe(Buffer.from(fingerprint).toString('hex'))
    expect(readSnapshotManifest(snap)).toEqual(manifest)

    const restoredDir = join(base, 'restored')
    await restoreSnapshot({ file: snap, engine, dataDir: restoredDir, keyFingerprint: fingerprint })
    const restored = await openStore(engine, restoredDir)
    expect(restored.count()).toBe(manifest.count)
    // A consistent copy: the first load whole, then a key-ordered part of the second.
    expect(contents(restored).filter((e) => expected.includes(e))).toEqual(expected)
    const before = contents(restored)
    await restored.close()

    const bytes = readFileSync(snap)
    const flipped = Buffer.from(bytes)
    flipped[Math.floor(bytes.length * 0.6)]! ^= 0x01
    writeFileSync(`${snap}.flipped`, flipped)
    writeFileSync(`${snap}.truncated`, bytes.subarray(0, bytes.length - 1000))
    await expect(restoreSnapshot({ file: `${snap}.flipped`, engine, dataDir: restoredDir, keyFingerprint: fingerprint })).rejects.toThrow(/does not match its checksum/)
    await expect(restoreSnapshot({ file: `${snap}.truncated`, engine, dataDir: restoredDir, keyFingerprint: fingerprint })).rejects.toThrow(/truncated or damaged/)
    await expect(restoreSnapshot({ file: snap, engine, dataDir: restoredDir, keyFingerprint: new RecordCodec(randomBytes(32)).keyFingerprint() })).rejects.toThrow(/another hash key/)
    const manifestAt = bytes.indexOf('"layout":')
    const otherLayout = Buffer.from(bytes)
    otherLayout.write('"layout":9', manifestAt)
    writeFileSync(`${snap}.layout`, otherLayout)
    await expect(restoreSnapshot({ file: `${snap}.layout`, engine, dataDir: restoredDir, keyFingerprint: fingerprint })).rejects.toThrow(/layout version 9/)
    writeFileSync(`${snap}.garbage`, randomBytes(5000))
    await expect(restoreSnapshot({ file: `${snap}.garbage`, engine, dataDir: restoredDir, keyFingerprint: fingerprint })).rejects.toThrow(/not an idv snapshot/)
    const after = await openStore(engine, restoredDir)
    expect(contents(after)).toEqual(before)
    await after.close()
  }, 60_000)
})
