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
 * Never throws across the thread: custom errors do not survive structured
 * clone, so failures come back as `{ ok: false, code, message }`, and each
 * item's verdict is a plain ChipResult.
 */
import { loadTrustStore, TrustStoreError, type TrustStore } from '../chip/trust-store.js'
import { verifyChip } from '../chip/verify.js'
import type { ChipInput, ChipResult } from '../chip/types.js'

export interface ChipTaskItem {
  readonly sod: Uint8Array
  /** [data group number, bytes] pairs: Maps clone too, but arrays are what JSON-shaped callers have. */
  readonly dataGroups: ReadonlyArray<readonly [number, Uint8Array]>
}

export interface ChipTask {
  readonly items: readonly ChipTaskItem[]
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
  | { readonly ok: true, readonly results: ChipResult[], readonly trustVersion: number }
  | { readonly ok: false, readonly code: ChipTaskErrorCode, readonly message: string }

let store: TrustStore | undefined
let storeKey = ''

export default function verifyChipTask (task: ChipTask): ChipTaskResult {
  try {
    if (task === null || typeof task !== 'object' || !Array.isArray(task.items) || typeof task.trustDir !== 'string') {
      return { ok: false, code: 'IDV_ERR_BAD_TASK', message: 'task needs items: array and trustDir: string' }
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
    const results = task.items.map(item => verifyChip(toInput(item), store as TrustStore, options))
    return { ok: true, results, trustVersion }
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

