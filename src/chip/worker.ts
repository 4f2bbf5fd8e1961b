/**
 * Piscina task for chip passive authentication: verifies a batch of chips
 * against the CSCA trust store.
 *
 * Trust store lifecycle: each worker thread loads the store once and keeps it
 * (with its DS-certificate cache) for as long as the task's trust identity
 * `(trustDir, crlFile, trustVersion)` stays the same. To make workers pick up
 * new CSCAs or a new CRL, the main thread bumps `trustVersion` (e.g. on
 * SIGHUP or a file-watch event); the next task each worker runs reloads.
 * A failed load is not cached, so a fixed directory is picked up by the next
 * task, and a broken one fails closed (no stale store is used under a new
 * version).
 *
 * Chips arrive either packed into one transferred ArrayBuffer (`packed`, what
 * ChipPool sends; see chip-batch.ts) or as structured-cloned `items`.
 *
 * Never throws across the thread: custom errors do not survive structured
 * clone, so failures come back as `{ ok: false, code, message }`, and each
 * item's verdict is a plain ChipResult.
 */
import { loadTrustStore, TrustStoreError, type TrustStore } from './passive-auth/trust-store.js'
import { verifyChip } from './passive-auth/verify.js'
import type { ChipInput, ChipResult } from './passive-auth/types.js'
import { move, transferableSymbol, valueSymbol } from 'piscina'
import { unpackChipBatch, type ChipBatchItem, type PackedChipBatch } from './batch.js'

export type ChipTaskItem = ChipBatchItem

export interface ChipTask {
  /** Exactly one of `items` and `packed`. */
  readonly items?: readonly ChipTaskItem[]
  readonly packed?: PackedChipBatch
  readonly trustDir: string
  readonly crlFile?: string | readonly string[]
  /** Bump to make every worker reload the trust store on its next task. Default 0. */
  readonly trustVersion?: number
  /** Validity-check time (ms since epoch) for SODs without signingTime; default now. */
  readonly nowMs?: number
  /** Passed to VerifyOptions.readDg13 (default true). */
  readonly readDg13?: boolean
}

export type ChipTaskErrorCode = 'IDV_ERR_TRUST_STORE' | 'IDV_ERR_BAD_TASK' | 'IDV_ERR_INTERNAL'

export type ChipTaskResult =
  /**
   * One ChipResult per chip, in order, as JSON text: the main thread parses
   * JSON ~3× faster than it deserialises the same objects from a structured
   * clone, and the main thread is the one that also serves HTTP.
   */
  | {
    readonly ok: true
    readonly resultsJson: string
    readonly trustVersion: number
    /** A packed task's buffer, transferred back for the pool to pack its next batch into. */
    readonly buffer?: ArrayBuffer
  }
  | { readonly ok: false, readonly code: ChipTaskErrorCode, readonly message: string }

let store: TrustStore | undefined
let storeKey = ''

export default function verifyChipTask (task: ChipTask): ChipTaskResult | ReturnType<typeof move> {
  try {
    if (task === null || typeof task !== 'object' || (!Array.isArray(task.items) && task.packed === undefined) || typeof task.trustDir !== 'string') {
      return { ok: false, code: 'IDV_ERR_BAD_TASK', message: 'task needs items: array (or packed) and trustDir: string' }
    }
    let inputs: ChipInput[]
    try {
      inputs = task.packed !== undefined ? unpackChipBatch(task.packed) : (task.items as readonly ChipTaskItem[]).map(toInput)
    } catch (err) {
      return { ok: false, code: 'IDV_ERR_BAD_TASK', message: err instanceof Error ? err.message : String(err) }
    }
    const trustVersion = task.trustVersion ?? 0
    const key = JSON.stringify([task.trustDir, task.crlFile ?? null, trustVersion])
    if (store === undefined || key !== storeKey) {
      store = undefined
      try {
        store = loadTrustStore(task.trustDir, task.crlFile !== undefined ? { crlFiles: task.crlFile } : {})
        storeKey = key
      } catch (err) {
        return { ok: false, code: 'IDV_ERR_TRUST_STORE', message: err instanceof TrustStoreError ? err.message : String(err) }
      }
    }
    const options = {
      ...(task.nowMs !== undefined ? { now: new Date(task.nowMs) } : {}),
      ...(task.readDg13 !== undefined ? { readDg13: task.readDg13 } : {})
    }
    const trust = store
    const results: ChipResult[] = inputs.map(input => verifyChip(input, trust, options))
    const resultsJson = JSON.stringify(results)
    if (task.packed === undefined) return { ok: true, resultsJson, trustVersion }
    // The inputs were views of this buffer; nothing verifyChip keeps refers to it (the SOD templates are copies).
    const buffer = task.packed.buffer
    const done: ChipTaskResult = { ok: true, resultsJson, trustVersion, buffer }
    return move({ [transferableSymbol]: buffer, [valueSymbol]: done })
  } catch (err) {
    return { ok: false, code: 'IDV_ERR_INTERNAL', message: err instanceof Error ? err.message : String(err) }
  }
}

/** Item → ChipInput; a malformed item becomes an input verifyChip answers as malformed, not an exception. */
function toInput (item: ChipTaskItem): ChipInput {
  try {
    return { sod: item.sod, dataGroups: new Map(item.dataGroups) }
  } catch {
    return { sod: item?.sod, dataGroups: undefined as unknown as Map<number, Uint8Array> }
  }
}

