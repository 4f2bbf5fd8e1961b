/**
 * Starts the real service (uWS on an ephemeral port, a real LMDB index in a
 * temporary directory) with a synthetic population, for integration tests.
 */
import { randomBytes } from 'node:crypto'
import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import { loadConfig, type Config, type ConfigInput } from '../../src/config.js'
import type { CitizenRecord } from '../../src/domain/citizen.js'
import { pinToKey } from '../../src/domain/pin.js'
import { RecordCodec } from '../../src/domain/record.js'
import { createLogger } from '../../src/log.js'
import { generateCitizens } from '../../src/population/generate.js'
import { createServer } from '../../src/app/server.js'
import { bindHashKey, openStore } from '../../src/store/open.js'
import type { StorageCore, StoreEntry } from '../../src/store/types.js'
import { tempDir } from './temp.js'

export interface TestServer {
  readonly url: string
  readonly port: number
  readonly config: Config
  readonly store: StorageCore
  readonly hashKey: Buffer
  /** The citizens in the index (plaintext, for building requests). */
  readonly citizens: readonly CitizenRecord[]
  close (): Promise<void>
}

export interface TestServerOptions {
  readonly citizens?: number
  readonly seed?: number
  readonly extra?: readonly CitizenRecord[]
  readonly config?: ConfigInput
}

/** Writes citizens into a store the way `idv load` does, without worker threads. */
export async function fillStore (store: StorageCore, codec: RecordCodec, citizens: Iterable<CitizenRecord>): Promise<void> {
  let batch: StoreEntry[] = []
  for (const c of citizens) {
    const key = pinToKey(c.pin)
    batch.push({ key, value: codec.encode(key, c) })
    if (batch.length === 10_000) { await store.writeBatch(batch); batch = [] }
  }
  if (batch.length > 0) await store.writeBatch(batch)
}

export async function startTestServer (options: TestServerOptions = {}): Promise<TestServer> {
  // Removed on close, or after the test file if it is never closed.
  const dataDir = tempDir('idv-test')
  // Unsigned unless a test asks for signatures (test/integration/parties.test.ts does).
  // Jobs inside the temporary data directory, so close() removes them too.
  const auditDir = tempDir('idv-audit')
  // The audit log gets its own temporary directory (its default sits beside the data directory, outside it).
  const config = loadConfig({}, { port: 0, dataDir, logLevel: 'silent', auth: 'none', auditDir, auditKeyFile: join(auditDir, 'audit-key'), auditNode: 'test', jobsDir: join(dataDir, 'jobs'), ...options.config })
  const hashKey = randomBytes(32)
  const codec = new RecordCodec(hashKey)
  const store = await openStore(config.store, dataDir)
  await bindHashKey(store, codec)
  const citizens = [...generateCitizens(options.citizens ?? 2000, options.seed ?? 42), ...(options.extra ?? [])]
  await fillStore(store, codec, citizens)
  const server = await createServer(config, { store, hashKey, log: createLogger('silent') })
  return {
    url: `http://127.0.0.1:${server.port}`,
    port: server.port,
    config,
    store,
    hashKey,
    citizens,
    async close () {
      await server.close()
      await store.close()
      await rm(dataDir, { recursive: true, force: true })
      await rm(auditDir, { recursive: true, force: true })
    }
  }
}

export async function postJson (url: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number, headers: Headers, body: any }> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) })
  const text = await res.text()
  return { status: res.status, headers: res.headers, body: text === '' ? undefined : JSON.parse(text) }
}
