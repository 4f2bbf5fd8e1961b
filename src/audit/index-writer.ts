/**
 * The audit index's writer, a worker thread of the process that owns the log:
 * LMDB commits of the citizen keys (random keys: a page written per entry)
 * and subtree hashes cost tens of microseconds per entry, so they run here,
 * off the event loop that answers (issue 22: "written off the hot path").
 *
 * Messages are handled in the order they arrive, so a checkpoint published
 * after a batch is committed after it. Batches that arrive together are
 * committed in one transaction. `apply` answers only when it fails; the other
 * operations answer `{ id }` or `{ id, error }`.
 */
import { parentPort, workerData } from 'node:worker_threads'
import { AuditIndex, hashKey, HASH_RECORD_BYTES, PIN_KEY_BYTES, PIN_RECORD_BYTES } from './audit-index.js'

type Apply = Extract<IndexWork, { op: 'apply' }>

export type IndexWork =
  /**
   * A batch's writes, packed so the message is two byte arrays rather than
   * thousands of small objects to clone: `hashes` holds [level u8, index f64,
   * hash 32] records, `pins` [key 24, value 16] records.
   */
  | { readonly op: 'apply', readonly hashes: Uint8Array, readonly pins: Uint8Array, readonly usage: Array<[string, string, number, number]>, readonly state: { size: number, segment: number, offset: number } }
  | { readonly op: 'publish', readonly id: number, readonly note: string }
  /** Removes a sealed segment's citizen keys (`pinKeys`: 24-byte keys back to back) and every subtree hash ending by `next` but the right edge of [0, next). */
  | { readonly op: 'retain', readonly id: number, readonly pinKeys: Uint8Array, readonly before: number, readonly next: number }
  | { readonly op: 'barrier', readonly id: number }
  | { readonly op: 'close', readonly id: number }

export interface IndexReply { readonly id?: number, readonly error?: { readonly code?: string | number, readonly message: string } }

function errorOf (err: unknown): { code?: string | number, message: string } {
  const e = err as { code?: unknown, message?: unknown, commitError?: unknown }
  if (e?.commitError instanceof Promise) e.commitError.catch(() => {})
  return { ...(typeof e?.code === 'string' || typeof e?.code === 'number' ? { code: e.code } : {}), message: typeof e?.message === 'string' ? e.message : String(err) }
}

if (parentPort !== null) {
  const port = parentPort
  const index = AuditIndex.open((workerData as { dir: string }).dir)
  let queued: Apply[] = []
  port.on('message', (m: IndexWork) => {
    if (m.op === 'apply') {
      if (queued.length === 0) setImmediate(flushReporting)
      queued.push(m)
      return
    }
    void handle(m)
  })

  /** Commits every queued batch in one transaction. */
  function flush (): void {
    const batches = queued
    queued = []
    if (batches.length === 0) return
    index.root.transactionSync(() => {
      for (const m of batches) {
        const h = Buffer.from(m.hashes.buffer, m.hashes.byteOffset, m.hashes.byteLength)
        for (let at = 0; at < h.length; at += HASH_RECORD_BYTES) index.hashes.putSync(hashKey(h[at]!, h.readDoubleBE(at + 1)), h.subarray(at + 9, at + HASH_RECORD_BYTES))
        const p = Buffer.from(m.pins.buffer, m.pins.byteOffset, m.pins.byteLength)
        for (let at = 0; at < p.length; at += PIN_RECORD_BYTES) index.pins.putSync(p.subarray(at, at + PIN_KEY_BYTES), p.subarray(at + PIN_KEY_BYTES, at + PIN_RECORD_BYTES))
        for (const [party, day, requests, noMatch] of m.usage) {
          const seen = index.usage.get([party, day])
          index.usage.putSync([party, day], { requests: (seen?.requests ?? 0) + requests, noMatch: (seen?.noMatch ?? 0) + noMatch })
        }
      }
      index.meta.putSync('state', batches[batches.length - 1]!.state)
    })
  }

  function flushReporting (): void {
    try {
      flush()
    } catch (err) {
      port.postMessage({ error: errorOf(err) } satisfies IndexReply)
    }
  }

  async function handle (m: Exclude<IndexWork, Apply>): Promise<void> {
    try {
      // Everything sent before this message is committed first.
      flush()
      switch (m.op) {
        case 'publish':
          // The hashes it covers are on disk before the checkpoint is published.
          await index.sync()
          index.root.transactionSync(() => { index.meta.putSync('checkpoint', m.note) })
          break
        case 'retain':
          await index.sync()
          index.root.transactionSync(() => {
            const keys = Buffer.from(m.pinKeys.buffer, m.pinKeys.byteOffset, m.pinKeys.byteLength)
            for (let at = 0; at < keys.length; at += PIN_KEY_BYTES) index.pins.removeSync(keys.subarray(at, at + PIN_KEY_BYTES))
            for (let level = 0; 2 ** level <= m.next; level++) {
              const span = 2 ** level
              const end = Math.floor(m.next / span)
              const keep = end % 2 === 1 ? end - 1 : -1
              for (let i = Math.max(0, Math.floor(m.before / span) - 1); i < end; i++) if (i !== keep) index.hashes.removeSync(hashKey(level, i))
            }
            index.meta.putSync('retained', m.next)
          })
          break
        case 'barrier':
          break
        case 'close':
          await index.sync()
          await index.close()
          break
      }
      port.postMessage({ id: m.id } satisfies IndexReply)
    } catch (err) {
      port.postMessage({ ...('id' in m ? { id: m.id } : {}), error: errorOf(err) } satisfies IndexReply)
    }
  }
}
