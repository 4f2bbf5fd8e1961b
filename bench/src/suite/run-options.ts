/**
 * The command line of the SLO suite: the usage text, the options, and what
 * they resolve to before anything starts (the scenario, its traffic shape, the
 * baselines, the sweep, the SLO targets, the flags idv serve gets). A usage
 * error is exit 2, with the usage; `--compare` of two result files is
 * answered here, since it runs nothing.
 */
import { execFileSync } from 'node:child_process'
import { join, resolve as resolvePath } from 'node:path'
import { parseArgs } from 'node:util'
import { packageRoot } from '../../../dist/src/paths.js'
import { RESULTS_DIR, SLO_FILE } from '../lib/bench-paths.js'
import { compareResults, formatComparison, readResult, type ComparableResult } from '../lib/compare.js'
import { BASELINE_NAMES, loadScenario, scenarioNames, type BaselineName, type Scenario } from '../lib/scenario.js'
import { readSloFile, type SloFile } from '../lib/slo.js'
import { CONNECTIONS_PER_PROCESS, resolveShape, type TrafficShape } from './traffic-shape.js'
import { positiveInt, UsageError } from './usage-error.js'

export const USAGE = `usage: npm run bench -- <scenario> [options]
       npm run bench -- --compare EARLIER.json LATER.json   (compare two results, run nothing)
scenarios: ${scenarioNames().join(', ')}
  --duration S        measured seconds (after every connection is open and the warm-up)
  --warmup S          seconds of traffic before the measured window
  --connections N     keep-alive connections in all
  --rate R            requests/s over all connections (0: closed loop)
  --citizens N        population size (built once under .bench-data/)
  --slo FILE          targets (default bench/slo.json)
  --servers N         idv serve processes sharing the port (default: one per ${CONNECTIONS_PER_PROCESS} connections)
  --traffic-processes N
                      processes generating the traffic (default: one per ${CONNECTIONS_PER_PROCESS} connections);
                      --load-processes N, its first name, still works
  --addresses N       loopback addresses 127.0.0.1… (default: as many as server processes)
  --server-threads N  passed to idv serve as --threads (default: the service's own default)
  --baseline LIST     comma list of hello, fastify (under the same load and thread count) and
                      raw (the verification work alone, no HTTP, on all cores), or none
                      (default: the scenario's; portal-verify, chip and mixed hello,fastify; telco-batch hello,raw)
  --capacity on|off   also run every server closed loop (rate 0) for the throughput ratios
                      (default: on when the scenario is paced and a baseline is run)
  --compare FILE      print the change of the main figures against an earlier result JSON
  --sweep             run the service at several offered rates (no baselines) and chart
                      p50/p99/p99.9 against offered load (SVG next to the JSON result)
  --sweep-points LIST percent of capacity per point (default 25,50,75,100,125)
  --sweep-capacity R  capacity in req/s (default: measured by a closed-loop run first)
  --cpu-prof DIR      write a V8 CPU profile of every service thread to DIR (where the time goes)
  --results DIR       where the JSON result goes (default bench/results)`

/** Everything a run needs to know before it starts, resolved from the command line. */
export interface RunOptions {
  readonly scenario: Scenario
  readonly shape: TrafficShape
  readonly slo: SloFile
  /** Flags every idv serve process gets (serveOptions). */
  readonly serveArgs: string[]
  readonly baselines: BaselineName[]
  /** Also run every server closed loop, for the throughput ratios. */
  readonly capacity: boolean
  /** --sweep: percentages of capacity; undefined for a run beside the baselines. */
  readonly sweepPoints?: number[]
  /** --sweep-capacity: the capacity in req/s, else measured closed loop first. */
  readonly sweepCapacity?: number
  readonly helloWorkUs: number
  /** --compare: the earlier result and its file. */
  readonly earlier?: { readonly result: ComparableResult, readonly file: string }
  /** --cpu-prof: where the service threads' V8 profiles go (absolute). */
  readonly cpuProfDir?: string
  readonly resultsDir: string
}

/**
 * The options of a run, or the exit code when there is nothing to run: 0 for
 * --help and for a comparison of two result files, 2 for a usage error.
 */
export async function parseRunOptions (argv: string[], log: (s: string) => void): Promise<RunOptions | number> {
  let parsed
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        duration: { type: 'string' },
        warmup: { type: 'string' },
        connections: { type: 'string' },
        rate: { type: 'string' },
        citizens: { type: 'string' },
        slo: { type: 'string' },
        servers: { type: 'string' },
        'traffic-processes': { type: 'string' },
        'load-processes': { type: 'string' },
        addresses: { type: 'string' },
        'server-threads': { type: 'string' },
        baseline: { type: 'string' },
        capacity: { type: 'string' },
        compare: { type: 'string' },
        sweep: { type: 'boolean' },
        'sweep-points': { type: 'string' },
        'sweep-capacity': { type: 'string' },
        results: { type: 'string' },
        'cpu-prof': { type: 'string' },
        help: { type: 'boolean', short: 'h' }
      }
    })
  } catch (err) {
    log(`${(err as Error).message}\n${USAGE}`)
    return 2
  }
  if (parsed.values.help === true) { console.log(USAGE); return 0 }
  const name = parsed.positionals[0]
  if (name === undefined || parsed.positionals.length > 1) { log(USAGE); return 2 }
  let earlier: ComparableResult | undefined
  if (parsed.values.compare !== undefined) {
    try {
      earlier = readResult(parsed.values.compare)
      if (name.endsWith('.json')) {
        // Two results, nothing to run.
        const later = readResult(name)
        console.log(formatComparison(compareResults(earlier, later, parsed.values.compare), `${name} (${later.git ?? '?'}, ${later.finishedAt ?? '?'})`))
        return 0
      }
    } catch (err) {
      log(`--compare: ${(err as Error).message}`)
      return 2
    }
  }
  const root = packageRoot()
  let scenario: Scenario
  let shape: TrafficShape
  let slo
  let serveArgs: string[]
  let baselines: BaselineName[]
  let capacity: boolean
  let sweepPoints: number[] | undefined
  let sweepCapacity: number | undefined
  let helloWorkUs: number
  try {
    helloWorkUs = helloWorkFromEnv(process.env.HELLO_WORK_US)
    scenario = await loadScenario(name)
    const { help: _help, sweep: _sweep, 'cpu-prof': _cpuProf, ...options } = parsed.values
    shape = resolveShape(scenario, options)
    const chosen = resolveBaselines(parsed.values.baseline, scenario, shape)
    baselines = chosen.baselines
    shape.notes.push(...chosen.notes)
    const c = parsed.values.capacity
    if (c !== undefined && c !== 'on' && c !== 'off') throw new UsageError('--capacity must be on or off')
    capacity = c === undefined ? shape.rate > 0 && baselines.length > 0 : c === 'on'
    if (parsed.values.sweep === true) {
      sweepPoints = parseSweepPoints(parsed.values['sweep-points'])
      if (parsed.values['sweep-capacity'] !== undefined) sweepCapacity = positiveInt('sweep-capacity', parsed.values['sweep-capacity'], 0)
      if (parsed.values.baseline !== undefined && parsed.values.baseline !== 'none') throw new UsageError('--sweep runs the service only: leave out --baseline')
      if (parsed.values.compare !== undefined) throw new UsageError('--sweep and --compare do not go together')
      baselines = []
      capacity = false
    } else if (parsed.values['sweep-points'] !== undefined || parsed.values['sweep-capacity'] !== undefined) {
      throw new UsageError('--sweep-points and --sweep-capacity need --sweep')
    }
    slo = readSloFile(parsed.values.slo ?? SLO_FILE)
    serveArgs = serveOptions(root, shape.serverThreads)
  } catch (err) {
    log(`${(err as Error).message}\n${USAGE}`)
    return 2
  }
  return {
    scenario,
    shape,
    slo,
    serveArgs,
    baselines,
    capacity,
    ...(sweepPoints !== undefined ? { sweepPoints } : {}),
    ...(sweepCapacity !== undefined ? { sweepCapacity } : {}),
    helloWorkUs,
    ...(earlier !== undefined ? { earlier: { result: earlier, file: parsed.values.compare! } } : {}),
    // Node writes one profile per thread when the process exits (the service exits cleanly on SIGTERM).
    ...(parsed.values['cpu-prof'] !== undefined ? { cpuProfDir: resolvePath(parsed.values['cpu-prof']) } : {}),
    resultsDir: parsed.values.results ?? RESULTS_DIR
  }
}

const SERVES_VERIFY_ONLY = new Set(['verify-match', 'verify-mismatch', 'verify-unknown', 'batch-1000'])

/**
 * The baselines to run: `--baseline` (a comma list of hello and fastify, or
 * none), else the scenario's default. Fastify serves verify and batch requests
 * only, and Node 20's HTTP server cannot share a port between processes, so it
 * needs one address per server process: a default that cannot run is dropped
 * with a note, an explicit one is a usage error.
 */
export function resolveBaselines (value: string | undefined, s: Scenario, shape: TrafficShape): { baselines: BaselineName[], notes: string[] } {
  const notes: string[] = []
  const explicit = value !== undefined
  let names: string[]
  if (!explicit) names = [...(s.baselines ?? ['hello'])]
  else if (value === 'none') names = []
  else names = value.split(',').map((n) => n.trim())
  for (const n of names) if (!(BASELINE_NAMES as readonly string[]).includes(n)) throw new UsageError(`--baseline: ${JSON.stringify(n)} is not one of ${BASELINE_NAMES.join(', ')}, none`)
  const baselines = [...new Set(names as BaselineName[])]
  const verifyOnly = !Object.keys(s.mix).some((k) => !SERVES_VERIFY_ONLY.has(k))
  const drop = (name: BaselineName, why: string | undefined): void => {
    if (why === undefined || !baselines.includes(name)) return
    if (explicit) throw new UsageError(`--baseline ${name}: ${why}`)
    baselines.splice(baselines.indexOf(name), 1)
    notes.push(`${name} baseline left out: ${why}`)
  }
  drop('fastify', shape.addresses.length < shape.servers ? `the Fastify baseline needs one address per server process (--addresses ${shape.servers}): Node 20 cannot share a port between processes` : undefined)
  drop('raw', verifyOnly ? undefined : `the raw loop does verify and batch items only, and ${s.name} sends others`)
  return { baselines, notes }
}

export const DEFAULT_SWEEP_POINTS = [25, 50, 75, 100, 125]

/** `--sweep-points`: percentages of capacity, each > 0 and ≤ 1000, in the order given. */
export function parseSweepPoints (v: string | undefined): number[] {
  if (v === undefined) return DEFAULT_SWEEP_POINTS
  const points = v.split(',').map((x) => Number(x.trim()))
  if (points.length === 0 || points.some((p) => !Number.isFinite(p) || p <= 0 || p > 1000)) throw new UsageError(`--sweep-points must be a comma list of percentages (0 < p ≤ 1000), got ${JSON.stringify(v)}`)
  return [...new Set(points)].sort((a, b) => a - b)
}

/** HELLO_WORK_US, the µs of CPU the hello-world burns per request (bench/src/lib/baseline-server.ts); 0 when unset. */
export function helloWorkFromEnv (value: string | undefined): number {
  if (value === undefined || value === '') return 0
  const n = Number(value)
  if (!Number.isFinite(n) || n < 0) throw new UsageError(`HELLO_WORK_US must be a number of microseconds ≥ 0, got ${JSON.stringify(value)}`)
  return n
}

/** `--auth none` (unsigned requests, loopback only) and `--threads` where this build of idv serve has them. */
function serveOptions (root: string, threads: number | undefined): string[] {
  let help = ''
  try { help = execFileSync(process.execPath, [join(root, 'dist', 'src', 'app', 'cli.js'), 'serve', '--help'], { encoding: 'utf8' }) } catch { /* use none */ }
  const options = help.includes('--auth') ? ['--auth', 'none'] : []
  if (threads !== undefined) {
    if (!help.includes('--threads')) throw new UsageError('--server-threads: this build of idv serve has no --threads')
    options.push('--threads', String(threads))
  }
  return options
}
