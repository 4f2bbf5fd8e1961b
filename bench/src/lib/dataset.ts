/**
 * Benchmark datasets: N synthetic citizens loaded into an index under
 * .bench-data/, built once per (engine, N, seed, record layout) and reused. The hash key is a
 * fixed benchmark key (never a production one).
 */
import { existsSync, mkdirSync, writeFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { loadFile, type LoadSummary } from '../../../dist/src/bulk-load/loader.js'
import { packageRoot } from '../../../dist/src/paths.js'
import { generateCitizens, generatePeople, writePopulation, type CitizenPlaces } from '../../../dist/src/population/generate.js'
import { RECORD_VERSION } from '../../../dist/src/domain/record.js'
import type { CitizenRecord } from '../../../dist/src/domain/citizen.js'
import { openStore } from '../../../dist/src/store/open.js'
import type { StoreKind } from '../../../dist/src/config.js'

export const BENCH_KEY = Buffer.alloc(32, 0x42)

export interface Dataset {
  readonly dataDir: string
  readonly hashKeyFile: string
  readonly citizens: number
  readonly seed: number
  /** Present when this call built the index. */
  readonly load?: LoadSummary
}

export async function ensureDataset (engine: StoreKind, citizens: number, seed = 1, log: (s: string) => void = console.error): Promise<Dataset> {
  const root = join(packageRoot(), '.bench-data')
  // The record layout is in the name: an index (and a population: layout 3 came with real addresses) of another layout is rebuilt.
  const dataDir = join(root, `${engine}-${citizens}-${seed}-layout${RECORD_VERSION}`)
  const hashKeyFile = join(root, 'bench.hash-key')
  mkdirSync(root, { recursive: true })
  if (!existsSync(hashKeyFile)) writeFileSync(hashKeyFile, BENCH_KEY.toString('hex'), { mode: 0o600 })
  if (existsSync(join(dataDir, 'complete'))) return { dataDir, hashKeyFile, citizens, seed }
  rmSync(dataDir, { recursive: true, force: true })
  const file = join(root, `population-${citizens}-${seed}-v${RECORD_VERSION}.ndjson`)
  if (!existsSync(file)) {
    log(`generating ${citizens} citizens → ${file}`)
    await writePopulation({ count: citizens, seed, out: file })
  }
  log(`loading into ${dataDir}`)
  const store = await openStore(engine, dataDir)
  const load = await loadFile({ file, store, hashKey: BENCH_KEY, rejectFile: join(root, 'rejects.ndjson'), workDir: `${dataDir}.load` })
  await store.close()
  writeFileSync(join(dataDir, 'complete'), JSON.stringify(load))
  return { dataDir, hashKeyFile, citizens, seed, load }
}

/** A deterministic sample of the population (the generator is prefix-stable, so the first N are in any larger set). */
export function sampleCitizens (n: number, seed = 1): CitizenRecord[] {
  return [...generateCitizens(n, seed)]
}

/** The same sample with both forms of each citizen's places (the register holds one). */
export function samplePeople (n: number, seed = 1): Array<{ citizen: CitizenRecord, places: CitizenPlaces }> {
  return [...generatePeople(n, seed)]
}
