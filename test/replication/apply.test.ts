/**
 * Applying the feed to a node's store, on both engines: in order, equal to an
 * independently computed reference, idempotent under redelivery, stopped by a
 * gap or another hash key, refusing a status change for an unknown PIN and a
 * malformed change with nothing of them written, and refusing a second writer
 * (the applied sequence is written conditionally, in the same transaction).
 */
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { RecordCodec } from '../../src/domain/record.js'
import { openStore, SEQUENCE_META } from '../../src/store/open.js'
import type { StorageCore } from '../../src/store/types.js'
import { StoreConflictError } from '../../src/store/types.js'
import { applyBatch, appliedSequence, encodeChange, keyTagOf, parseChangeLine, sequenceMeta, type FeedMessage } from '../../src/replication/index.js'
import { syntheticChanges } from '../../src/fleet/synthetic-changes.js'
import { referenceState, stateDiff, storeState } from '../helpers/feed-reference.js'
import { tempDir } from '../helpers/temp.js'

const hashKey = randomBytes(32)
const codec = new RecordCodec(hashKey)
const tag = keyTagOf(hashKey)

function messages (lines: readonly string[]): FeedMessage[] {
  return lines.map((line) => {
    const p = parseChangeLine(line)
    if (!p.ok) throw new Error(p.reason)
    return { data: encodeChange(p.change, codec, tag), streamSeq: p.change.seq }
  })
}

for (const engine of ['lmdb', 'native-free'] as const) {
  describe(`apply on ${engine}`, () => {
    let root: string
    let n = 0
    const open = async (): Promise<StorageCore> => await openStore(engine, join(root, `s${n++}`))
    beforeAll(() => { root = tempDir(`idv-apply-${engine}`) })

    it('applies a feed in batches of any size into exactly the reference state, the sequence with it', async () => {
      const lines = syntheticChanges(2000, { seed: 3 })
      const all = messages(lines)
      // One transaction per change is an fsync each: a shorter feed for batches of one.
      for (const [size, count] of [[1, 150], [13, 2000], [2000, 2000]] as const) {
        const store = await open()
        let refused = 0
        for (let i = 0; i < count; i += size) refused += (await applyBatch(store, all.slice(i, Math.min(i + size, count)), tag)).rejected.length
        expect(appliedSequence(store)).toBe(count)
        expect(stateDiff(storeState(store), referenceState(hashKey, lines.slice(0, count)))).toEqual([])
        // The synthetic feed changes the status of some deleted citizens: refused alike at every batch size.
        if (count === 2000) expect(refused).toBeGreaterThan(0)
        await store.close()
      }
    })

    it('skips redeliveries: applying the same changes again changes nothing', async () => {
      const lines = syntheticChanges(500, { seed: 4 })
      const all = messages(lines)
      const store = await open()
      await applyBatch(store, all.slice(0, 300), tag)
      const again = await applyBatch(store, all.slice(100, 500), tag)
      expect(again.duplicates).toBe(200)
      expect(again.applied).toBe(500)
      const once = await applyBatch(store, all, tag)
      expect(once).toMatchObject({ applied: 500, duplicates: 500, written: 0 })
      expect(stateDiff(storeState(store), referenceState(hashKey, lines))).toEqual([])
      await store.close()
    })

    it('stops at a gap with what came before applied, and at another hash key', async () => {
      const lines = syntheticChanges(20, { seed: 5 })
      const all = messages(lines)
      const store = await open()
      const gap = await applyBatch(store, [...all.slice(0, 5), ...all.slice(6)], tag)
      expect(gap.applied).toBe(5)
      expect(gap.stop).toMatch(/^gap in the change feed: the node holds changes up to 5, and the next one it received is 7/)
      expect(stateDiff(storeState(store), referenceState(hashKey, lines.slice(0, 5)))).toEqual([])
      const sixth = parseChangeLine(lines[5]!)
      if (!sixth.ok) throw new Error(sixth.reason)
      const foreignKey = randomBytes(32)
      const foreign = [{ streamSeq: 6, data: encodeChange(sixth.change, new RecordCodec(foreignKey), keyTagOf(foreignKey)) }]
      const other = await applyBatch(store, foreign, tag)
      expect(other.applied).toBe(5)
      expect(other.stop).toMatch(/another hash key/)
      expect(appliedSequence(store)).toBe(5)
      await store.close()
    })

    it('refuses a status change for an unknown PIN and a malformed change, writes nothing of them, and goes on', async () => {
      const store = await open()
      const lines = syntheticChanges(3, { seed: 6 })
      const unknown = '{"seq":4,"op":"status","pin":"001099012345","status":"deceased"}'
      const all = messages([...lines, unknown])
      const malformed: FeedMessage = { data: Uint8Array.of(1, 1, 0, 0), streamSeq: 5 }
      const after = messages(syntheticChanges(1, { seed: 7, firstSeq: 6 }))
      const result = await applyBatch(store, [...all, malformed, ...after], tag)
      expect(result.applied).toBe(6)
      expect(result.rejected).toEqual([
        { seq: 4, reason: 'status change for a PIN this registry does not hold' },
        { seq: 5, reason: 'malformed change: 4 bytes, shorter than its header' }
      ])
      expect(store.get(1_099_012_345)).toBeUndefined()
      expect(store.count()).toBe(4)
      await store.close()
    })

    it('refuses a batch whose starting sequence another writer moved, with nothing written (ifMeta)', async () => {
      const store = await open()
      const all = messages(syntheticChanges(10, { seed: 8 }))
      await applyBatch(store, all.slice(0, 2), tag)
      // Another applier commits 3..4 between this applier's read and its commit: simulated by a conditional write from the old value.
      await store.writeBatch([], { [SEQUENCE_META]: sequenceMeta(4) }, { ifMeta: { name: SEQUENCE_META, value: sequenceMeta(2) } })
      await expect(store.writeBatch([{ key: 1, value: new Uint8Array(131) }], { [SEQUENCE_META]: sequenceMeta(3) }, { ifMeta: { name: SEQUENCE_META, value: sequenceMeta(2) } }))
        .rejects.toBeInstanceOf(StoreConflictError)
      expect(store.get(1)).toBeUndefined()
      expect(appliedSequence(store)).toBe(4)
      await store.close()
    })
  })
}
