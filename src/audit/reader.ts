/**
 * Reading the audit logs, from any server thread: a citizen's history and a
 * party's usage across every log in the audit directory (this node's, its
 * cluster members', and any other node's copied or replicated there), and the
 * checkpoint and proofs of this node's own log.
 *
 * History pages are merged newest first across logs; the cursor is, per log,
 * the entry index to continue below (opaque base64url JSON to the client).
 */
import { existsSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { consistencyPath, inclusionPath } from '../merkle/proofs.js'
import { AuditIndex, type UsageDay } from './audit-index.js'
import { decodeEntry, type AuditEntry } from './entry.js'
import { listSegments, readRecord, segmentName } from './segments.js'
import { subtreeHashes } from './tree-hashes.js'

interface OpenLog {
  readonly name: string
  readonly dir: string
  readonly index: AuditIndex
  /** Closed by its owner (the writer), not by the reader. */
  readonly borrowed: boolean
  starts: number[]
}

export type HistoryCursor = Record<string, number>

export interface HistoryPage {
  readonly entries: AuditEntry[]
  readonly next: HistoryCursor | undefined
}

export class AuditReader {
  readonly #root: string
  readonly #own: string
  readonly #logs = new Map<string, OpenLog>()
  #scanned = 0

  /** `own`: this node's log name; `borrow`: its index when this thread's writer already opened it. */
  constructor (auditDir: string, own: string, borrow?: AuditIndex) {
    this.#root = auditDir
    this.#own = own
    if (borrow !== undefined) this.#logs.set(own, { name: own, dir: join(auditDir, own), index: borrow, borrowed: true, starts: [] })
  }

  /** Opens logs that appeared since the last look (at most once a second). */
  #refresh (): void {
    const now = Date.now()
    if (now - this.#scanned < 1000) return
    this.#scanned = now
    let names: string[] = []
    try {
      names = readdirSync(this.#root)
    } catch { return }
    for (const name of names) {
      if (this.#logs.has(name)) continue
      const dir = join(this.#root, name)
      if (!existsSync(join(dir, 'index', 'data.mdb'))) continue
      this.#logs.set(name, { name, dir, index: AuditIndex.open(join(dir, 'index')), borrowed: false, starts: [] })
    }
  }

  #ownLog (): OpenLog | undefined {
    this.#refresh()
    return this.#logs.get(this.#own)
  }

  /** The bytes of entry `index` of a log, read where the citizen index says they lie. */
  #read (log: OpenLog, index: number, offset: number, length: number): AuditEntry | undefined {
    // A cached list may miss segments begun since (or keep one retention removed): re-read it for recent entries or a failed read.
    if (log.starts.length === 0 || index >= log.starts[log.starts.length - 1]!) log.starts = listSegments(join(log.dir, 'segments'))
    let start = segmentOf(log.starts, index)
    let bytes = start === undefined ? undefined : readRecord(join(log.dir, 'segments', segmentName(start)), offset, length)
    if (bytes === undefined) {
      log.starts = listSegments(join(log.dir, 'segments'))
      start = segmentOf(log.starts, index)
      bytes = start === undefined ? undefined : readRecord(join(log.dir, 'segments', segmentName(start)), offset, length)
    }
    return bytes === undefined ? undefined : decodeEntry(bytes)
  }

  /** A citizen's entries, newest first, across every log. */
  history (pinHash: Buffer, cursor: HistoryCursor | undefined, limit: number): HistoryPage {
    this.#refresh()
    const candidates: Array<{ log: OpenLog, index: number, time: number, offset: number, length: number }> = []
    for (const log of this.#logs.values()) {
      const before = cursor?.[log.name] ?? Number.MAX_SAFE_INTEGER
      // One more than a page: whether there is a next page.
      for (const p of log.index.pinEntries(pinHash, before, limit + 1)) candidates.push({ log, ...p })
    }
    candidates.sort((a, b) => b.time - a.time || (a.log.name < b.log.name ? 1 : -1) || b.index - a.index)
    const page = candidates.slice(0, limit)
    const entries: AuditEntry[] = []
    for (const c of page) {
      const e = this.#read(c.log, c.index, c.offset, c.length)
      if (e !== undefined) entries.push(e)
    }
    if (candidates.length <= limit) return { entries, next: undefined }
    const next: HistoryCursor = { ...cursor }
    for (const c of page) next[c.log.name] = Math.min(next[c.log.name] ?? Number.MAX_SAFE_INTEGER, c.index)
    return { entries, next }
  }

  /** A party's counts by day across every log. */
  usage (partyId: string, from: string, to: string): UsageDay[] {
    this.#refresh()
    const days = new Map<string, { requests: number, noMatch: number }>()
    for (const log of this.#logs.values()) {
      for (const d of log.index.usageDays(partyId, from, to)) {
        const seen = days.get(d.day) ?? { requests: 0, noMatch: 0 }
        days.set(d.day, { requests: seen.requests + d.requests, noMatch: seen.noMatch + d.noMatch })
      }
    }
    return [...days].sort(([a], [b]) => a < b ? -1 : 1).map(([day, c]) => ({ day, ...c }))
  }

  /** This node's newest checkpoint (a signed note). */
  checkpoint (): string | undefined {
    return this.#ownLog()?.index.checkpoint()
  }

  /** The leaf hash and inclusion path of entry `index` in this node's tree of `size`; undefined when not kept. */
  inclusion (index: number, size: number): { leafHash: Buffer, path: Buffer[] } | undefined {
    const log = this.#ownLog()
    if (log === undefined || size > log.index.state().size || index < log.index.retained()) return undefined
    const hashes = subtreeHashes((l, i) => log.index.hash(l, i))
    try {
      return { leafHash: hashes(index, index + 1), path: inclusionPath(index, size, hashes) }
    } catch {
      return undefined
    }
  }

  /** The consistency proof from this node's tree of `first` to that of `second`; undefined when not kept. */
  consistency (first: number, second: number): Buffer[] | undefined {
    const log = this.#ownLog()
    if (log === undefined || second > log.index.state().size || first < log.index.retained()) return undefined
    try {
      return consistencyPath(first, second, subtreeHashes((l, i) => log.index.hash(l, i)))
    } catch {
      return undefined
    }
  }

  async close (): Promise<void> {
    for (const log of this.#logs.values()) if (!log.borrowed) await log.index.close()
    this.#logs.clear()
  }
}

/** The first index of the segment holding `index`: the last start at or below it. */
function segmentOf (starts: readonly number[], index: number): number | undefined {
  let lo = 0
  let hi = starts.length - 1
  let found: number | undefined
  while (lo <= hi) {
    const mid = (lo + hi) >> 1
    if (starts[mid]! <= index) { found = starts[mid]; lo = mid + 1 } else hi = mid - 1
  }
  return found
}

