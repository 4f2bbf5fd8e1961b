/**
 * Configuration: read once at start-up from the environment and command-line
 * flags (flags win), validated as a whole, frozen. Nothing else reads process.env.
 */
import { availableParallelism, hostname } from 'node:os'
import { basename, dirname, join, resolve } from 'node:path'
import { ConfigError } from './errors.js'

export type StoreKind = 'lmdb' | 'native-free'
/** `signatures`: every /v1 request must be signed by a registered relying party; `none`: developer-only, loopback only. */
export type AuthMode = 'signatures' | 'none'

export interface Config {
  readonly host: string
  readonly port: number
  readonly dataDir: string
  readonly store: StoreKind
  /** HMAC key for attribute hashes; never stored in the index. */
  readonly hashKeyFile: string
  readonly maxBodyBytes: number
  readonly maxBatchBodyBytes: number
  readonly maxBatchItems: number
  readonly logLevel: string
  /** Directory of CSCA certificates (PEM or DER) for chip verification; '' disables /v1/chip/verify. */
  readonly cscaDir: string
  /** Optional CRL file (PEM or DER) checked for Document Signer serials. */
  readonly crlFile: string
  /** Processes serving the port (cluster mode when > 1: a supervisor and its members, src/app/cluster.ts). */
  readonly processes: number
  /** Server threads per process, each a uWS app on the same port (default: one per core, shared out among the processes). */
  readonly threads: number
  /** Worker threads of the crypto pool (chip verification), per process. */
  readonly cryptoThreads: number
  /** Chips waiting or running in the pool before new ones get 503. */
  readonly cryptoMaxQueue: number
  readonly maxChipBodyBytes: number
  readonly auth: AuthMode
  /** The relying-party registry (JSON or YAML); reloaded when it changes. */
  readonly partiesFile: string
  /** The Ed25519 key ring that signs answers (receipts). */
  readonly receiptKeyFile: string
  /** Whether answers to parties carry receipts (off only to measure their cost). */
  readonly receipts: boolean
  /** Accepted distance of a signature's `created` from our clock, both ways. */
  readonly signatureWindowSeconds: number
  /** Nonces remembered at once (12 bytes each in one process, shared by all threads; about 128 bytes of map each in cluster mode). */
  readonly nonceSlots: number
  /** Whether requests are recorded into metrics (off only to measure their cost). */
  readonly metrics: boolean
  /** Port of GET /metrics, /livez and /readyz (on `host`); 0 picks a free one (the default when `port` is 0). */
  readonly metricsPort: number
  /** Share of requests written to the access log (0-1); server errors are always logged. */
  readonly accessLogSample: number
  /** Size and seed of the demo population `idv demo` creates in an empty index. */
  readonly demoCitizens: number
  readonly demoSeed: number
  /** Serve an index with no citizens (a replica that fills from a feed); otherwise an empty index is refused. */
  readonly allowEmpty: boolean
  /** Share the port with another process on purpose (SO_REUSEPORT); otherwise a port another process serves is refused. */
  readonly reusePort: boolean
  /** Whether every answer is recorded in the tamper-evident audit log first (src/audit). */
  readonly audit: boolean
  /** Directory of the audit logs: one per node (or cluster member) in `<auditDir>/<auditNode>`. */
  readonly auditDir: string
  /** This node's name in its log, its entries and its checkpoints' origin. */
  readonly auditNode: string
  /** The Ed25519 note key that signs checkpoints (created on first start). */
  readonly auditKeyFile: string
  /** A segment is sealed at this many entries, or once its first entry is auditSegmentSeconds old. */
  readonly auditSegmentEntries: number
  readonly auditSegmentSeconds: number
  /** Entries older than this are removed, whole segments at a time. */
  readonly auditRetentionDays: number
  /** How often a new checkpoint is signed while entries arrive. */
  readonly auditCheckpointMs: number
  /** An answer waits for its entry's fdatasync (on), or for its write to the OS (off: fsynced before the next checkpoint). */
  readonly auditSync: boolean
  /** Close a verification stream on which nothing moved (answers unread, no items sent) for this long. */
  readonly streamIdleSeconds: number
  /** Rows per receipt in streams and jobs. */
  readonly receiptRows: number
  /** Where jobs keep their uploads and results (beside the data directory by default). */
  readonly jobsDir: string
  /** Days a job's files are kept after it was created. */
  readonly jobRetentionDays: number
  /** Largest upload chunk of a job, in bytes. */
  readonly jobChunkBytes: number
  /** NATS servers of the change feed, comma-separated (nats://a:4222,nats://b:4222); '' serves a single node with no feed. */
  readonly replicate: string
  /** This node's name in the fleet: its durable consumer and its entry in `idv fleet status` (default: host name and data directory). */
  readonly nodeId: string
  /** A replica further behind its feed than this is not ready (/readyz 503). */
  readonly maxLagSeconds: number
  /** With `replicate` and signatures: nonces, quota and the party registry shared by the fleet through NATS (src/fleet-security). */
  readonly fleetSecurity: boolean
}

export const DEFAULTS = {
  host: '127.0.0.1',
  port: 8080,
  dataDir: './data',
  store: 'lmdb',
  maxBodyBytes: 64 * 1024,
  maxBatchBodyBytes: 16 * 1024 * 1024,
  maxBatchItems: 10_000,
  logLevel: 'info',
  cscaDir: '',
  crlFile: '',
  processes: 1,
  cryptoMaxQueue: 4096,
  maxChipBodyBytes: 512 * 1024,
  auth: 'signatures',
  receipts: true,
  signatureWindowSeconds: 60,
  nonceSlots: 1 << 20,
  metrics: true,
  metricsPort: 9464,
  accessLogSample: 0.01,
  demoCitizens: 100_000,
  demoSeed: 1,
  allowEmpty: false,
  reusePort: false,
  audit: true,
  auditSegmentEntries: 1 << 20,
  auditSegmentSeconds: 86_400,
  auditRetentionDays: 183,
  auditCheckpointMs: 1000,
  auditSync: true,
  streamIdleSeconds: 30,
  receiptRows: 10_000,
  jobRetentionDays: 7,
  jobChunkBytes: 8 * 1024 * 1024,
  replicate: '',
  maxLagSeconds: 5,
  fleetSecurity: true
} as const satisfies Omit<Config, 'hashKeyFile' | 'threads' | 'cryptoThreads' | 'partiesFile' | 'receiptKeyFile' | 'auditDir' | 'auditNode' | 'auditKeyFile' | 'jobsDir' | 'nodeId'>

/** Environment variable for each setting (README "Configuration" mirrors this). */
export const ENV_NAMES: Readonly<Record<keyof Config, string>> = {
  host: 'IDV_HOST',
  port: 'IDV_PORT',
  dataDir: 'IDV_DATA_DIR',
  store: 'IDV_STORE',
  hashKeyFile: 'IDV_HASH_KEY_FILE',
  maxBodyBytes: 'IDV_MAX_BODY_BYTES',
  maxBatchBodyBytes: 'IDV_MAX_BATCH_BODY_BYTES',
  maxBatchItems: 'IDV_MAX_BATCH_ITEMS',
  logLevel: 'IDV_LOG_LEVEL',
  cscaDir: 'IDV_CSCA_DIR',
  crlFile: 'IDV_CRL_FILE',
  processes: 'IDV_PROCESSES',
  threads: 'IDV_THREADS',
  cryptoThreads: 'IDV_CRYPTO_THREADS',
  cryptoMaxQueue: 'IDV_CRYPTO_MAX_QUEUE',
  maxChipBodyBytes: 'IDV_MAX_CHIP_BODY_BYTES',
  auth: 'IDV_AUTH',
  partiesFile: 'IDV_PARTIES_FILE',
  receiptKeyFile: 'IDV_RECEIPT_KEY_FILE',
  receipts: 'IDV_RECEIPTS',
  signatureWindowSeconds: 'IDV_SIGNATURE_WINDOW_SECONDS',
  nonceSlots: 'IDV_NONCE_SLOTS',
  metrics: 'IDV_METRICS',
  metricsPort: 'IDV_METRICS_PORT',
  accessLogSample: 'IDV_ACCESS_LOG_SAMPLE',
  demoCitizens: 'IDV_DEMO_CITIZENS',
  demoSeed: 'IDV_DEMO_SEED',
  allowEmpty: 'IDV_ALLOW_EMPTY',
  reusePort: 'IDV_REUSE_PORT',
  audit: 'IDV_AUDIT',
  auditDir: 'IDV_AUDIT_DIR',
  auditNode: 'IDV_AUDIT_NODE',
  auditKeyFile: 'IDV_AUDIT_KEY_FILE',
  auditSegmentEntries: 'IDV_AUDIT_SEGMENT_ENTRIES',
  auditSegmentSeconds: 'IDV_AUDIT_SEGMENT_SECONDS',
  auditRetentionDays: 'IDV_AUDIT_RETENTION_DAYS',
  auditCheckpointMs: 'IDV_AUDIT_CHECKPOINT_MS',
  auditSync: 'IDV_AUDIT_SYNC',
  streamIdleSeconds: 'IDV_STREAM_IDLE_SECONDS',
  receiptRows: 'IDV_RECEIPT_ROWS',
  jobsDir: 'IDV_JOBS_DIR',
  jobRetentionDays: 'IDV_JOB_RETENTION_DAYS',
  jobChunkBytes: 'IDV_JOB_CHUNK_BYTES',
  replicate: 'IDV_REPLICATE',
  nodeId: 'IDV_NODE_ID',
  maxLagSeconds: 'IDV_MAX_LAG_SECONDS',
  fleetSecurity: 'IDV_FLEET_SECURITY'
}

/**
 * What each setting is, as `idv serve --help` shows it. Every setting is also a
 * flag (--kebab-case of its name), so a configuration error can always name both.
 */
export const SETTING_HELP: Readonly<Record<keyof Config, string>> = {
  host: 'listen address (default 127.0.0.1; 0.0.0.0 for all interfaces)',
  port: 'listen port, 0 for any (PORT works too; default 8080)',
  dataDir: 'index directory (default ./data)',
  store: 'storage engine: lmdb | native-free (default lmdb)',
  hashKeyFile: 'HMAC key file (default <data-dir>.hash-key)',
  maxBodyBytes: 'body limit of /v1/verify in bytes (default 65536)',
  maxBatchBodyBytes: 'body limit of /v1/verify/batch in bytes (default 16777216)',
  maxBatchItems: 'items per batch (default 10000)',
  logLevel: 'fatal|error|warn|info|debug|trace|silent (default info)',
  cscaDir: 'CSCA certificates for /v1/chip/verify; re-read on SIGHUP or change',
  crlFile: 'revocation list (PEM or DER) checked for Document Signer serials',
  processes: 'processes on the port, each with its own threads and open-file limit (default 1)',
  threads: 'server threads per process (default one per core, shared out among the processes)',
  cryptoThreads: 'worker threads of the chip crypto pool, per process (default one per core)',
  cryptoMaxQueue: 'chips waiting or running before 503 (default 4096)',
  maxChipBodyBytes: 'body limit of /v1/chip/verify in bytes (default 524288)',
  auth: 'signatures | none (default signatures; none is developer-only and loopback-only)',
  partiesFile: 'relying-party registry, JSON or YAML (default <data-dir>.parties.yaml)',
  receiptKeyFile: 'Ed25519 key ring that signs answers (default <data-dir>.receipt-keys.json)',
  receipts: 'on | off: signed receipts on answers (default on)',
  signatureWindowSeconds: 'accepted age and clock skew of a signature\'s created (default 60)',
  nonceSlots: 'nonces remembered at once (default 1048576)',
  metrics: 'on | off (default on)',
  metricsPort: 'port of /metrics, /livez, /readyz (default 9464; any free one when --port is 0)',
  accessLogSample: 'share of requests in the access log, 0-1 (default 0.01)',
  demoCitizens: 'size of the demo population (default 100000)',
  demoSeed: 'seed of the demo population (default 1)',
  allowEmpty: 'serve an index with no citizens (a replica that fills from a feed)',
  reusePort: 'share the port with another process on purpose (default: refuse a port another process serves)',
  audit: 'on | off: record every answer in the audit log before sending it (default on)',
  auditDir: 'audit logs directory (default <data-dir>.audit)',
  auditNode: 'this node\'s name in the audit log (default the host name, or the fleet node id when replicating; cluster members add -<i>)',
  auditKeyFile: 'Ed25519 note key signing audit checkpoints (default <data-dir>.audit-key; created if missing)',
  auditSegmentEntries: 'entries per audit segment file (default 1048576)',
  auditSegmentSeconds: 'seal an audit segment once its first entry is this old (default 86400)',
  auditRetentionDays: 'keep audit entries this many days, whole segments at a time (default 183)',
  auditCheckpointMs: 'sign an audit checkpoint this often while entries arrive (default 1000)',
  auditSync: 'on | off: an answer waits for its audit entry\'s fdatasync, or only for its write to the OS (fsynced before the next checkpoint) (default on)',
  streamIdleSeconds: 'close a /v1/verify/stream connection idle this long, in seconds (default 30)',
  receiptRows: 'rows per receipt in streams and jobs (default 10000)',
  jobsDir: 'directory of bulk jobs (default <data-dir>.jobs)',
  jobRetentionDays: 'days a job and its results are kept (default 7)',
  jobChunkBytes: 'largest job upload chunk in bytes (default 8388608)',
  replicate: 'NATS servers of the change feed, comma-separated: apply it to this index (default: none, a single node)',
  nodeId: 'this node\'s name in the fleet (default: <host name>-<data directory name>)',
  maxLagSeconds: 'not ready once this far behind the change feed (default 5)',
  fleetSecurity: 'on | off: a replicating node with signatures shares nonces, quotas and the party registry with the fleet through NATS (default on)'
}

/** The command-line flag of a setting: --data-dir for dataDir. */
export function flagName (name: keyof Config): string {
  return `--${name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`
}

const STORES = new Set<string>(['lmdb', 'native-free'])
const LEVELS = new Set(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])

/** Key and registry files sit next to the data directory, not in it: copying the index does not copy them. */
export function besideDataDir (dataDir: string, suffix: string): string {
  const abs = resolve(dataDir)
  return join(dirname(abs), `${basename(abs)}.${suffix}`)
}

/** Where the processes of a cluster (`--processes N`) keep the nonces and rate buckets they share. */
export function clusterStatePath (config: Config): string {
  return besideDataDir(config.dataDir, 'auth-state')
}

export function defaultHashKeyFile (dataDir: string): string {
  return besideDataDir(dataDir, 'hash-key')
}

/** A node name stable across restarts: the host's name and the index directory's (letters, digits, - and _ only). */
export function defaultNodeId (dataDir: string): string {
  return `${hostname()}-${basename(resolve(dataDir))}`.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 64)
}

/** Addresses only this machine can reach: the only ones `IDV_AUTH=none` may bind. */
export function isLoopback (host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host)
}

export type ConfigInput = { readonly [K in keyof Config]?: string | number | boolean | undefined }

export function loadConfig (env: NodeJS.ProcessEnv = process.env, flags: ConfigInput = {}): Config {
  const problems: string[] = []
  const raw = (name: keyof Config): string | number | boolean | undefined => {
    const flag = flags[name]
    if (flag !== undefined) return flag
    const value = env[ENV_NAMES[name]]
    if (name === 'port' && (value === undefined || value === '') && env.PORT !== undefined && env.PORT !== '') return env.PORT
    return value
  }
  const int = (name: keyof Config, fallback: number, min: number, max: number): number => {
    const v = raw(name)
    if (v === undefined || v === '') return fallback
    const n = typeof v === 'number' ? v : typeof v === 'string' && /^\s*\d+\s*$/.test(v) ? Number(v) : NaN
    if (!Number.isInteger(n) || n < min || n > max) {
      problems.push(`${ENV_NAMES[name]} (${flagName(name)}) must be an integer from ${min} to ${max}, got ${JSON.stringify(v)}`)
      return fallback
    }
    return n
  }
  const str = (name: keyof Config, fallback: string): string => {
    const v = raw(name)
    return v === undefined || v === '' ? fallback : String(v)
  }
  const bool = (name: keyof Config, fallback: boolean): boolean => {
    const v = raw(name)
    if (v === undefined || v === '') return fallback
    if (v === true || v === false) return v
    const s = String(v).trim().toLowerCase()
    if (['1', 'true', 'on', 'yes'].includes(s)) return true
    if (['0', 'false', 'off', 'no'].includes(s)) return false
    problems.push(`${ENV_NAMES[name]} (${flagName(name)}) must be on or off, got ${JSON.stringify(v)}`)
    return fallback
  }

  const dataDir = str('dataDir', DEFAULTS.dataDir)
  const store = str('store', DEFAULTS.store)
  if (!STORES.has(store)) problems.push(`${ENV_NAMES.store} (--store) must be lmdb or native-free, got ${JSON.stringify(store)}`)
  const logLevel = str('logLevel', DEFAULTS.logLevel)
  if (!LEVELS.has(logLevel)) problems.push(`${ENV_NAMES.logLevel} must be one of ${[...LEVELS].join(', ')}`)
  const maxBodyBytes = int('maxBodyBytes', DEFAULTS.maxBodyBytes, 256, 1024 ** 3)
  const maxBatchBodyBytes = int('maxBatchBodyBytes', DEFAULTS.maxBatchBodyBytes, 256, 1024 ** 3)
  const host = str('host', DEFAULTS.host)
  const auth = str('auth', DEFAULTS.auth)
  if (auth !== 'signatures' && auth !== 'none') problems.push(`${ENV_NAMES.auth} (--auth) must be signatures or none, got ${JSON.stringify(auth)}`)
  if (auth === 'none' && !isLoopback(host)) {
    problems.push(`${ENV_NAMES.auth}=none (--auth none) is for local experiments only and is refused on ${host}: bind a loopback address (127.0.0.1) or turn signatures on`)
  }
  const receipts = str('receipts', 'on')
  const metrics = str('metrics', 'on')
  if (metrics !== 'on' && metrics !== 'off') problems.push(`${ENV_NAMES.metrics} must be on or off, got ${JSON.stringify(metrics)}`)
  const sample = str('accessLogSample', String(DEFAULTS.accessLogSample))
  const accessLogSample = /^\s*(0|1|0?\.\d+|1\.0*)\s*$/.test(sample) ? Number(sample) : NaN
  if (Number.isNaN(accessLogSample)) problems.push(`${ENV_NAMES.accessLogSample} must be a number from 0 to 1, got ${JSON.stringify(sample)}`)
  if (receipts !== 'on' && receipts !== 'off') problems.push(`${ENV_NAMES.receipts} must be on or off, got ${JSON.stringify(receipts)}`)
  const port = int('port', DEFAULTS.port, 0, 65535)
  const processes = int('processes', DEFAULTS.processes, 1, 256)
  const coresEach = Math.max(1, Math.floor(availableParallelism() / processes))
  const replicate = str('replicate', DEFAULTS.replicate)
  const nodeId = str('nodeId', defaultNodeId(dataDir))
  const config: Config = {
    host,
    port,
    dataDir,
    store: store as StoreKind,
    hashKeyFile: str('hashKeyFile', defaultHashKeyFile(dataDir)),
    maxBodyBytes,
    maxBatchBodyBytes,
    maxBatchItems: int('maxBatchItems', DEFAULTS.maxBatchItems, 1, 1_000_000),
    logLevel,
    cscaDir: str('cscaDir', DEFAULTS.cscaDir),
    crlFile: str('crlFile', DEFAULTS.crlFile),
    processes,
    threads: int('threads', coresEach, 1, 256),
    cryptoThreads: int('cryptoThreads', coresEach, 1, 1024),
    cryptoMaxQueue: int('cryptoMaxQueue', DEFAULTS.cryptoMaxQueue, 1, 10_000_000),
    maxChipBodyBytes: int('maxChipBodyBytes', DEFAULTS.maxChipBodyBytes, 1024, 64 * 1024 ** 2),
    auth: auth as AuthMode,
    partiesFile: str('partiesFile', besideDataDir(dataDir, 'parties.yaml')),
    receiptKeyFile: str('receiptKeyFile', besideDataDir(dataDir, 'receipt-keys.json')),
    receipts: receipts === 'on',
    signatureWindowSeconds: int('signatureWindowSeconds', DEFAULTS.signatureWindowSeconds, 1, 3600),
    nonceSlots: int('nonceSlots', DEFAULTS.nonceSlots, 1024, 1 << 28),
    metrics: metrics === 'on',
    // A service on any free port (tests, benchmarks, several per host) takes any free metrics port too, so instances never collide.
    metricsPort: int('metricsPort', port === 0 ? 0 : DEFAULTS.metricsPort, 0, 65535),
    accessLogSample: Number.isNaN(accessLogSample) ? DEFAULTS.accessLogSample : accessLogSample,
    demoCitizens: int('demoCitizens', DEFAULTS.demoCitizens, 1, 200_000_000),
    demoSeed: int('demoSeed', DEFAULTS.demoSeed, 0, 2 ** 32 - 1),
    allowEmpty: bool('allowEmpty', DEFAULTS.allowEmpty),
    reusePort: bool('reusePort', DEFAULTS.reusePort),
    audit: bool('audit', DEFAULTS.audit),
    auditDir: str('auditDir', besideDataDir(dataDir, 'audit')),
    // A fleet node has one name: its audit log is named after it, unless told otherwise.
    auditNode: str('auditNode', replicate !== '' ? nodeId : hostname()),
    auditKeyFile: str('auditKeyFile', besideDataDir(dataDir, 'audit-key')),
    auditSegmentEntries: int('auditSegmentEntries', DEFAULTS.auditSegmentEntries, 2, 1 << 24),
    auditSegmentSeconds: int('auditSegmentSeconds', DEFAULTS.auditSegmentSeconds, 1, 366 * 86_400),
    auditRetentionDays: int('auditRetentionDays', DEFAULTS.auditRetentionDays, 1, 36_600),
    auditCheckpointMs: int('auditCheckpointMs', DEFAULTS.auditCheckpointMs, 10, 60_000),
    auditSync: bool('auditSync', DEFAULTS.auditSync),
    streamIdleSeconds: int('streamIdleSeconds', DEFAULTS.streamIdleSeconds, 1, 3600),
    receiptRows: int('receiptRows', DEFAULTS.receiptRows, 1, 1_000_000),
    jobsDir: str('jobsDir', besideDataDir(dataDir, 'jobs')),
    jobRetentionDays: int('jobRetentionDays', DEFAULTS.jobRetentionDays, 1, 3650),
    jobChunkBytes: int('jobChunkBytes', DEFAULTS.jobChunkBytes, 1024, 1024 ** 3),
    replicate,
    nodeId,
    maxLagSeconds: int('maxLagSeconds', DEFAULTS.maxLagSeconds, 1, 86_400),
    fleetSecurity: bool('fleetSecurity', DEFAULTS.fleetSecurity)
  }
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(config.auditNode)) problems.push(`${ENV_NAMES.auditNode} (--audit-node) must be 1 to 64 letters, digits, '.', '_' or '-', got ${JSON.stringify(config.auditNode)}`)
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(config.nodeId)) problems.push(`${ENV_NAMES.nodeId} (--node-id) must be 1-64 letters, digits, - or _ (it names a durable consumer), got ${JSON.stringify(config.nodeId)}`)
  if (config.replicate !== '' && processes > 1) problems.push(`${ENV_NAMES.replicate} (--replicate) runs one applier per index: use --processes 1 (threads share the index)`)
  if (problems.length > 0) throw new ConfigError(problems)
  return Object.freeze(config)
}
