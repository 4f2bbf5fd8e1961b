#!/usr/bin/env node
/**
 * `idv`: the command line. `demo` (what `npm start` runs), `serve`, `load`,
 * `gen`, `keygen`, `party` (the relying-party registry), `call` (a signed
 * request) and `receipt` (check a signed answer, rotate the signing key).
 * The benchmarks are a package of their own (bench/, `npm run bench --`).
 * The only module that calls process.exit.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, relative } from 'node:path'
import { Command, InvalidArgumentError } from 'commander'
import { SingleBar, Presets } from 'cli-progress'
import { ENV_NAMES, SETTING_HELP, flagName, loadConfig, type Config, type ConfigInput } from '../config.js'
import { ConfigError, UsageError } from '../errors.js'
import { describeError } from './cli-errors.js'
import { describeContent } from '../bulk-load/sniff.js'
import { createHashKey, readHashKey, readOrCreateHashKey } from '../files/hash-key-file.js'
import { loadFile, type LoadProgress, type LoadSummary } from '../bulk-load/loader.js'
import { createLogger, type Logger } from '../log.js'
import { generatePeople, writePopulation } from '../population/generate.js'
import { RecordCodec } from '../domain/record.js'
import { startService } from './service.js'
import { joinCluster, memberConfig, superviseCluster } from './cluster.js'
import { bindHashKey, openStore } from '../store/open.js'
import type { CitizenRecord } from '../domain/citizen.js'
import { ensureDemoParty, type DemoParty } from '../parties/demo-party.js'
import { ReceiptKeyRing, receiptVerifyCommand } from '../receipts/index.js'
import { formatPartyList, generatedSecretFile, partyAdd, partyDisable, partyEnable, partyList, partyRotateKey, type KeySource } from '../parties/party-cli.js'
import { call, qrBody } from '../client/call.js'

const program = new Command('idv')
  .description('National identity verification: match / no-match per attribute against the population register')
  .showHelpAfterError()
  .option('--debug', 'on failure, print the stack trace as well as the one-line reason')
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

/** Settings every command that opens a store shares; every setting's flag and variable are in README "Configuration". */
const STORE_SETTINGS = ['dataDir', 'store', 'hashKeyFile', 'logLevel'] as const satisfies ReadonlyArray<keyof Config>
/** Settings that are switches: a flag without a value turns them on. */
const SWITCHES = new Set<keyof Config>(['allowEmpty', 'reusePort'])

function settingOptions (cmd: Command, names: ReadonlyArray<keyof Config>): Command {
  for (const name of names) {
    const help = `${SETTING_HELP[name]} (${ENV_NAMES[name]})`
    cmd.option(SWITCHES.has(name) ? flagName(name) : `${flagName(name)} <value>`, help)
  }
  return cmd
}

const storeOptions = (cmd: Command): Command => settingOptions(cmd, STORE_SETTINGS)
/** `serve` and `demo` take every setting as a flag. */
const serveOptions = (cmd: Command): Command => settingOptions(cmd, Object.keys(ENV_NAMES) as Array<keyof Config>)

/** Flags override the environment; commander names each option as the setting's camelCase name. */
function configFrom (opts: Record<string, unknown>): Config {
  const flags: Record<string, string | boolean | undefined> = {}
  for (const name of Object.keys(ENV_NAMES)) {
    const value = opts[name]
    if (typeof value === 'string' || typeof value === 'boolean') flags[name] = value
  }
  return loadConfig(process.env, flags as ConfigInput)
}

serveOptions(program.command('serve'))
  .description('serve the API over an existing index')
  .action(async (opts: Record<string, unknown>) => {
    const config = configFrom(opts)
    const log = createLogger(config.logLevel)
    const member = await serveClusterMember(config, log)
    if (member !== undefined) process.exit(member)
    if (config.processes > 1) process.exit(await superviseCluster(config, log))
    const service = await startService(config, log)
    await service.stopped
    process.exit(0)
  })

serveOptions(program.command('demo'))
  .description('create a demo population in an empty index (first start only), then serve it')
  .action(async (opts: Record<string, unknown>) => {
    const config = configFrom(opts)
    const log = createLogger(config.logLevel)
    const member = await serveClusterMember(config, log) // the supervisor prepared the demo
    if (member !== undefined) process.exit(member)
    const hashKey = readOrCreateHashKey(config.hashKeyFile)
    await ensureDemoPopulation(config, hashKey)
    const party = config.auth === 'signatures' ? ensureDemoParty(config) : undefined
    if (config.auth === 'signatures' && config.receipts) ReceiptKeyRing.loadOrCreate(config.receiptKeyFile)
    const banner = (url: string): void => { printDemoBanner(url, sampleCitizen(config), party) }
    if (config.processes > 1) process.exit(await superviseCluster(config, log, banner))
    const service = await startService(config, log, hashKey)
    banner(service.url)
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
    if (!statSync(file).isFile()) throw new UsageError(`${file} is not a regular file`)
    const summary = await runLoad(config, hashKey, file, (opts.rejects as string | undefined) ?? `${file}.rejects.ndjson`, opts.threads as number | undefined)
    if (summary.aborted) process.exit(130)
    if (summary.durable === 0) {
      // Exit 0 here would let a script go on with an empty index.
      console.error(`idv: nothing loaded from ${file}: ${describeContent(file)}`)
      process.exit(1)
    }
    process.exit(0)
  })

program.command('gen')
  .description('write a deterministic synthetic population as NDJSON')
  .requiredOption('--count <n>', 'number of citizens', positiveInt)
  .option('--seed <n>', 'seed (same seed and count give the same file)', int, 1)
  .requiredOption('--out <file>', 'output file (never overwritten)')
  .action(async (opts: { count: number, seed: number, out: string }) => {
    if (existsSync(opts.out)) throw new UsageError(`${opts.out} already exists and is never overwritten: choose another --out or remove it first`)
    if (!existsSync(dirname(opts.out))) throw new UsageError(`the directory ${dirname(opts.out)} does not exist: create it first, or choose another --out`)
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
  .requiredOption('--out <file>', 'key file to create (never overwritten; its directory must exist)')
  .action((opts: { out: string }) => {
    createHashKey(opts.out)
    console.log(`created ${opts.out}; keep it outside the index directory and back it up: without it the index cannot answer`)
  })

/** Options of the commands that edit or read the party registry. */
function partyFileOptions (cmd: Command): Command {
  return cmd
    .option('--parties-file <file>', 'relying-party registry (IDV_PARTIES_FILE, default <data-dir>.parties.yaml)')
    .option('--data-dir <dir>', 'index directory the default registry sits beside (IDV_DATA_DIR)')
}

function keyOptions (cmd: Command): Command {
  return cmd
    .option('--public-key <file>', 'SPKI PEM public key, Ed25519 or ECDSA P-256')
    .option('--hmac-secret-file <file>', 'HMAC-SHA-256 shared secret: a file of at least 64 hex characters, mode 0600')
    .option('--key-id <id>', 'keyid the party signs with (default <party id>-<UTC time>)')
    .option('--hash-key-file <file>', 'the index\'s hash key, which --hmac-secret-file must not be (IDV_HASH_KEY_FILE, default <data-dir>.hash-key)')
}

const list = (value: string): string[] => value.split(',').map((v) => v.trim()).filter((v) => v !== '')

const party = program.command('party').description('manage relying parties (the running service picks up changes by itself)')

keyOptions(partyFileOptions(party.command('add')))
  .description('register a relying party with one key')
  .requiredOption('--id <id>', 'party id')
  .option('--name <name>', 'display name (default: the id)')
  .requiredOption('--attributes <list>', 'attributes it may ask about, comma-separated (fullName,dateOfBirth,...)', list)
  .requiredOption('--rate <n>', 'sustained requests per second', positiveInt)
  .option('--burst <n>', 'requests at once after a quiet period (default 2 × rate)', positiveInt)
  .option('--daily-quota <n>', 'verifications per day (a batch counts its items)', positiveInt)
  .option('--endpoints <list>', 'endpoints it may call (default all: /v1/verify,/v1/verify/batch,/v1/chip/verify,/v1/card/qr/verify)', list)
  .option('--max-batch <n>', 'items per batch (default 1000)', positiveInt)
  .option('--overall-only', 'answer it with the overall match only, no per-attribute results')
  .option('--exact-addresses', 'compare its addresses as the same units only: one written in the pre-2025 units is a mismatch, never match_reorganised')
  .option('--hmac', 'generate its HMAC-SHA-256 secret (mode 0600, beside the registry, never overwritten) instead of --public-key or --hmac-secret-file')
  .action((opts: Record<string, unknown>) => {
    const file = partiesFileFrom(opts)
    const added = partyAdd({
      file,
      id: opts.id as string,
      name: (opts.name as string | undefined) ?? (opts.id as string),
      attributes: opts.attributes as string[],
      rate: opts.rate as number,
      burst: opts.burst as number | undefined,
      dailyQuota: opts.dailyQuota as number | undefined,
      endpoints: opts.endpoints as string[] | undefined,
      maxBatchItems: opts.maxBatch as number | undefined,
      overallOnly: opts.overallOnly as boolean | undefined,
      exactAddresses: opts.exactAddresses as boolean | undefined,
      hmac: opts.hmac as boolean | undefined,
      ...keySource(opts)
    })
    console.log(`added party ${added.id} with key ${added.keys[0]?.keyId ?? ''} to ${file}`)
    if (opts.hmac === true) {
      console.log(`its HMAC-SHA-256 secret is in ${generatedSecretFile(file, added.id)} (mode 0600): hand it to the party over a secure channel; it signs with --key-id ${added.keys[0]?.keyId ?? ''}`)
    }
  })

partyFileOptions(party.command('list'))
  .description('list relying parties')
  .action((opts: Record<string, unknown>) => { process.stdout.write(formatPartyList(partyList(partiesFileFrom(opts)))) })

partyFileOptions(party.command('disable'))
  .description('refuse a party\'s requests (403) from now on')
  .argument('<id>')
  .action((id: string, opts: Record<string, unknown>) => { partyDisable(partiesFileFrom(opts), id); console.log(`disabled ${id}`) })

partyFileOptions(party.command('enable'))
  .description('accept a disabled party again')
  .argument('<id>')
  .action((id: string, opts: Record<string, unknown>) => { partyEnable(partiesFileFrom(opts), id); console.log(`enabled ${id}`) })

keyOptions(partyFileOptions(party.command('rotate-key')))
  .description('add a new key; the party\'s other keys stay valid for the overlap, then are refused')
  .argument('<id>')
  .option('--overlap-seconds <n>', 'how long the old keys stay valid (default 86400)', int)
  .action((id: string, opts: Record<string, unknown>) => {
    const file = partiesFileFrom(opts)
    const updated = partyRotateKey({ file, id, overlapSeconds: opts.overlapSeconds as number | undefined, ...keySource(opts) })
    console.log(`party ${id} now signs with ${updated.keys[updated.keys.length - 1]?.keyId ?? ''}`)
  })

function partiesFileFrom (opts: Record<string, unknown>): string {
  return loadConfig(process.env, { partiesFile: opts.partiesFile as string | undefined, dataDir: opts.dataDir as string | undefined }).partiesFile
}

function keySource (opts: Record<string, unknown>): KeySource {
  // The index's hash key, which a party's HMAC secret must never be.
  const hashKeyFile = loadConfig(process.env, { dataDir: opts.dataDir as string | undefined, hashKeyFile: opts.hashKeyFile as string | undefined }).hashKeyFile
  return { publicKey: opts.publicKey as string | undefined, hmacSecretFile: opts.hmacSecretFile as string | undefined, keyId: opts.keyId as string | undefined, hashKeyFile }
}

program.command('call')
  .description('send one request signed with HTTP Message Signatures (RFC 9421) and print the answer')
  .argument('<path>', 'e.g. /v1/verify or /v1/card/qr/verify (a path on --url, not a whole URL)')
  .argument('[json]', 'request body (JSON); - reads it from standard input')
  .option('--qr <text>', 'instead of a JSON body: the string scanned from a card\'s QR code, sent as {"qr": "…"} (- reads it from standard input)')
  .requiredOption('--key-id <id>', 'the keyid registered for your party')
  .requiredOption('--key <file>', 'PKCS#8 PEM private key (Ed25519, ECDSA P-256) or HMAC secret (hex)')
  .option('--url <url>', 'service base URL', 'http://127.0.0.1:8080')
  .option('--method <method>', 'HTTP method (default POST with a body, GET without)')
  .option('--timeout <seconds>', 'give up after this long without a whole answer', positiveInt, 30)
  .option('--save <file>', 'also write the answer to this file (for `idv receipt verify`)')
  .action(async (path: string, json: string | undefined, opts: Record<string, unknown>) => {
    if (opts.qr !== undefined && json !== undefined) throw new UsageError('give either --qr or a JSON body, not both')
    const body = opts.qr !== undefined ? qrBody(opts.qr === '-' ? readFileSync(0, 'utf8') : opts.qr as string) : json === '-' ? readFileSync(0, 'utf8') : json ?? ''
    const result = await call({
      url: opts.url as string,
      keyId: opts.keyId as string,
      keyFile: opts.key as string,
      method: (opts.method as string | undefined) ?? (body === '' ? 'GET' : 'POST'),
      path,
      body,
      timeoutMs: (opts.timeout as number) * 1000
    })
    // Printed before saving: the answer was given (and counted against the quota) whether or not the file can be written.
    console.log(result.contentType.includes('json') ? JSON.stringify(JSON.parse(result.body), null, 2) : result.body)
    if (opts.save !== undefined) {
      try {
        writeFileSync(opts.save as string, result.body)
      } catch (err) {
        console.error(`idv: the answer above could not be saved: ${describeError(err)}`)
        process.exit(2)
      }
    }
    process.exit(result.status >= 200 && result.status < 300 ? 0 : 1)
  })

const receipt = program.command('receipt').description('signed answers: check one offline, rotate the signing key')

receipt.command('verify')
  .description('check a saved answer\'s receipt (exit 0 verified, 1 not verified, 2 cannot check)')
  .argument('<file>', 'the answer as received (JSON with its receipt), or a bare receipt')
  .option('--jwks <file>', 'the keys saved from GET /v1/keys (default: this installation\'s receipt key file)')
  .option('--receipt-key-file <file>', 'the service\'s key ring (IDV_RECEIPT_KEY_FILE), used when no --jwks is given')
  .option('--data-dir <dir>', 'index directory the default key ring sits beside (IDV_DATA_DIR)')
  .action((file: string, opts: Record<string, unknown>) => {
    const config = loadConfig(process.env, { receiptKeyFile: opts.receiptKeyFile as string | undefined, dataDir: opts.dataDir as string | undefined })
    const outcome = receiptVerifyCommand({
      file,
      jwksFile: opts.jwks as string | undefined,
      defaultJwks: () => existsSync(config.receiptKeyFile) ? ReceiptKeyRing.load(config.receiptKeyFile).jwks() : undefined
    })
    // Could not check (2) is a failure to run, on stderr like every other; verified or not is the answer, on stdout.
    if (outcome.exitCode === 2) console.error(`idv: ${outcome.message}`)
    else console.log(outcome.message)
    process.exit(outcome.exitCode)
  })

receipt.command('rotate-key')
  .description('start signing answers with a new Ed25519 key (creates the key ring if there is none); old keys stay published')
  .option('--receipt-key-file <file>', 'the key ring (IDV_RECEIPT_KEY_FILE, default <data-dir>.receipt-keys.json)')
  .option('--data-dir <dir>', 'index directory the default key ring sits beside (IDV_DATA_DIR)')
  .action((opts: Record<string, unknown>) => {
    const file = loadConfig(process.env, { receiptKeyFile: opts.receiptKeyFile as string | undefined, dataDir: opts.dataDir as string | undefined }).receiptKeyFile
    if (!existsSync(file)) {
      const ring = ReceiptKeyRing.loadOrCreate(file)
      console.log(`created ${file}; answers will be signed with ${ring.current.kid}`)
      return
    }
    const ring = ReceiptKeyRing.load(file)
    const key = ring.rotate()
    ring.save(file)
    console.log(`rotated: new answers are signed with ${key.kid}; send SIGHUP to running services to pick it up`)
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

/**
 * The first active adult with a chip card in the demo population whose
 * register address is in the 2025 form, with the same address in the form
 * before (the generator is deterministic).
 */
function sampleCitizen (config: Config): { citizen: CitizenRecord, oldResidence: string } | undefined {
  for (const { citizen, places } of generatePeople(Math.min(config.demoCitizens, 1000), config.demoSeed)) {
    if (citizen.status === 'active' && citizen.cardIssueDate !== undefined && citizen.placeOfResidence === places.placeOfResidence.new) {
      return { citizen, oldResidence: places.placeOfResidence.old }
    }
  }
  return undefined
}

/** In a member of a cluster: serve until the supervisor stops it, and resolve with the exit status; undefined in any other process. */
async function serveClusterMember (config: Config, log: Logger): Promise<number | undefined> {
  const member = memberConfig(config)
  if (member === undefined) return undefined
  const service = await startService(member.config, log.child({ member: member.index }))
  joinCluster(service)
  await service.stopped
  return 0
}

function printDemoBanner (url: string, found: { citizen: CitizenRecord, oldResidence: string } | undefined, party: DemoParty | undefined): void {
  const lines = [`\nidv is serving at ${url}`, `  API description: ${url}/openapi.json`]
  if (found !== undefined) {
    const sample = found.citizen
    const body = JSON.stringify({ pin: sample.pin, attributes: { fullName: sample.fullName, dateOfBirth: sample.dateOfBirth, gender: sample.gender } })
    // The same address in the units before 1 July 2025: answered `match_reorganised`.
    const oldForm = JSON.stringify({ pin: sample.pin, attributes: { placeOfResidence: found.oldResidence } })
    const qr = `${sample.pin}||${sample.fullName}|${sample.dateOfBirth.slice(8, 10)}${sample.dateOfBirth.slice(5, 7)}${sample.dateOfBirth.slice(0, 4)}|${sample.gender === 'male' ? 'Nam' : 'Nữ'}|${found.oldResidence}|${(sample.cardIssueDate ?? '').replace(/^(\d{4})-(\d{2})-(\d{2})$/, '$3$2$1')}`
    lines.push(
      `  sample citizen (synthetic): ${sample.pin} ${sample.fullName}, born ${sample.dateOfBirth}, ${sample.gender}`,
      `    registered at ${sample.placeOfResidence ?? ''} (2025 units)`,
      `    the same place before 1 July 2025: ${found.oldResidence}`,
      '  try:'
    )
    const calls = [['/v1/verify', body], ['/v1/verify', oldForm], ['/v1/card/qr/verify', JSON.stringify({ qr })]] as const
    if (party !== undefined) {
      const signed = `npx idv call --url ${url} --key-id ${party.keyId} --key ${relative(process.cwd(), party.keyFile)}`
      for (const [path, b] of calls.slice(0, 2)) lines.push(`    ${signed} ${path} '${b}'`)
      lines.push(`    ${signed} --qr '${qr}' /v1/card/qr/verify`)
      lines.push(
        '  (the second asks with the old address: placeOfResidence is match_reorganised; the third sends the card\'s QR code;',
        '   requests are signed with HTTP Message Signatures, RFC 9421, by the demo party\'s Ed25519 key;',
        '   add --save answer.json, then `npx idv receipt verify answer.json` checks the signed answer offline)'
      )
    } else {
      for (const [path, b] of calls) lines.push(`    curl -s ${url}${path} -H 'content-type: application/json' -d '${b}'`)
    }
  }
  lines.push('  stop with Ctrl-C\n')
  console.log(lines.join('\n'))
}

program.parseAsync().catch((err: unknown) => {
  // Every failure is one line and exit 2; --debug adds the stack.
  const problems = err instanceof ConfigError && err.problems.length > 1 ? err.message : err instanceof ConfigError ? err.problems[0] : describeError(err)
  console.error(`idv: ${problems}`)
  if (program.opts().debug === true && err instanceof Error) console.error(err.stack)
  process.exit(2)
})
