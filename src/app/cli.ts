#!/usr/bin/env node
/**
 * `idv`: the command line. `demo` (what `npm start` runs), `serve`, `load`,
 * `gen`, `keygen`, `party` (the relying-party registry), `call` (a signed
 * request) and `receipt` (check a signed answer, rotate the signing key).
 * The benchmarks are a package of their own (bench/, `npm run bench --`).
 * The only module that calls process.exit.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, relative } from 'node:path'
import { Command, InvalidArgumentError } from 'commander'
import { SingleBar, Presets } from 'cli-progress'
import { ENV_NAMES, SETTING_HELP, flagName, loadConfig, type Config, type ConfigInput } from '../config.js'
import { ConfigError, UsageError } from '../errors.js'
import { describeError } from './cli-errors.js'
import { createHashKey, readHashKey, readOrCreateHashKey } from '../files/hash-key-file.js'
import { runLoadCommand } from '../bulk-load/command.js'
import { createLogger, type Logger } from '../log.js'
import { generatePeople, writePopulation } from '../population/generate.js'
import { RECORD_VERSION, RecordCodec } from '../domain/record.js'
import { createSnapshot, readSnapshotManifest, restoreSnapshot } from '../snapshot/index.js'
import { startService } from './service.js'
import { joinCluster, memberConfig, superviseCluster } from './cluster.js'
import { indexLayout, openStore } from '../store/open.js'
import type { CitizenRecord } from '../domain/citizen.js'
import { ensureDemoParty, type DemoParty } from '../parties/demo-party.js'
import { ReceiptKeyRing, receiptVerifyCommand, rowsReceiptVerify } from '../receipts/index.js'
import { auditVerifyCommand, auditWatchCommand } from '../audit/index.js'
import { formatPartyList, generatedSecretFile, partyAdd, partyDisable, partyEnable, partyList, partyRotateKey, type KeySource } from '../parties/party-cli.js'
import { call, qrBody } from '../client/call.js'
import { check, CheckError } from '../client/check.js'
import { prepareReplica } from '../fleet/bootstrap.js'
import { publishChanges } from '../fleet/publish.js'
import { publishSnapshot } from '../fleet/snapshots.js'
import { fleetStatus, formatFleetStatus } from '../fleet/fleet-status.js'
import { editFleetParties, openPartiesBucket } from '../fleet-security/index.js'
import { connectFleet } from '../replication/index.js'
import { runFleetDemo } from '../fleet/demo.js'
import { mirrorStream, promote } from '../fleet/dr.js'
import { fileURLToPath } from 'node:url'

/** Marks an index holding only the demo population, which `idv demo` may rebuild. */
const DEMO_META = 'demoPopulation'

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
    const service = await startService(config.replicate === '' ? config : await replicaConfig(config, log), log)
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
  .description('bulk-load a register extract into the index: sorted by PIN, written in key order; safe to interrupt, --resume finishes')
  .argument('<file>', 'NDJSON file (one citizen per line), gzip-compressed or not; - for standard input')
  .option('--rejects <file>', 'where rejected lines are reported (default <file>.rejects.ndjson, or load.rejects.ndjson beside the index for -)')
  .option('--threads <n>', 'encoding threads (default: one per core)', positiveInt)
  .option('--memory <MiB>', 'sorted records held in memory before they spill to <data-dir>.load/ (default 1024)', positiveInt)
  .option('--max-rejects <n>', 'stop, with nothing written, once more lines than this are rejected (default 1000)', int)
  .option('--resume', 'continue an interrupted load of the same file without redoing what is durable')
  .option('--json', 'progress as one JSON object per line on stderr (for scripts)')
  .action(async (file: string, opts: Record<string, unknown>) => {
    const config = configFrom(opts)
    process.exit(await runLoadCommand({
      file,
      store: config.store,
      dataDir: config.dataDir,
      hashKey: readHashKey(config.hashKeyFile),
      rejectFile: (opts.rejects as string | undefined) ?? (file === '-' ? `${config.dataDir}.load.rejects.ndjson` : `${file}.rejects.ndjson`),
      threads: opts.threads as number | undefined,
      memoryBytes: opts.memory === undefined ? undefined : (opts.memory as number) * 1024 * 1024,
      maxRejects: opts.maxRejects as number | undefined,
      resume: opts.resume === true,
      progress: opts.json === true ? 'json' : process.stderr.isTTY ? 'bar' : 'plain'
    }))
  })

const snapshot = program.command('snapshot').description('copy a whole index to one file, and restore it (node rebuild, fleet bootstrap)')

storeOptions(snapshot.command('create'))
  .description('write a consistent snapshot of the index while the service serves (never overwrites --out)')
  .requiredOption('--out <file>', 'snapshot file to create')
  .action(async (opts: Record<string, unknown>) => {
    const config = configFrom(opts)
    const { manifest, bytes, seconds } = await createSnapshot(config.store, config.dataDir, opts.out as string)
    console.log(`wrote ${opts.out as string}: ${manifest.count} citizens, ${manifest.engine}, layout ${manifest.layout}, ${(bytes / 1e6).toFixed(1)} MB in ${seconds.toFixed(1)} s (sha256 ${manifest.sha256.slice(0, 16)}…)`)
  })

storeOptions(snapshot.command('restore'))
  .description('replace the index with a snapshot, after checking its checksum, layout and hash key (stop the service first)')
  .argument('<file>', 'snapshot file')
  .action(async (file: string, opts: Record<string, unknown>) => {
    const config = configFrom(opts)
    const keyFingerprint = new RecordCodec(readHashKey(config.hashKeyFile)).keyFingerprint()
    const { manifest, seconds } = await restoreSnapshot({ file, engine: config.store, dataDir: config.dataDir, keyFingerprint })
    console.log(`restored ${manifest.count} citizens (${manifest.engine}, layout ${manifest.layout}, made ${manifest.createdAt}${manifest.sequence === null ? '' : `, sequence ${manifest.sequence}`}) into ${config.dataDir} in ${seconds.toFixed(1)} s`)
  })

storeOptions(snapshot.command('publish'))
  .description('snapshot the index and put it in the fleet\'s JetStream Object Store, where new nodes bootstrap from it')
  .requiredOption('--nats <urls>', 'NATS servers, comma-separated (nats://a:4222,nats://b:4222)')
  .option('--keep <n>', 'snapshots of this engine kept in the store; older ones are deleted', positiveInt, 3)
  .option('--replicas <n>', 'replicas of the snapshot bucket when this creates it', positiveInt, 3)
  .action(async (opts: Record<string, unknown>) => {
    const config = configFrom(opts)
    const p = await publishSnapshot({ servers: opts.nats as string, engine: config.store, dataDir: config.dataDir, replicas: opts.replicas as number, keep: opts.keep as number })
    console.log(`published ${p.name}: ${p.manifest.count} citizens at sequence ${p.manifest.sequence ?? 'none'}, ${(p.bytes / 1e6).toFixed(1)} MB${p.expired > 0 ? `; ${p.expired} older snapshots deleted` : ''}`)
  })

snapshot.command('inspect')
  .description('print a snapshot\'s manifest (engine, layout, count, key fingerprint, checksum, sequence) without reading its content')
  .argument('<file>', 'snapshot file')
  .action((file: string) => {
    console.log(JSON.stringify(readSnapshotManifest(file), null, 2))
  })

program.command('publish')
  .description('publish registry changes (NDJSON: upsert, status, delete with seq) to the fleet\'s change feed; bad lines are refused with their line and reason')
  .argument('<file>', 'NDJSON changes; - reads standard input')
  .requiredOption('--nats <urls>', 'NATS servers, comma-separated (nats://a:4222,nats://b:4222)')
  .option('--outbox <dir>', 'the producer\'s durable outbox: changes kept until every node applied them (default ./outbox)', './outbox')
  .option('--hash-key-file <file>', 'the fleet\'s hash key (IDV_HASH_KEY_FILE, default <data-dir>.hash-key)')
  .option('--data-dir <dir>', 'index directory the default key file sits beside (IDV_DATA_DIR)')
  .option('--replicas <n>', 'replicas of the stream when this creates it', positiveInt, 3)
  .action(async (file: string, opts: Record<string, unknown>) => {
    const config = loadConfig(process.env, { dataDir: opts.dataDir as string | undefined, hashKeyFile: opts.hashKeyFile as string | undefined })
    if (file !== '-' && !existsSync(file)) throw new UsageError(`no such file or directory: ${file}`)
    const s = await publishChanges({
      file,
      servers: opts.nats as string,
      hashKey: readHashKey(config.hashKeyFile),
      outboxDir: opts.outbox as string,
      replicas: opts.replicas as number,
      onReject: (line, reason) => { console.error(`line ${line}: ${reason}`) }
    })
    console.log([
      `published ${s.published} changes (stream at seq ${s.lastSeq})${s.republished > 0 ? `, ${s.republished} more again from the outbox` : ''}${s.alreadyPublished > 0 ? `; ${s.alreadyPublished} were published before` : ''}`,
      `refused ${s.rejected} of ${s.lines} lines${s.rejected > 0 ? ' (reasons above)' : ''}`,
      `outbox: ${s.outboxLeft} changes not yet applied by all ${s.nodes} nodes${s.pruned > 0 ? ` (${s.pruned} pruned)` : ''}`
    ].join('\n'))
    process.exit(s.rejected > 0 ? 1 : 0)
  })

const fleet = program.command('fleet').description('the fleet of nodes following the change feed')

fleet.command('status')
  .description('print the feed and every node\'s applied sequence, lag and readiness')
  .requiredOption('--nats <urls>', 'NATS servers, comma-separated')
  .option('--json', 'as JSON')
  .action(async (opts: Record<string, unknown>) => {
    const status = await fleetStatus(opts.nats as string)
    console.log(opts.json === true ? JSON.stringify(status, null, 2) : formatFleetStatus(status))
  })

fleet.command('mirror')
  .description('make this site\'s change feed a mirror of another site\'s (the DR site; JetStream domains over leaf nodes: docs/design/fleet-dr.md)')
  .requiredOption('--nats <urls>', 'this site\'s NATS servers, comma-separated')
  .requiredOption('--primary-domain <domain>', 'the JetStream domain of the site to mirror')
  .option('--replicas <n>', 'replicas of the mirror stream', positiveInt, 3)
  .option('--replace', 'fail back: replace this site\'s writable stream with a mirror of the other site (refused if the other site holds less)')
  .action(async (opts: Record<string, unknown>) => {
    const r = await mirrorStream({ servers: opts.nats as string, primaryDomain: opts.primaryDomain as string, replicas: opts.replicas as number, replace: opts.replace === true, log: (l) => { console.error(l) } })
    console.log(`${r.created ? (r.replaced ? 'replaced by a mirror' : 'mirror created') : 'mirror already there'} of the ${opts.primaryDomain as string} domain (at seq ${r.lastSeq} now)${r.reportsLinked ? '' : '; node reports not linked (see above)'}`)
  })

fleet.command('promote')
  .description('the primary is gone: make this DR site\'s mirror the writable change feed (change n stays at seq n; resumable; docs/design/fleet-dr.md)')
  .requiredOption('--nats <urls>', 'the DR site\'s NATS servers, comma-separated')
  .option('--force', 'promote even though the primary still answers (only once it is fenced: two writable sites diverge)')
  .action(async (opts: Record<string, unknown>) => {
    const r = await promote({ servers: opts.nats as string, force: opts.force === true, log: (l) => { console.error(l) } })
    console.log(r.promoted
      ? `promoted: the change feed is writable here at seq ${r.firstSeq}..${r.lastSeq}; publish with idv publish --nats ${opts.nats as string}`
      : `nothing to promote: the change feed here is writable already (seq ${r.firstSeq}..${r.lastSeq})`)
  })

fleet.command('demo')
  .description('a whole fleet on this machine: 3 nats-server processes, a producer, two nodes; prints what to try (npm run fleet:demo)')
  .option('--dir <dir>', 'work directory (kept between runs)', './fleet-demo')
  .option('--changes <n>', 'synthetic changes published at start', positiveInt, 20_000)
  .option('--fresh', 'start from an empty work directory')
  .option('--dr', 'also a DR site: a second 3-server cluster linked by leaf nodes, its mirror and one node; prints the promote command')
  .action(async (opts: Record<string, unknown>) => {
    await runFleetDemo({ dir: opts.dir as string, changes: opts.changes as number, fresh: opts.fresh === true, dr: opts.dr === true, cli: fileURLToPath(import.meta.url) })
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
    .option('--nats <urls>', 'edit the fleet\'s registry (KV idv_parties) on these NATS servers instead of a file; every node installs it (docs/design/fleet-security.md)')
}

/**
 * Runs a party command on the registry file, or with --nats on the fleet's
 * registry (the same command on a private copy, written back conditional on the
 * revision read); says where the change went.
 */
async function onParties<T> (opts: Record<string, unknown>, command: (file: string) => T, o: { readOnly?: boolean } = {}): Promise<{ result: T, where: string }> {
  if (typeof opts.nats !== 'string') {
    const file = partiesFileFrom(opts)
    return { result: command(file), where: file }
  }
  if (opts.hmac === true || opts.hmacSecretFile !== undefined) {
    throw new UsageError('--nats takes public keys only (--public-key): a shared HMAC secret would have to travel through NATS and sit in every node\'s registry')
  }
  const nc = await connectFleet(opts.nats, { name: 'idv-party' })
  try {
    const { result, revision } = await editFleetParties(await openPartiesBucket(nc), command, o)
    return { result, where: `the fleet registry (config version ${revision})` }
  } finally {
    await nc.close()
  }
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
  .option('--roles <list>', 'roles beyond verifying: citizen-portal, auditor (read citizens\' access histories), comma-separated', list)
  .option('--exact-addresses', 'compare its addresses as the same units only: one written in the pre-2025 units is a mismatch, never match_reorganised')
  .option('--hmac', 'generate its HMAC-SHA-256 secret (mode 0600, beside the registry, never overwritten) instead of --public-key or --hmac-secret-file')
  .action(async (opts: Record<string, unknown>) => {
    const { result: added, where } = await onParties(opts, (file) => partyAdd({
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
      roles: opts.roles as string[] | undefined,
      exactAddresses: opts.exactAddresses as boolean | undefined,
      hmac: opts.hmac as boolean | undefined,
      ...keySource(opts)
    }))
    console.log(`added party ${added.id} with key ${added.keys[0]?.keyId ?? ''} to ${where}`)
    if (opts.hmac === true) {
      console.log(`its HMAC-SHA-256 secret is in ${generatedSecretFile(where, added.id)} (mode 0600): hand it to the party over a secure channel; it signs with --key-id ${added.keys[0]?.keyId ?? ''}`)
    }
  })

partyFileOptions(party.command('list'))
  .description('list relying parties')
  .action(async (opts: Record<string, unknown>) => {
    const { result: rows, where } = await onParties(opts, (file) => partyList(file), { readOnly: true })
    if (typeof opts.nats === 'string') console.log(where)
    process.stdout.write(formatPartyList(rows))
  })

partyFileOptions(party.command('disable'))
  .description('refuse a party\'s requests (403) from now on')
  .argument('<id>')
  .action(async (id: string, opts: Record<string, unknown>) => { const { where } = await onParties(opts, (file) => partyDisable(file, id)); console.log(`disabled ${id} in ${where}`) })

partyFileOptions(party.command('enable'))
  .description('accept a disabled party again')
  .argument('<id>')
  .action(async (id: string, opts: Record<string, unknown>) => { const { where } = await onParties(opts, (file) => partyEnable(file, id)); console.log(`enabled ${id} in ${where}`) })

keyOptions(partyFileOptions(party.command('rotate-key')))
  .description('add a new key; the party\'s other keys stay valid for the overlap, then are refused')
  .argument('<id>')
  .option('--overlap-seconds <n>', 'how long the old keys stay valid (default 86400)', int)
  .action(async (id: string, opts: Record<string, unknown>) => {
    const { result: updated, where } = await onParties(opts, (file) => partyRotateKey({ file, id, overlapSeconds: opts.overlapSeconds as number | undefined, ...keySource(opts) }))
    console.log(`party ${id} now signs with ${updated.keys[updated.keys.length - 1]?.keyId ?? ''} in ${where}`)
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

program.command('check')
  .description('verify every row of a file (CSV export or NDJSON items) as a stream or a job, with progress; resumable')
  .argument('<file>', 'CSV with a header (pin,fullName,dateOfBirth,gender,…; optional ref) or NDJSON {ref, pin, attributes} items')
  .requiredOption('--key-id <id>', 'the keyid registered for your party')
  .requiredOption('--key <file>', 'PKCS#8 PEM private key (Ed25519, ECDSA P-256) or HMAC secret (hex)')
  .option('--url <url>', 'service base URL', 'http://127.0.0.1:8080')
  .option('--out <file>', 'results file (default FILE.results.ndjson or .csv); receipts go to OUT.receipts.ndjson')
  .option('--format <format>', 'ndjson | csv', 'ndjson')
  .option('--resume', 'continue an interrupted run: rows already answered are not sent again')
  .option('--job', 'upload the file as a job (chunked, resumable) instead of streaming it')
  .option('--retries <n>', 'reconnections after a lost connection before giving up', int, 5)
  .option('--no-progress', 'no progress bar')
  .action(async (file: string, opts: Record<string, unknown>) => {
    const format = opts.format as string
    if (format !== 'ndjson' && format !== 'csv') throw new UsageError('--format must be ndjson or csv')
    const bar = opts.progress === true && process.stderr.isTTY
      ? new SingleBar({ format: '{bar} {percentage}% | {value}/{total} rows | {speed} rows/s | ETA {eta_formatted} | match {ratio} | errors {errors}', stream: process.stderr, etaBuffer: 50 }, Presets.shades_classic)
      : undefined
    const started = Date.now()
    let first = -1
    try {
      const summary = await check({
        file,
        url: opts.url as string,
        keyId: opts.keyId as string,
        keyFile: opts.key as string,
        out: opts.out as string | undefined,
        format,
        resume: opts.resume === true,
        job: opts.job === true,
        retries: opts.retries as number,
        onProgress (p) {
          if (bar === undefined) return
          if (first < 0) { first = p.rows; bar.start(p.total, p.rows, { speed: 0, ratio: '-', errors: 0 }) }
          const secs = (Date.now() - started) / 1000
          const answered = p.rows - p.errors
          bar.update(p.rows, { speed: secs > 0 ? Math.round((p.rows - first) / secs) : 0, ratio: answered > 0 ? `${(100 * p.matches / answered).toFixed(1)}%` : '-', errors: p.errors })
        }
      })
      bar?.stop()
      const answered = summary.rows - summary.errors
      console.log(`${summary.rows} rows answered (${summary.resumedFrom > 0 ? `${summary.resumedFrom} before this run, ` : ''}${summary.matches} match, ${answered > 0 ? (100 * summary.matches / answered).toFixed(1) : '0'}% of the valid ones; ${summary.errors} refused) in ${((Date.now() - started) / 1000).toFixed(1)} s: ${summary.out}, receipts ${summary.receipts}`)
      process.exit(0)
    } catch (err) {
      bar?.stop()
      if (err instanceof CheckError) { console.error(`idv: ${err.message}`); process.exit(err.exitCode) }
      throw err
    }
  })

const receipt = program.command('receipt').description('signed answers: check one offline, rotate the signing key')

receipt.command('verify')
  .description('check a saved answer\'s receipt (exit 0 verified, 1 not verified, 2 cannot check)')
  .argument('<file>', 'the answer as received (JSON with its receipt), or a bare receipt')
  .option('--jwks <file>', 'the keys saved from GET /v1/keys (default: this installation\'s receipt key file)')
  .option('--receipt-key-file <file>', 'the service\'s key ring (IDV_RECEIPT_KEY_FILE), used when no --jwks is given')
  .option('--data-dir <dir>', 'index directory the default key ring sits beside (IDV_DATA_DIR)')
  .option('--rows <file>', 'FILE is receipt records of a stream or job (`idv check` writes OUT.receipts.ndjson); check them against these answer records (NDJSON)')
  .action(async (file: string, opts: Record<string, unknown>) => {
    const config = loadConfig(process.env, { receiptKeyFile: opts.receiptKeyFile as string | undefined, dataDir: opts.dataDir as string | undefined })
    if (opts.rows !== undefined) {
      const jwks = opts.jwks !== undefined ? JSON.parse(readFileSync(opts.jwks as string, 'utf8')) as unknown : existsSync(config.receiptKeyFile) ? ReceiptKeyRing.load(config.receiptKeyFile).jwks() : undefined
      if (jwks === undefined) { console.error('idv: no keys to check against: give --jwks FILE (saved from GET /v1/keys)'); process.exit(2) }
      const outcome = await rowsReceiptVerify({ file, rowsFile: opts.rows as string, jwks })
      console.log(outcome.message)
      process.exit(outcome.exitCode)
    }
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

const auditCmd = program.command('audit').description('the tamper-evident audit log: check a log on disk, witness nodes\' checkpoints')

auditCmd.command('verify')
  .description('recompute a node\'s audit log and check it against its checkpoints (exit 0 verified, 1 a bad entry or checkpoint, named, 2 cannot check)')
  .argument('<dir>', 'the node\'s log directory (<audit-dir>/<node>)')
  .option('--key <vkey>', 'the log\'s verifier key (the text of GET /v1/audit/key) or a file holding it (default: DIR/verifier.key)')
  .action((dir: string, opts: { key?: string }) => {
    const outcome = auditVerifyCommand({ dir, key: opts.key })
    if (outcome.exitCode === 2) console.error(`idv: ${outcome.message}`)
    else console.log(outcome.message)
    process.exit(outcome.exitCode)
  })

auditCmd.command('watch')
  .description('poll nodes\' checkpoints and check each against the last one seen (exit 1, printing both, on an inconsistency)')
  .argument('<url...>', 'service base URLs')
  .option('--key <vkey...>', 'verifier keys to trust (default: each node\'s key as first fetched)')
  .option('--interval <ms>', 'between polls', (v) => Number(v), 1000)
  .option('--polls <n>', 'stop after this many rounds (default: never)', (v) => Number(v))
  .option('--state <file>', 'remember the last checkpoint of each node here between runs')
  .action(async (urls: string[], opts: { key?: string[], interval: number, polls?: number, state?: string }) => {
    const outcome = await auditWatchCommand({ urls, keys: opts.key, intervalMs: opts.interval, polls: opts.polls, stateFile: opts.state, out: (line) => { console.log(line) } })
    console.log(outcome.message)
    process.exit(outcome.exitCode)
  })

function progressBar (format: string): SingleBar {
  return new SingleBar({ format, hideCursor: true, noTTYOutput: !process.stderr.isTTY, notTTYSchedule: 5000, etaBuffer: 50 }, Presets.shades_classic)
}

/**
 * Fills an empty index with the deterministic demo population; an index that has
 * data is left alone, except a demo index of an older record layout, which is
 * rebuilt (it holds nothing but the demo population it was marked with).
 */
async function ensureDemoPopulation (config: Config, hashKey: Uint8Array): Promise<void> {
  const store = await openStore(config.store, config.dataDir)
  const count = store.count()
  const stale = count > 0 && store.getMeta(DEMO_META) !== undefined && indexLayout(store) !== RECORD_VERSION
  await store.close()
  if (stale) {
    console.error(`the demo index at ${config.dataDir} has an older record layout: rebuilding it`)
    rmSync(config.dataDir, { recursive: true, force: true })
  } else if (count > 0) return
  const dir = mkdtempSync(join(tmpdir(), 'idv-demo-'))
  try {
    const file = join(dir, 'population.ndjson')
    console.error(`first start: generating ${config.demoCitizens} synthetic citizens (seed ${config.demoSeed}) into ${config.dataDir}`)
    await writePopulation({ count: config.demoCitizens, seed: config.demoSeed, out: file })
    const status = await runLoadCommand({ file, store: config.store, dataDir: config.dataDir, hashKey, rejectFile: join(dir, 'rejects.ndjson'), resume: false, progress: process.stderr.isTTY ? 'bar' : 'plain' })
    if (status !== 0) throw new Error(`loading the demo population failed (status ${status})`)
    const marked = await openStore(config.store, config.dataDir)
    await marked.writeBatch([], { [DEMO_META]: Buffer.from(`${config.demoCitizens}/${config.demoSeed}`) })
    await marked.close()
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

/** `serve --replicate`: bootstrap the index if it needs it, and serve it even while empty (it fills from the feed). */
async function replicaConfig (config: Config, log: Logger): Promise<Config> {
  const prepared = await prepareReplica(config, readHashKey(config.hashKeyFile), log)
  log.info({ node: config.nodeId, ...prepared }, 'replica prepared')
  return { ...config, allowEmpty: true }
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
