/**
 * The producer's outbox: every change it publishes, made durable on its own
 * disk before it is published, and kept until every registered node reports it
 * applied. JetStream's acknowledgement is not trusted as the only copy: Debian's
 * nats-server 2.9 syncs its files every 60 s by default, and Jepsen's 2025
 * analysis found acknowledged writes lost after crashes. Whatever the stream
 * lost, the producer publishes again from here.
 *
 * One file, `outbox.log`, one line per change: `<seq> <base64 of the encoded
 * change>` (src/replication/wire.ts: keyed hashes, no plaintext). Appends are
 * fsynced before the changes are published; a torn last line (a crash in the
 * middle of an append) is dropped on open, since it was never published.
 * Pruning rewrites the file atomically with what is still owed.
 */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { writeFileAtomic } from '../files/atomic-file.js'

export interface OutboxEntry {
  readonly seq: number
  readonly data: Uint8Array
}

export class Outbox {
  readonly file: string
  readonly #entries: OutboxEntry[]
  #fd: number

  private constructor (file: string, entries: OutboxEntry[]) {
    this.file = file
    this.#entries = entries
    this.#fd = openSync(file, 'a', 0o600)
  }

  /** Opens (creating) the outbox in `dir`; drops a torn last line. */
  static open (dir: string): Outbox {
    mkdirSync(dir, { recursive: true, mode: 0o700 })
    const file = join(dir, 'outbox.log')
    const entries: OutboxEntry[] = []
    if (existsSync(file)) {
      const text = readFileSync(file, 'latin1')
      const lines = text.split('\n')
      // The last piece is '' after a complete file; anything else was torn by a crash mid-append.
      const torn = lines.pop() !== ''
      for (const [i, line] of lines.entries()) {
        const space = line.indexOf(' ')
        const seq = Number(line.slice(0, space))
        if (space < 1 || !Number.isSafeInteger(seq) || seq < 1) throw new Error(`${file} line ${i + 1} is damaged: not "<seq> <base64>"`)
        const prev = entries[entries.length - 1]
        if (prev !== undefined && seq !== prev.seq + 1) throw new Error(`${file} line ${i + 1} holds seq ${seq} after ${prev.seq}: damaged`)
        entries.push({ seq, data: Buffer.from(line.slice(space + 1), 'base64') })
      }
      if (torn) writeFileAtomic(file, entries.map(line).join(''), 0o600)
    }
    return new Outbox(file, entries)
  }

  /** Changes owed to the fleet, oldest first. */
  get entries (): readonly OutboxEntry[] {
    return this.#entries
  }

  /** The last seq in the outbox, or 0. */
  get lastSeq (): number {
    return this.#entries[this.#entries.length - 1]?.seq ?? 0
  }

  /** Appends changes (seq must follow on) and makes them durable before returning. */
  append (batch: readonly OutboxEntry[]): void {
    if (batch.length === 0) return
    let expected = this.lastSeq === 0 ? batch[0]!.seq : this.lastSeq + 1
    for (const e of batch) {
      if (e.seq !== expected) throw new Error(`outbox append out of order: seq ${e.seq}, expected ${expected}`)
      expected++
    }
    const bytes = Buffer.from(batch.map(line).join(''), 'latin1')
    let off = 0
    while (off < bytes.length) off += writeSync(this.#fd, bytes, off, bytes.length - off)
    fsyncSync(this.#fd)
    this.#entries.push(...batch)
  }

  /**
   * Drops the changes every registered node has applied (seq ≤ applied); answers
   * how many. The last change stays, so the outbox always knows the last seq it
   * published, whatever the stream kept.
   */
  prune (applied: number): number {
    let n = 0
    while (n < this.#entries.length - 1 && this.#entries[n]!.seq <= applied) n++
    if (n === 0) return 0
    this.#entries.splice(0, n)
    closeSync(this.#fd)
    writeFileAtomic(this.file, this.#entries.map(line).join(''), 0o600)
    this.#fd = openSync(this.file, 'a', 0o600)
    return n
  }

  close (): void {
    closeSync(this.#fd)
  }
}

function line (e: OutboxEntry): string {
  return `${e.seq} ${Buffer.from(e.data).toString('base64')}\n`
}
