/**
 * The storage engine is invisible to callers: one population loaded (by the
 * real loader) into LMDB and into native-free-index, served by two real
 * servers, gives the same answer to every one of 10,000 requests, matches and
 * mismatches alike.
 */
import { randomBytes } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { tempDir } from '../helpers/temp.js'
import fc from 'fast-check'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { loadConfig, type StoreKind } from '../../src/config.js'
import { RecordCodec } from '../../src/domain/record.js'
import { loadFile } from '../../src/bulk-load/loader.js'
import { createLogger } from '../../src/log.js'
import { generateCitizens, toJsonLine } from '../../src/population/generate.js'
import { createServer, type RunningServer } from '../../src/app/server.js'
import { bindHashKey, openStore } from '../../src/store/open.js'
import type { StorageCore } from '../../src/store/types.js'

const hashKey = randomBytes(32)
const citizens = [...generateCitizens(20_000, 77)]
let dir: string
const running: Array<{ server: RunningServer, store: StorageCore, url: string }> = []

beforeAll(async () => {
  dir = tempDir('idv-engines')
  const file = join(dir, 'population.ndjson')
  await writeFile(file, citizens.map(toJsonLine).join('\n') + '\n')
  for (const engine of ['lmdb', 'native-free'] as StoreKind[]) {
    const dataDir = join(dir, engine)
    const store = await openStore(engine, dataDir)
    await bindHashKey(store, new RecordCodec(hashKey))
    const summary = await loadFile({ file, store, hashKey, rejectFile: join(dir, `${engine}.rejects`), workDir: join(dir, `${engine}.load`), threads: 2 })
    expect(summary.durable).toBe(citizens.length)
    const config = loadConfig({}, { port: 0, dataDir, store: engine, logLevel: 'silent', auth: 'none' })
    const server = await createServer(config, { store, hashKey, log: createLogger('silent') })
    running.push({ server, store, url: `http://127.0.0.1:${server.port}` })
  }
}, 120_000)

afterAll(async () => {
  for (const r of running) { await r.server.close(); await r.store.close() }
})

type Variant = 'as registered' | 'date of birth wrong' | 'name in ASCII' | 'unregistered PIN'
/** A request: 60% all-true, 25% one attribute wrong, 10% ASCII names, 5% unregistered PINs. */
const ITEM = fc.tuple(
  fc.nat({ max: citizens.length - 1 }),
  fc.oneof(
    { weight: 60, arbitrary: fc.constant<Variant>('as registered') },
    { weight: 25, arbitrary: fc.constant<Variant>('date of birth wrong') },
    { weight: 10, arbitrary: fc.constant<Variant>('name in ASCII') },
    { weight: 5, arbitrary: fc.constant<Variant>('unregistered PIN') }
  )
).map(([i, variant]) => {
  const c = citizens[i]!
  const attributes: Record<string, string> = { fullName: c.fullName, dateOfBirth: c.dateOfBirth, gender: c.gender }
  if (c.placeOfResidence !== undefined) attributes.placeOfResidence = c.placeOfResidence
  if (c.cardIssueDate !== undefined) attributes.cardIssueDate = c.cardIssueDate
  let pin = c.pin
  if (variant === 'date of birth wrong') attributes.dateOfBirth = '1950-01-01'
  else if (variant === 'name in ASCII') attributes.fullName = c.fullName.normalize('NFD').replace(/\p{M}/gu, '').replace(/đ/g, 'd').replace(/Đ/g, 'D').toUpperCase()
  else if (variant === 'unregistered PIN') pin = `${c.pin.slice(0, 6)}${String((Number(c.pin.slice(6)) + 1) % 1_000_000).padStart(6, '0')}`
  return { pin, attributes }
})

async function batch (url: string, items: unknown[]): Promise<unknown[]> {
  const res = await fetch(`${url}/v1/verify/batch`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ items }) })
  expect(res.status).toBe(200)
  return ((await res.json()) as { results: unknown[] }).results
}

it('LMDB and native-free give identical answers to 10,000 requests', async () => {
  // 10 generated batches of 1,000 requests, each sent to both servers.
  const outcomes: Array<{ match: boolean, citizen: string }> = []
  await fc.assert(fc.asyncProperty(fc.array(ITEM, { minLength: 1000, maxLength: 1000 }), async (items) => {
    const answers: unknown[][] = []
    for (const { url } of running) answers.push(await batch(url, items))
    expect(answers[0]).toHaveLength(items.length)
    expect(answers[1]).toEqual(answers[0])
    outcomes.push(...(answers[0] as Array<{ match: boolean, citizen: string }>))
  }), { numRuns: 10 })
  expect(outcomes).toHaveLength(10_000)
  expect(outcomes.filter((o) => o.match).length).toBeGreaterThan(4000)
  expect(outcomes.filter((o) => !o.match).length).toBeGreaterThan(3000)
  expect(outcomes.filter((o) => o.citizen === 'unknown').length).toBeGreaterThan(100)

  // Single requests too, through the whole single-request path.
  await fc.assert(fc.asyncProperty(ITEM, async (item) => {
    const [a, b] = await Promise.all(running.map(async ({ url }) => {
      const res = await fetch(`${url}/v1/verify`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(item) })
      const { requestId: _, ...rest } = (await res.json()) as Record<string, unknown>
      return rest
    }))
    expect(b).toEqual(a)
  }), { numRuns: 200 })
}, 120_000)
