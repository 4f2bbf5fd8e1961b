/**
 * What an index must hold after a change feed, computed the plain way (a Map,
 * one change at a time, records encoded directly) and independently of
 * src/replication/apply.ts, for tests to compare nodes against.
 */
import { pinToKey } from '../../src/domain/pin.js'
import { RecordCodec, STATUS_CODES } from '../../src/domain/record.js'
import type { CitizenRecord, CitizenStatus } from '../../src/domain/citizen.js'
import type { StorageCore } from '../../src/store/types.js'

export function referenceState (hashKey: Uint8Array, lines: readonly string[], start: ReadonlyMap<number, Uint8Array> = new Map()): Map<number, Uint8Array> {
  const codec = new RecordCodec(hashKey)
  const state = new Map(start)
  for (const line of lines) {
    const c = JSON.parse(line) as { op: string, pin?: string, status?: CitizenStatus, citizen?: CitizenRecord }
    if (c.op === 'upsert') {
      const key = pinToKey(c.citizen!.pin)
      state.set(key, codec.encode(key, c.citizen!))
    } else if (c.op === 'delete') {
      state.delete(pinToKey(c.pin!))
    } else {
      const key = pinToKey(c.pin!)
      const record = state.get(key)
      if (record === undefined) continue // unknown PIN: refused, nothing written
      const next = Uint8Array.from(record)
      next[1] = STATUS_CODES[c.status!]
      state.set(key, next)
    }
  }
  return state
}

/** Every record of a store, as a Map of plain copies. */
export function storeState (store: StorageCore): Map<number, Uint8Array> {
  const out = new Map<number, Uint8Array>()
  for (const [key, value] of store.entries()) out.set(key, Uint8Array.from(value))
  return out
}

/** Differences between two states, at most `limit` of them, named by key (for a readable failure). */
export function stateDiff (actual: ReadonlyMap<number, Uint8Array>, expected: ReadonlyMap<number, Uint8Array>, limit = 5): string[] {
  const diffs: string[] = []
  for (const [key, value] of expected) {
    const got = actual.get(key)
    if (got === undefined) diffs.push(`missing ${key}`)
    else if (!Buffer.from(got).equals(Buffer.from(value))) diffs.push(`differs ${key}`)
    if (diffs.length >= limit) return diffs
  }
  for (const key of actual.keys()) {
    if (!expected.has(key)) diffs.push(`extra ${key}`)
    if (diffs.length >= limit) break
  }
  return diffs
}
