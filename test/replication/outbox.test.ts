/**
 * The producer's outbox: durable appends in sequence, a torn last line (a
 * crash mid-append) dropped on open, pruning that keeps what is still owed
 * and always the last change, damage refused with the line named.
 */
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { Outbox } from '../../src/fleet/outbox.js'
import { tempDir } from '../helpers/temp.js'

const entry = (seq: number): { seq: number, data: Uint8Array } => ({ seq, data: Uint8Array.of(seq & 0xff, 1, 2, 3) })

describe('outbox', () => {
  it('keeps appended changes across reopen, drops a torn last line, prunes what every node applied', () => {
    const dir = tempDir('idv-outbox')
    const box = Outbox.open(dir)
    box.append([entry(1), entry(2), entry(3)])
    expect(() => { box.append([entry(5)]) }).toThrow(/out of order: seq 5, expected 4/)
    box.close()
    appendFileSync(join(dir, 'outbox.log'), '4 AQID') // torn: no newline
    const again = Outbox.open(dir)
    expect(again.entries.map((e) => e.seq)).toEqual([1, 2, 3])
    expect(Buffer.from(again.entries[1]!.data)).toEqual(Buffer.from(entry(2).data))
    expect(readFileSync(join(dir, 'outbox.log'), 'latin1').endsWith('\n')).toBe(true)
    again.append([entry(4)])
    expect(again.prune(2)).toBe(2)
    expect(again.entries.map((e) => e.seq)).toEqual([3, 4])
    // Everything applied: the last change stays, so the outbox still knows where the feed is.
    expect(again.prune(10)).toBe(1)
    expect(again.lastSeq).toBe(4)
    again.append([entry(5)])
    again.close()
    const last = Outbox.open(dir)
    expect(last.entries.map((e) => e.seq)).toEqual([4, 5])
    last.close()
  })

  it('refuses a damaged outbox, naming the line', () => {
    const dir = tempDir('idv-outbox')
    writeFileSync(join(dir, 'outbox.log'), '1 AQID\n3 AQID\n')
    expect(() => Outbox.open(dir)).toThrow(/line 2 holds seq 3 after 1: damaged/)
    writeFileSync(join(dir, 'outbox.log'), 'x AQID\n')
    expect(() => Outbox.open(dir)).toThrow(/line 1 is damaged/)
  })
})
