/**
 * What a scenario file in bench/src/scenarios/ says: the request mix and the
 * default traffic shape. The runner (bench/src/run.ts) turns it into server and traffic
 * processes; command-line flags override the defaults.
 */
import { existsSync, readdirSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

/** One class of request, each with the answer class it must get (bench/src/lib/request-pool.ts). */
export type RequestKind =
  | 'verify-match' // active citizen, every attribute right → match
  | 'verify-mismatch' // active citizen, wrong birth date → no match
  | 'verify-unknown' // well-formed PIN nobody holds → citizen unknown
  | 'batch-1000' // /v1/verify/batch, 1,000 items of the three above
  | 'chip-valid' // a genuine chip of a registered citizen → valid, match
  | 'chip-invalid' // tampered DG2 or an untrusted Document Signer → not valid

/**
 * Baselines measured in the same run: `hello` the uWS hello-world
 * (bench/src/lib/baseline-server.ts) and `fastify` Fastify over the same store
 * (bench/src/lib/fastify-server.ts), both under the same load; `raw` the
 * verification work alone, no HTTP, on every core (bench/src/lib/raw-loop.ts).
 * fastify and raw: verify and batch requests only.
 */
export type BaselineName = 'hello' | 'fastify' | 'raw'
export const BASELINE_NAMES: readonly BaselineName[] = ['hello', 'fastify', 'raw']

export interface Scenario {
  readonly name: string
  readonly description: string
  /** Relative weights by request count. */
  readonly mix: Partial<Record<RequestKind, number>>
  readonly connections: number
  /** Requests per second over all connections; 0 = closed loop (each connection sends again on its answer). */
  readonly rate: number
  readonly durationSeconds: number
  /** Traffic after every connection is open and before the measured window. */
  readonly warmupSeconds: number
  readonly citizens: number
  /** Baselines run unless `--baseline` says otherwise (default: hello). */
  readonly baselines?: readonly BaselineName[]
}

const here = dirname(fileURLToPath(import.meta.url))
const scenarioDir = join(here, '..', 'scenarios')
// Compiled scenarios are .js; under vitest (no build step) they are the .ts sources.
const extension = existsSync(join(scenarioDir, 'portal-verify.js')) ? '.js' : '.ts'

export function scenarioNames (): string[] {
  return readdirSync(scenarioDir).filter((f) => f.endsWith(extension) && !f.endsWith('.d.ts')).map((f) => f.slice(0, -extension.length)).sort()
}

export async function loadScenario (name: string): Promise<Scenario> {
  const names = scenarioNames()
  if (!names.includes(name)) throw new Error(`unknown scenario "${name}"; one of: ${names.join(', ')}`)
  const mod = await import(pathToFileURL(join(scenarioDir, name + extension)).href) as { scenario?: Scenario }
  if (mod.scenario?.name !== name) throw new Error(`bench/src/scenarios/${name} must export a scenario named "${name}"`)
  return mod.scenario
}
