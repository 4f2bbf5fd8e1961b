/**
 * The change feed as the registry writes it: one NDJSON line per change,
 *
 *   {"seq": N, "op": "upsert", "citizen": {…the fields of a load line…}}
 *   {"seq": N, "op": "status", "pin": "…", "status": "active"|"deceased"|"revoked"}
 *   {"seq": N, "op": "delete", "pin": "…"}
 *
 * where `seq` is the registry's sequence number: a positive integer, one more
 * than the change before it (the feed has no holes, so a hole is a lost change).
 * parseChangeLine() validates one line; a refusal carries a reason a data
 * steward can act on and never repeats the personal data itself (it ends up in
 * logs and on the producer's terminal).
 */
import type { CitizenRecord, CitizenStatus } from '../domain/citizen.js'
import { pinToKey } from '../domain/pin.js'
import { isCitizenStatus, parseJsonLine, validateSourceRecord } from '../domain/source-record.js'

export type Change =
  | { readonly seq: number, readonly op: 'upsert', readonly key: number, readonly citizen: CitizenRecord }
  | { readonly seq: number, readonly op: 'status', readonly key: number, readonly status: CitizenStatus }
  | { readonly seq: number, readonly op: 'delete', readonly key: number }

export type ChangeResult =
  | { readonly ok: true, readonly change: Change }
  /** `seq` when the line had a readable one (so a report can name it). */
  | { readonly ok: false, readonly reason: string, readonly seq?: number }

const FIELDS: Readonly<Record<string, ReadonlySet<string>>> = {
  upsert: new Set(['seq', 'op', 'citizen']),
  status: new Set(['seq', 'op', 'pin', 'status']),
  delete: new Set(['seq', 'op', 'pin'])
}
/** Sequence numbers are carried as 8 bytes on the wire and as JSON numbers here: safe integers only. */
export const MAX_SEQ = Number.MAX_SAFE_INTEGER

export function parseChangeLine (line: string): ChangeResult {
  return parseJsonLine(line, validateChange)
}

export function validateChange (value: unknown): ChangeResult {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { ok: false, reason: 'not a JSON object' }
  const c = value as Record<string, unknown>
  if (typeof c.seq !== 'number' || !Number.isSafeInteger(c.seq) || c.seq < 1) return { ok: false, reason: 'seq missing or not a positive integer' }
  const seq = c.seq
  const refuse = (reason: string): ChangeResult => ({ ok: false, reason, seq })
  if (typeof c.op !== 'string' || FIELDS[c.op] === undefined) return refuse('op must be upsert, status or delete')
  const allowed = FIELDS[c.op]!
  for (const name of Object.keys(c)) if (!allowed.has(name)) return refuse(`unknown field ${JSON.stringify(name.slice(0, 40))} for op ${c.op}`)
  switch (c.op) {
    case 'upsert': {
      if (c.citizen === undefined) return refuse('citizen missing')
      const citizen = validateSourceRecord(c.citizen)
      if (!citizen.ok) return refuse(`citizen: ${citizen.reason}`)
      return { ok: true, change: { seq, op: 'upsert', key: citizen.key, citizen: citizen.citizen } }
    }
    case 'status': {
      const key = pinOf(c.pin)
      if (typeof key === 'string') return refuse(key)
      if (!isCitizenStatus(c.status)) return refuse('status must be active, deceased or revoked')
      return { ok: true, change: { seq, op: 'status', key, status: c.status } }
    }
    default: {
      const key = pinOf(c.pin)
      if (typeof key === 'string') return refuse(key)
      return { ok: true, change: { seq, op: 'delete', key } }
    }
  }
}

/** The PIN's key, or why it is refused. */
function pinOf (pin: unknown): number | string {
  if (typeof pin !== 'string') return 'pin missing or not a string'
  const key = pinToKey(pin)
  return key < 0 ? 'pin is not 12 digits with a known province code' : key
}
