/**
 * The entries of a node's audit log read straight from its segment files
 * (`[u32 length][JSON]` records), independently of src/audit: what the tests
 * compare clients' request ids with. A torn last record is not an entry.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'

export function segmentEntries (logDir: string): Array<Record<string, any>> {
  const segs = join(logDir, 'segments')
  const out: Array<Record<string, any>> = []
  for (const name of readdirSync(segs).sort()) {
    const b = readFileSync(join(segs, name))
    for (let at = 0; at + 4 <= b.length;) {
      const len = b.readUInt32BE(at)
      if (at + 4 + len > b.length) break
      out.push(JSON.parse(b.subarray(at + 4, at + 4 + len).toString('utf8')) as Record<string, any>)
      at += 4 + len
    }
  }
  return out
}

/** The request ids of every entry. */
export function loggedRequestIds (logDir: string): Set<string> {
  return new Set(segmentEntries(logDir).map((e) => e.requestId as string))
}
