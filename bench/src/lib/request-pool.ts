/**
 * The prebuilt requests of a scenario, written once to a JSON file that every
 * traffic process reads: raw HTTP/1.1 keep-alive requests, each with the text its
 * answer must contain (its expected class), and one shared, shuffled order in
 * which the mix's weights hold over any 1,000 consecutive requests.
 *
 * Chips are made with the test PKI (chip-test-pki/src/index.ts) for citizens of
 * the benchmark population, so a valid chip also matches the register; its
 * CSCA directory is what the servers get as --csca-dir.
 */
import { rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { CitizenRecord } from '../../../dist/src/domain/citizen.js'
import { createTestPki, makeChip, prng, type TestChip, type TestCitizen } from 'chip-test-pki'
import { sampleCitizens } from './dataset.js'
import type { RequestPoolFile, RequestTemplate } from './traffic-worker.js'
import { rawPost } from './paced-client.js'
import type { RequestKind } from './scenario.js'

/** What the first 512 bytes of a 2xx answer must contain, per kind. */
export const EXPECTED: Readonly<Record<RequestKind, string>> = {
  'verify-match': '"match":true,"citizen":"active"',
  'verify-mismatch': '"match":false,"citizen":"active"',
  'verify-unknown': '"match":false,"citizen":"unknown"',
  'batch-1000': '"results":[{"match":',
  'chip-valid': '"match":true,"valid":true',
  'chip-invalid': '"match":false,"valid":false'
}

/** Citizens' records each request verifies, per kind (for verified records per second). */
export const RECORDS_PER_REQUEST: Readonly<Record<RequestKind, number>> = {
  'verify-match': 1,
  'verify-mismatch': 1,
  'verify-unknown': 1,
  'batch-1000': 1000,
  'chip-valid': 1,
  'chip-invalid': 1
}

const ORDER_LENGTH = 1000

export interface BuiltPool {
  readonly file: string
  readonly templates: number
  /** Trust store for /v1/chip/verify, when the mix has chips. */
  readonly cscaDir?: string
  cleanup (): void
}

type VerifyItem = { pin: string, attributes: Record<string, string> }

/** An unregistered PIN: same province, century and year, other random digits (the population holds 1 in 10^6 of them). */
function unknownPin (pin: string): string {
  return `${pin.slice(0, 6)}${String((Number(pin.slice(6)) + 500_000) % 1_000_000).padStart(6, '0')}`
}

function verifyItem (c: CitizenRecord, kind: 'verify-match' | 'verify-mismatch' | 'verify-unknown'): VerifyItem {
  const pin = kind === 'verify-unknown' ? unknownPin(c.pin) : c.pin
  const dateOfBirth = kind === 'verify-mismatch' ? (c.dateOfBirth === '1900-01-01' ? '1900-01-02' : '1900-01-01') : c.dateOfBirth
  return { pin, attributes: { fullName: c.fullName, dateOfBirth, gender: c.gender } }
}

function chipBody (chip: TestChip): string {
  const dataGroups: Record<string, string> = {}
  for (const [n, bytes] of chip.dataGroups) dataGroups[String(n)] = Buffer.from(bytes).toString('base64')
  return JSON.stringify({ sod: Buffer.from(chip.sod).toString('base64'), dataGroups })
}

export function buildRequestPool (mix: Partial<Record<RequestKind, number>>, citizens: number, dir: string): BuiltPool {
  const active = sampleCitizens(Math.min(citizens, 4000)).filter((c) => c.status === 'active')
  const carded = active.filter((c) => c.cardExpiryDate !== undefined)
  const kinds = (Object.keys(mix) as RequestKind[]).filter((k) => (mix[k] ?? 0) > 0)
  const templates: RequestTemplate[] = []
  const byKind = new Map<RequestKind, number[]>()
  const add = (kind: RequestKind, path: string, body: string): void => {
    if (!byKind.has(kind)) byKind.set(kind, [])
    byKind.get(kind)!.push(templates.length)
    templates.push({ kind, expect: EXPECTED[kind], raw: rawPost(path, body).toString('base64') })
  }
  let pkiDir: string | undefined
  let cscaDir: string | undefined
  for (const kind of kinds) {
    if (kind === 'verify-match' || kind === 'verify-mismatch' || kind === 'verify-unknown') {
      for (const c of active.slice(0, 1000)) add(kind, '/v1/verify', JSON.stringify(verifyItem(c, kind)))
    } else if (kind === 'batch-1000') {
      const random = prng(7)
      for (let b = 0; b < 4; b++) {
        const items = Array.from({ length: 1000 }, (_, i) => {
          const r = random()
          return verifyItem(active[(b * 1000 + i) % active.length]!, r < 0.7 ? 'verify-match' : r < 0.9 ? 'verify-mismatch' : 'verify-unknown')
        })
        add(kind, '/v1/verify/batch', JSON.stringify({ items }))
      }
    } else {
      if (pkiDir === undefined) {
        const pki = createTestPki()
        pkiDir = pki.workDir
        cscaDir = pki.trustDir
        const holders: TestCitizen[] = carded.slice(0, 16).map((c) => ({ pin: c.pin, fullName: c.fullName, dateOfBirth: c.dateOfBirth, gender: c.gender, expiry: c.cardExpiryDate ?? null }))
        for (const [i, citizen] of holders.entries()) {
          const ds = pki.ds[i % 2 === 0 ? 'ecdsa' : 'rsa']
          if (kinds.includes('chip-valid')) add('chip-valid', '/v1/chip/verify', chipBody(makeChip({ citizen, ds })))
          if (kinds.includes('chip-invalid') && i < 8) {
            add('chip-invalid', '/v1/chip/verify', chipBody(i % 2 === 0 ? makeChip({ citizen, ds, tamperDg: 2 }) : makeChip({ citizen, ds: pki.rogueDs })))
          }
        }
      }
    }
  }
  const order = mixOrder(mix, byKind)
  const file = join(dir, 'requests.json')
  const pool: RequestPoolFile = { templates, order }
  writeFileSync(file, JSON.stringify(pool))
  return {
    file,
    templates: templates.length,
    ...(cscaDir !== undefined ? { cscaDir } : {}),
    cleanup () { if (pkiDir !== undefined) rmSync(pkiDir, { recursive: true, force: true }) }
  }
}

/** ORDER_LENGTH template indices in the mix's proportions (each kind at least once), shuffled with a fixed seed. */
export function mixOrder (mix: Partial<Record<RequestKind, number>>, byKind: ReadonlyMap<RequestKind, readonly number[]>): number[] {
  const total = [...byKind.keys()].reduce((s, k) => s + (mix[k] ?? 0), 0)
  const order: number[] = []
  for (const [kind, indices] of byKind) {
    const count = Math.max(1, Math.round(((mix[kind] ?? 0) / total) * ORDER_LENGTH))
    for (let i = 0; i < count; i++) order.push(indices[i % indices.length]!)
  }
  const random = prng(1)
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1))
    const t = order[i]!; order[i] = order[j]!; order[j] = t
  }
  return order
}
