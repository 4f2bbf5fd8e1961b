/**
 * A deterministic synthetic change feed for the demo, the tests and the
 * benchmark: births (upserts of new citizens), corrections (upserts of known
 * ones), deaths and revocations (status changes) and removals (deletes), in
 * the proportions a registry sees, as the NDJSON lines `idv publish` reads.
 */
import { generateCitizens } from '../population/generate.js'
import type { CitizenRecord } from '../domain/citizen.js'

export interface SyntheticFeed {
  /** NDJSON change lines, seq from `firstSeq` on. */
  readonly lines: string[]
}

/**
 * `count` changes starting at `firstSeq` over the citizens generateCitizens(pool, seed)
 * makes; the first ones are upserts so that status changes and deletes have
 * someone to apply to.
 */
export function syntheticChanges (count: number, options: { seed?: number, firstSeq?: number, pool?: number } = {}): string[] {
  const seed = options.seed ?? 1
  const pool = options.pool ?? Math.max(16, Math.ceil(count * 0.7))
  const citizens: CitizenRecord[] = [...generateCitizens(pool, seed)]
  let rng = (seed * 2654435761) >>> 0
  const next = (): number => { rng = (Math.imul(rng ^ (rng >>> 15), 2246822507) + 0x9e3779b9) >>> 0; return rng / 2 ** 32 }
  const lines: string[] = []
  let born = 0
  let seq = options.firstSeq ?? 1
  while (lines.length < count) {
    const r = next()
    if (born < citizens.length && (born < 8 || r < 0.7)) {
      lines.push(JSON.stringify({ seq: seq++, op: 'upsert', citizen: citizens[born++] }))
      continue
    }
    const c = citizens[Math.floor(next() * born)]!
    if (r < 0.8) lines.push(JSON.stringify({ seq: seq++, op: 'upsert', citizen: { ...c, placeOfResidence: c.placeOfOrigin ?? 'Hà Nội' } }))
    else if (r < 0.9) lines.push(JSON.stringify({ seq: seq++, op: 'status', pin: c.pin, status: next() < 0.7 ? 'deceased' : 'revoked' }))
    else if (r < 0.97) lines.push(JSON.stringify({ seq: seq++, op: 'status', pin: c.pin, status: 'active' }))
    else lines.push(JSON.stringify({ seq: seq++, op: 'delete', pin: c.pin }))
  }
  return lines
}
