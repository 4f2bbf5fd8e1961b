#!/usr/bin/env node
/**
 * `idv`: the command line. `demo` (what `npm start` runs), `serve`, `load`,
 * `gen` and `keygen`. The only module that calls process.exit.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Command, InvalidArgumentError } from 'commander'
import { SingleBar, Presets } from 'cli-progress'
import { loadConfig, type Config, type ConfigInput } from './config.js'
import { ConfigError } from './errors.js'
import { createHashKey, readHashKey, readOrCreateHashKey } from './hash-key.js'
import { loadFile, type LoadProgress, type LoadSummary } from './load/loader.js'
import { createLogger } from './log.js'
import { generateCitizens, writePopulation } from './population/generate.js'
import { RecordCodec } from './domain/record.js'
import { startService } from './service.js'
import { bindHashKey, openStore } from './store/open.js'
import { NativeUwsUnavailableError } from './http/uws.js'
import type { CitizenRecord } from './domain/citizen.js'

const program = new Command('idv')
  .description('National identity verification: match / no-match per attribute against the population register')
  .showHelpAfterError()
  // Usage errors exit 2, like configuration errors; --help and --version exit 0.
  .exitOverride((err) => { process.exit(err.exitCode === 0 ? 0 : 2) })

const int = (value: string): number => {
  const n = /^\d+$/.test(value) ? Number(value) : NaN
  if (!Number.isSafeInteger(n)) throw new InvalidArgumentError('must be a non-negative integer')
  return n
}
const positiveInt = (value: string): number => {
  const n = int(value)
  if (n === 0) throw new InvalidArgumentError('must be at least 1')
  return n
}

/** Options every command that opens a store shares; their environment variables are in README "Configuration". */
function storeOptions (cmd: Command): Command {
  return cmd
    .option('--data-dir <dir>', 'index directory (IDV_DATA_DIR, default ./data)')
    .option('--store <engine>', 'storage engine: lmdb | native-free (IDV_STORE)')
    .option('--hash-key-file <file>', 'HMAC key file (IDV_HASH_KEY_FILE, default <data-dir>.hash-key)')
    .option('--log-level <level>', 'fatal|error|warn|info|debug|trace|silent (IDV_LOG_LEVEL)')
}

function serveOptions (cmd: Command): Command {
  return storeOptions(cmd)
    .option('--port <n>', 'listen port, 0 for any (IDV_PORT or PORT, default 8080)')
    .option('--host <addr>', 'listen address (IDV_HOST, default 127.0.0.1)')
    .option('--csca-dir <dir>', 'CSCA certificates for /v1/chip/verify (IDV_CSCA_DIR); re-read on SIGHUP or change')
}

function configFrom (opts: Record<string, unknown>): Config {
  const flags: ConfigInput = {
    dataDir: opts.dataDir as string | undefined,
    store: opts.store as string | undefined,
    hashKeyFile: opts.hashKeyFile as string | undefined,
    logLevel: opts.logLevel as string | undefined,
    port: opts.port as string | undefined,
    host: opts.host as string | undefined,
    cscaDir: opts.cscaDir as string | undefined
  }
  return loadConfig(process.env, flags)
}

serveOptions(program.command('serve'))
  .description('serve the API over an existing index')
  .action(async (opts: Record<string, unknown>) => {
    const config = configFrom(opts)
    const log = createLogger(config.logLevel)
    const service = await startService(config, log)
    await service.stopped
    process.exit(0)
  })

serveOptions(program.command('demo'))
  .description('create a demo population in an empty index (first start only), then serve it')
  .action(async (opts: Record<string, unknown>) => {
    const config = configFrom(opts)
    const log = createLogger(config.logLevel)
    const hashKey = readOrCreateHashKey(config.hashKeyFile)
    await ensureDemoPopulation(config, hashKey)
    const service = await startService(config, log, hashKey)
    printDemoBanner(service.url, sampleCitizen(config))
    await service.stopped
    process.exit(0)
  })

storeOptions(program.command('load'))
  .description('bulk-load an NDJSON register extract into the index (idempotent, safe to interrupt)')
  .argument('<file>', 'NDJSON file, one citizen per line')
  .option('--rejects <file>', 'where rejected lines are reported (default <file>.rejects.ndjson)')
  .option('--threads <n>', 'encoding threads (default: one per core)', positiveInt)
  .action(async (file: string, opts: Record<string, unknown>) => {
    const config = configFrom(opts)
    const hashKey = readHashKey(config.hashKeyFile)
    const summary = await runLoad(config, hashKey, file, (opts.rejects as string | undefined) ?? `${file}.rejects.ndjson`, opts.threads as number | undefined)
    process.exit(summary.aborted ? 130 : 0)
  })

program.command('gen')
  .description('write a deterministic synthetic population as NDJSON')
  .requiredOption('--count <n>', 'number of citizens', positiveInt)
  .option('--seed <n>', 'seed (same seed and count give the same file)', int, 1)
  .requiredOption('--out <file>', 'output file')
  .action(async (opts: { count: number, seed: number, out: string }) => {
    const bar = progressBar('{bar} {percentage}% | {value}/{total} citizens | {rate} rec/s | ETA {eta_formatted}')
    const started = performance.now()
    bar.start(opts.count, 0, { rate: 0 })
    const result = await writePopulation({
      count: opts.count,
      seed: opts.seed,
      out: opts.out,
      onProgress: (written) => { bar.update(written, { rate: Math.round(written / ((performance.now() - started) / 1000)) }) }
    })
    bar.stop()
    const seconds = (performance.now() - started) / 1000
    console.log(`wrote ${result.count} citizens (${(result.bytes / 1e6).toFixed(1)} MB) to ${opts.out} in ${seconds.toFixed(1)} s (${Math.round(result.count / seconds)} records/s)`)
  })

program.command('keygen')
  .description('create a new random HMAC key file (mode 0600) for IDV_HASH_KEY_FILE')
  .requiredOption('--out <file>', 'key file to create (never overwritten)')
  .action((opts: { out: string }) => {
    createHashKey(opts.out)
    console.log(`created ${opts.out}; keep it outside the index directory and back it up: without it the index cannot answer`)
  })

function progressBar (format: string): SingleBar {
  return new SingleBar({ format, hideCursor: true, noTTYOutput: !process.stderr.isTTY, notTTYSchedule: 5000, etaBuffer: 50 }, Presets.shades_classic)
}

async function runLoad (config: Config, hashKey: Uint8Array, file: string, rejectFile: string, threads?: number): Promise<LoadSummary> {
  const store = await openStore(config.store, config.dataDir)
  const abort = new AbortController()
  const onSignal = (): void => { abort.abort() }
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)
  const bar = progressBar('{bar} {percentage}% | {mb}/{totalMb} MB | {rate} rec/s | ETA {eta_formatted} | durable {durable} | rejected {rejected}')
  try {
    await bindHashKey(store, new RecordCodec(hashKey))
    bar.start(1, 0, { mb: 0, totalMb: 0, rate: 0, durable: 0, rejected: 0 })
    const show = (p: LoadProgress): void => {
      bar.setTotal(p.totalBytes)
      bar.update(p.bytesRead, {
        mb: (p.bytesRead / 1e6).toFixed(0),
        totalMb: (p.totalBytes / 1e6).toFixed(0),
        rate: Math.round(p.durable / (p.elapsedMs / 1000)),
        durable: p.durable,
        rejected: p.rejected
      })
    }
    const summary = await loadFile({ file, store, hashKey, rejectFile, threads, onProgress: show, signal: abort.signal })
    show(summary)
    bar.stop()
    const stats = store.stats()
    console.log([
      `${summary.aborted ? 'interrupted: ' : ''}loaded ${summary.durable} records (durable) from ${summary.lines} lines in ${(summary.elapsedMs / 1000).toFixed(1)} s: ${Math.round(summary.recordsPerSecond)} records/s`,
      summary.rejected > 0 ? `rejected ${summary.rejected} lines: see ${rejectFile}` : 'rejected 0 lines',
      `index: ${stats.entries} citizens, ${(stats.bytesOnDisk / 1e6).toFixed(1)} MB on disk, ${stats.entries > 0 ? (stats.bytesOnDisk / stats.entries).toFixed(1) : '0'} bytes per citizen`
    ].join('\n'))
    return summary
  } finally {
    bar.stop()
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
    await store.close()
  }
}

/** Fills an empty index with the deterministic demo population; an index that has data is left alone. */
async function ensureDemoPopulation (config: Config, hashKey: Uint8Array): Promise<void> {
  const store = await openStore(config.store, config.dataDir)
  const count = store.count()
  await store.close()
  if (count > 0) return
  const dir = mkdtempSync(join(tmpdir(), 'idv-demo-'))
  try {
    const file = join(dir, 'population.ndjson')
    console.error(`first start: generating ${config.demoCitizens} synthetic citizens (seed ${config.demoSeed}) into ${config.dataDir}`)
    await writePopulation({ count: config.demoCitizens, seed: config.demoSeed, out: file })
    await runLoad(config, hashKey, file, join(dir, 'rejects.ndjson'))
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/** The first active adult with a chip card in the demo population (the generator is deterministic). */
function sampleCitizen (config: Config): CitizenRecord | undefined {
  for (const c of generateCitizens(Math.min(config.demoCitizens, 1000), config.demoSeed)) {
    if (c.status === 'active' && c.cardIssueDate !== undefined) return c
  }
  return undefined
}

function printDemoBanner (url: string, sample: CitizenRecord | undefined): void {
  const lines = [`\nidv is serving at ${url}`, `  API description: ${url}/openapi.json`]
  if (sample !== undefined) {
    const body = JSON.stringify({ pin: sample.pin, attributes: { fullName: sample.fullName, dateOfBirth: sample.dateOfBirth, gender: sample.gender } })
    lines.push(
      `  sample citizen (synthetic): ${sample.pin} ${sample.fullName}, born ${sample.dateOfBirth}, ${sample.gender}`,
      '  try:',
      `    curl -s ${url}/v1/verify -H 'content-type: application/json' -d '${body}'`
    )
  }
  lines.push('  stop with Ctrl-C\n')
  console.log(lines.join('\n'))
}

program.parseAsync().catch((err: unknown) => {
  if (err instanceof ConfigError || err instanceof NativeUwsUnavailableError) {
    console.error(`idv: ${err.message}`)
    process.exit(2)
  }
  console.error(err)
  process.exit(1)
})
