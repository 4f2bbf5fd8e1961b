/**
 * Applies changes to a node's store, in order, idempotently: one batch of
 * changes is one store transaction that also writes the applied sequence
 * (SEQUENCE_META), conditional on the sequence it started from (ifMeta). So a
 * crash never applies a change twice nor skips one, and a second applier on
 * the same index is refused rather than doubling a change.
 *
 * What a change can meet:
 * - seq at or below the applied one: a redelivery, skipped;
 * - seq above applied + 1: a gap (a change the node never saw); the batch is
 *   applied up to it and the node stops (it must re-bootstrap);
 * - a status change for a PIN the node does not hold, or a malformed message:
 *   refused with its reason and counted, its sequence consumed, nothing of it
 *   written. Every node meets the same changes from the same snapshot, so they
 *   all refuse it alike and stay equal.
 * - a message made with another hash key: the node stops (its answers would
 *   all be mismatches).
 */
import { recordStatus } from '../domain/record.js'
import { SEQUENCE_META } from '../store/open.js'
import type { StorageCore, StoreEntry } from '../store/types.js'
import { decodeChange, OP_DELETE, OP_STATUS, OP_UPSERT } from './wire.js'

export interface Rejected {
  readonly seq: number
  readonly reason: string
}

export interface ApplyResult {
  /** The applied sequence after the batch. */
  readonly applied: number
  /** Changes written (redeliveries and refusals excluded). */
  readonly written: number
  /** Redeliveries skipped. */
  readonly duplicates: number
  /** Changes refused (each consumed, nothing written). */
  readonly rejected: readonly Rejected[]
  /** Why the node must stop applying (a gap, another hash key); the changes before it are applied. */
  readonly stop?: string
}

/** A message as the consumer hands it over: its body and its position in the stream. */
export interface FeedMessage {
  readonly data: Uint8Array
  /** The stream sequence; the producer keeps it equal to the change's seq. */
  readonly streamSeq: number
}

/** The applied sequence an index holds (0 when none). */
export function appliedSequence (store: StorageCore): number {
  const raw = store.getMeta(SEQUENCE_META)
  return raw === undefined ? 0 : Number(Buffer.from(raw).toString('utf8'))
}

export function sequenceMeta (seq: number): Uint8Array {
  return Buffer.from(String(seq), 'utf8')
}

/**
 * Applies `messages` (in stream order) as one transaction. Resolves once the
 * batch and its sequence are durable; rejects with StoreConflictError (nothing
 * written) when another writer moved the applied sequence meanwhile.
 */
export async function applyBatch (store: StorageCore, messages: readonly FeedMessage[], keyTag: Uint8Array): Promise<ApplyResult> {
  const startRaw = store.getMeta(SEQUENCE_META)
  const start = startRaw === undefined ? 0 : Number(Buffer.from(startRaw).toString('utf8'))
  let applied = start
  let duplicates = 0
  let stop: string | undefined
  const rejected: Rejected[] = []
  // The batch's own view of the records it touches: a status change after an upsert in the same batch sees it.
  const pending = new Map<number, Uint8Array | null>()
  const current = (key: number): Uint8Array | null | undefined => pending.has(key) ? pending.get(key) : store.get(key)
  for (const m of messages) {
    if (m.streamSeq <= applied) { duplicates++; continue }
    if (m.streamSeq !== applied + 1) { stop = `gap in the change feed: the node holds changes up to ${applied}, and the next one it received is ${m.streamSeq}`; break }
    const decoded = decodeChange(m.data, keyTag)
    if (!decoded.ok) {
      if (decoded.reason.startsWith('the change was made with another hash key')) { stop = decoded.reason; break }
      rejected.push({ seq: m.streamSeq, reason: decoded.reason })
      applied = m.streamSeq
      continue
    }
    const c = decoded.change
    if (c.seq !== m.streamSeq) { stop = `the change at stream position ${m.streamSeq} says seq ${c.seq}: the stream does not follow the registry's numbering`; break }
    switch (c.op) {
      case OP_UPSERT: pending.set(c.key, c.record); break
      case OP_DELETE: pending.set(c.key, null); break
      case OP_STATUS: {
        const record = current(c.key)
        if (record === undefined || record === null) {
          rejected.push({ seq: c.seq, reason: 'status change for a PIN this registry does not hold' })
          break
        }
        if (recordStatus(record) !== c.status) {
          const next = Uint8Array.from(record)
          next[1] = c.status
          pending.set(c.key, next)
        }
        break
      }
    }
    applied = c.seq
  }
  if (applied !== start) {
    const entries: StoreEntry[] = []
    for (const [key, value] of pending) entries.push({ key, value })
    entries.sort((a, b) => a.key - b.key)
    await store.writeBatch(entries, { [SEQUENCE_META]: sequenceMeta(applied) }, { ifMeta: { name: SEQUENCE_META, value: startRaw } })
  }
  return { applied, written: pending.size, duplicates, rejected, ...(stop === undefined ? {} : { stop }) }
}
