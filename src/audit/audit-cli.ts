/**
 * `idv audit verify DIR` and `idv audit watch URL…`.
 *
 * verify recomputes a node's log from its segment files: every record must
 * be a whole entry, segments must follow each other without a gap, each
 * entry's leaf hash must be the one the index stored when it was written (so
 * a flipped byte, a deleted, reordered or inserted entry is named by its
 * index), every checkpoint must carry the node's signature, and the root of
 * the recomputed tree at each checkpoint's size must be the signed one (so
 * even an index rewritten to match is caught, between two checkpoints). A log
 * shorter than its newest checkpoint was truncated.
 *
 * watch polls nodes' checkpoints and checks each new one against the last
 * one it saw from that node with a consistency proof from the node: a
 * rewritten or forked history exits 1 and prints both checkpoints. With
 * --state FILE, what it saw survives restarts (a witness's memory).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { leafHash } from '../merkle/rfc6962.js'
import { verifyConsistency } from '../merkle/proofs.js'
import { RightEdge } from '../merkle/right-edge.js'
import { AuditIndex } from './audit-index.js'
import { CHECKPOINTS_FILE, VERIFIER_KEY_FILE } from './audit-log.js'
import { openCheckpoint, parseVerifierKey, type Checkpoint, type NoteVerifier } from './checkpoint.js'
import { decodeEntry } from './entry.js'
import { listSegments, scanRecords, segmentName } from './segments.js'


export interface AuditOutcome {
  /** 0 verified (or no inconsistency seen), 1 a bad entry or checkpoint, 2 could not check. */
  readonly exitCode: 0 | 1 | 2
  readonly message: string
  /** The first bad entry's index, when one is named. */
  readonly badEntry?: number
}

function verifierFrom (key: string | undefined, dir: string): NoteVerifier | string {
  let text = key
  if (text === undefined) {
    const file = join(dir, VERIFIER_KEY_FILE)
    if (!existsSync(file)) return 'no key to check checkpoints against: give --key (the text of GET /v1/audit/key, or a file holding it)'
    text = readFileSync(file, 'utf8')
  } else if (existsSync(text)) {
    text = readFileSync(text, 'utf8')
  }
  try {
    return parseVerifierKey(text)
  } catch (err) {
    return `the key is not a note verifier key: ${(err as Error).message}`
  }
}

/** Recomputes the log in `dir` (a node's log directory) and checks it against its index and checkpoints. */
export function auditVerifyCommand (o: { readonly dir: string, readonly key?: string | undefined }): AuditOutcome {
  const verifier = verifierFrom(o.key, o.dir)
  if (typeof verifier === 'string') return { exitCode: 2, message: verifier }
  const segDir = join(o.dir, 'segments')
  const starts = listSegments(segDir)
  if (starts.length === 0 && !existsSync(join(o.dir, CHECKPOINTS_FILE))) return { exitCode: 2, message: `${o.dir} holds no audit log (no segments/, no ${CHECKPOINTS_FILE})` }

  // Checkpoints: each must verify; sorted by size.
  const checkpoints: Checkpoint[] = []
  if (existsSync(join(o.dir, CHECKPOINTS_FILE))) {
    const bytes = readFileSync(join(o.dir, CHECKPOINTS_FILE))
    let n = 0
    let bad: string | undefined
    const end = scanRecords(bytes, 0, (note) => {
      n++
      if (bad !== undefined) return
      const opened = openCheckpoint(note.toString('utf8'), verifier)
      if (!opened.ok) bad = `checkpoint ${n} does not verify: ${opened.reason}`
      else checkpoints.push(opened.checkpoint)
    })
    if (bad !== undefined) return { exitCode: 1, message: `BAD: ${bad}` }
    if (end !== bytes.length) return { exitCode: 1, message: `BAD: ${CHECKPOINTS_FILE} ends with ${bytes.length - end} bytes that are not a whole checkpoint` }
  }
  checkpoints.sort((a, b) => a.size - b.size)
  const origin = checkpoints[0]?.origin
  const otherOrigin = checkpoints.find((c) => c.origin !== origin)
  if (otherOrigin !== undefined) return { exitCode: 1, message: `BAD: checkpoints of two logs (${origin ?? ''} and ${otherOrigin.origin})` }

  let index: AuditIndex | undefined
  try {
    index = existsSync(join(o.dir, 'index', 'data.mdb')) ? AuditIndex.open(join(o.dir, 'index'), true) : undefined
  } catch { index = undefined }
  try {
    return recompute(starts, segDir, checkpoints, index)
  } finally {
    void index?.close()
  }
}

function recompute (starts: readonly number[], segDir: string, checkpoints: readonly Checkpoint[], index: AuditIndex | undefined): AuditOutcome {
  const first = starts[0] ?? 0
  let edge: RightEdge
  if (first === 0) edge = new RightEdge()
  else {
    // Retention removed [0, first): the kept right edge of that prefix stands in for it.
    const pieces = RightEdge.pieces(first).map((p) => ({ ...p, hash: index?.hash(p.level, p.index) }))
    if (pieces.some((p) => p.hash === undefined)) return { exitCode: 2, message: `the log starts at entry ${first} and the index lacks the hashes of the removed prefix` }
    edge = new RightEdge(first, pieces as Array<{ level: number, index: number, hash: Buffer }>)
  }
  let cp = 0
  while (cp < checkpoints.length && checkpoints[cp]!.size < first) cp++
  let lastGood = first
  for (const [s, start] of starts.entries()) {
    if (start !== edge.size) {
      return { exitCode: 1, badEntry: Math.min(start, edge.size), message: `BAD: entry ${Math.min(start, edge.size)}: segment ${segmentName(start)} starts at ${start}, but the entries before it end at ${edge.size} (${start > edge.size ? 'entries deleted' : 'entries repeated'})` }
    }
    const bytes = readFileSync(join(segDir, segmentName(start)))
    let bad: AuditOutcome | undefined
    const end = scanRecords(bytes, 0, (entry) => {
      if (bad !== undefined) return
      const i = edge.size
      if (decodeEntry(entry) === undefined) { bad = { exitCode: 1, badEntry: i, message: `BAD: entry ${i} is not an audit entry (its bytes were changed)` }; return }
      const h = leafHash(entry)
      const stored = index?.hash(0, i)
      if (stored !== undefined && !stored.equals(h)) { bad = { exitCode: 1, badEntry: i, message: `BAD: entry ${i} is not the entry written there (changed, deleted, inserted or moved)` }; return }
      edge.append(h)
      while (cp < checkpoints.length && checkpoints[cp]!.size === edge.size) {
        if (!edge.root().equals(checkpoints[cp]!.root)) {
          bad = { exitCode: 1, badEntry: lastGood, message: `BAD: entries ${lastGood} to ${edge.size - 1} do not match the checkpoint of size ${edge.size} (the first bad entry is among them)` }
          return
        }
        lastGood = edge.size
        cp++
      }
    })
    if (bad !== undefined) return bad
    if (end !== bytes.length && s !== starts.length - 1) return { exitCode: 1, badEntry: edge.size, message: `BAD: entry ${edge.size}: segment ${segmentName(start)} ends with a partial record` }
  }
  if (cp < checkpoints.length) {
    const c = checkpoints[checkpoints.length - 1]!
    return { exitCode: 1, badEntry: edge.size, message: `BAD: entry ${edge.size}: the log ends at ${edge.size} entries, but a checkpoint covers ${c.size} (truncated)` }
  }
  const newest = checkpoints[checkpoints.length - 1]
  return { exitCode: 0, message: `OK: ${edge.size - first} entries (${first} to ${edge.size - 1}) and ${checkpoints.length} checkpoints verified${newest === undefined ? '' : `; newest checkpoint: size ${newest.size}, root ${newest.root.toString('base64')}`}` }
}

export interface WatchOptions {
  readonly urls: readonly string[]
  /** Verifier keys (text) to trust; absent: each node's key is fetched once and pinned (trust on first use). */
  readonly keys?: readonly string[] | undefined
  readonly intervalMs: number
  /** Polls before exiting 0 (undefined: forever). */
  readonly polls?: number | undefined
  /** Where the last checkpoint seen of each node is kept between runs. */
  readonly stateFile?: string | undefined
  readonly out: (line: string) => void
}

async function getText (url: string): Promise<string> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5000) })
  const text = await res.text()
  if (res.status !== 200) throw new Error(`${url} answered ${res.status}`)
  return text
}

/** Polls the nodes until an inconsistency (exit 1) or `polls` rounds (exit 0). */
export async function auditWatchCommand (o: WatchOptions): Promise<AuditOutcome> {
  const seen = new Map<string, string>(o.stateFile !== undefined && existsSync(o.stateFile) ? Object.entries(JSON.parse(readFileSync(o.stateFile, 'utf8')) as Record<string, string>) : [])
  const pinned = new Map<string, NoteVerifier>()
  const trusted = (o.keys ?? []).map((k) => parseVerifierKey(k))
  for (let round = 0; o.polls === undefined || round < o.polls; round++) {
    if (round > 0) await new Promise((resolve) => setTimeout(resolve, o.intervalMs))
    for (const base of o.urls) {
      const url = base.replace(/\/+$/, '')
      try {
        let verifier = pinned.get(url)
        if (verifier === undefined) {
          const key = parseVerifierKey(await getText(`${url}/v1/audit/key`))
          if (trusted.length > 0 && !trusted.some((t) => t.name === key.name && t.keyId.equals(key.keyId))) return { exitCode: 1, message: `BAD: ${url} signs with ${key.name}+${key.keyId.toString('hex')}, which is not a trusted key` }
          verifier = trusted.find((t) => t.keyId.equals(key.keyId)) ?? key
          pinned.set(url, verifier)
        }
        const note = await getText(`${url}/v1/audit/checkpoint`)
        const opened = openCheckpoint(note, verifier)
        if (!opened.ok) return { exitCode: 1, message: `BAD: ${url}: the checkpoint does not verify: ${opened.reason}\n${note}` }
        const now = opened.checkpoint
        const lastNote = seen.get(url)
        const last = lastNote === undefined ? undefined : openCheckpoint(lastNote, verifier)
        if (last?.ok === true) {
          const before = last.checkpoint
          const inconsistent = (why: string): AuditOutcome => ({ exitCode: 1, message: `BAD: ${url}: ${why}\n--- last seen\n${before.note}--- now\n${now.note}` })
          if (now.origin !== before.origin) return inconsistent('the origin changed')
          if (now.size < before.size) return inconsistent('the tree shrank')
          if (now.size === before.size && !now.root.equals(before.root)) return inconsistent('two roots for one size (a fork)')
          if (now.size > before.size) {
            const proof = JSON.parse(await getText(`${url}/v1/audit/proof/consistency?first=${before.size}&second=${now.size}`)) as { path: string[] }
            const path = proof.path.map((h) => Buffer.from(h, 'base64'))
            if (!verifyConsistency(before.size, now.size, path, before.root, now.root)) return inconsistent('the new checkpoint is not consistent with the last one')
            o.out(`${url}: size ${before.size} -> ${now.size} consistent`)
          }
        } else {
          o.out(`${url}: first checkpoint seen, size ${now.size}`)
        }
        seen.set(url, now.note)
        if (o.stateFile !== undefined) writeFileSync(o.stateFile, JSON.stringify(Object.fromEntries(seen)))
      } catch (err) {
        o.out(`${url}: not reachable now (${(err as Error).message})`)
      }
    }
  }
  return { exitCode: 0, message: 'no inconsistency seen' }
}
