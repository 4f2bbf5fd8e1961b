/**
 * Configuration: defaults, environment, the PORT convention, flags over env,
 * every problem reported at once, a frozen result, and the key file placed
 * next to (not inside) the data directory.
 */
import { readFileSync } from 'node:fs'
import { availableParallelism, hostname } from 'node:os'
import { dirname, join, relative, resolve, sep } from 'node:path'
import { describe, expect, it } from 'vitest'
import { DEFAULTS, ENV_NAMES, SETTING_HELP, defaultHashKeyFile, defaultNodeId, flagName, loadConfig } from '../../src/config.js'
import { ConfigError } from '../../src/errors.js'
import { packageRoot } from '../../src/paths.js'

function problems (env: NodeJS.ProcessEnv, flags = {}): readonly string[] {
  try {
    loadConfig(env, flags)
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError)
    return (e as ConfigError).problems
  }
  throw new Error('expected a ConfigError')
}

describe('loadConfig defaults', () => {
  it('uses the documented defaults with an empty environment', () => {
    const c = loadConfig({}, {})
    expect(c).toEqual({
      host: '127.0.0.1',
      port: 8080,
      dataDir: './data',
      store: 'lmdb',
      hashKeyFile: defaultHashKeyFile('./data'),
      maxBodyBytes: 65_536,
      maxBatchBodyBytes: 16 * 1024 * 1024,
      maxBatchItems: 10_000,
      logLevel: 'info',
      cscaDir: '',
      crlFile: '',
      processes: 1,
      threads: availableParallelism(),
      cryptoThreads: availableParallelism(),
      cryptoMaxQueue: 4096,
      maxChipBodyBytes: 512 * 1024,
      auth: 'signatures',
      partiesFile: resolve('data.parties.yaml'),
      receiptKeyFile: resolve('data.receipt-keys.json'),
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
      auditDir: resolve('data.audit'),
      auditNode: hostname(),
      auditKeyFile: resolve('data.audit-key'),
      auditSegmentEntries: 1 << 20,
      auditSegmentSeconds: 86_400,
      auditRetentionDays: 183,
      auditCheckpointMs: 1000,
      auditSync: true,
      streamIdleSeconds: 30,
      receiptRows: 10_000,
      jobsDir: resolve('data.jobs'),
      jobRetentionDays: 7,
      jobChunkBytes: 8 * 1024 * 1024,
      replicate: '',
      nodeId: defaultNodeId('data'),
      maxLagSeconds: 5,
      fleetSecurity: true
    })
    expect(c.hashKeyFile).toBe(resolve('data.hash-key'))
    for (const [k, v] of Object.entries(DEFAULTS)) expect(c[k as keyof typeof c], k).toBe(v)
  })

  it('treats empty strings as unset', () => {
    const env: NodeJS.ProcessEnv = {}
    for (const name of Object.values(ENV_NAMES)) env[name] = ''
    expect(loadConfig(env)).toEqual(loadConfig({}))
  })

  it('reads only the environment it is given', () => {
    const saved = process.env.IDV_PORT
    process.env.IDV_PORT = '1234'
    try {
      expect(loadConfig({}).port).toBe(8080)
    } finally {
      if (saved === undefined) delete process.env.IDV_PORT
      else process.env.IDV_PORT = saved
    }
  })
})

describe('environment overrides', () => {
  it('every setting has an IDV_ variable that overrides its default', () => {
    const c = loadConfig({
      IDV_HOST: '0.0.0.0',
      IDV_PORT: '9090',
      IDV_DATA_DIR: '/srv/idv/index',
      IDV_STORE: 'native-free',
      IDV_HASH_KEY_FILE: '/etc/idv/key',
      IDV_MAX_BODY_BYTES: '1024',
      IDV_MAX_BATCH_BODY_BYTES: '2048',
      IDV_MAX_BATCH_ITEMS: '5',
      IDV_LOG_LEVEL: 'debug',
      IDV_CSCA_DIR: '/etc/idv/csca',
      IDV_CRL_FILE: '/etc/idv/csca.crl',
      IDV_PROCESSES: '2',
      IDV_THREADS: '4',
      IDV_CRYPTO_THREADS: '3',
      IDV_CRYPTO_MAX_QUEUE: '99',
      IDV_MAX_CHIP_BODY_BYTES: '4096',
      IDV_AUTH: 'signatures',
      IDV_PARTIES_FILE: '/etc/idv/parties.yaml',
      IDV_RECEIPT_KEY_FILE: '/etc/idv/receipt-keys.json',
      IDV_RECEIPTS: 'off',
      IDV_SIGNATURE_WINDOW_SECONDS: '30',
      IDV_NONCE_SLOTS: '4096',
      IDV_METRICS: 'off',
      IDV_METRICS_PORT: '9465',
      IDV_ACCESS_LOG_SAMPLE: '0.5',
      IDV_DEMO_CITIZENS: '10',
      IDV_DEMO_SEED: '4294967295',
      IDV_ALLOW_EMPTY: 'on',
      IDV_REUSE_PORT: 'true',
      IDV_AUDIT: 'off',
      IDV_AUDIT_DIR: '/var/lib/idv/audit',
      IDV_AUDIT_NODE: 'hanoi-1',
      IDV_AUDIT_KEY_FILE: '/etc/idv/audit.key',
      IDV_AUDIT_SEGMENT_ENTRIES: '1000',
      IDV_AUDIT_SEGMENT_SECONDS: '3600',
      IDV_AUDIT_RETENTION_DAYS: '30',
      IDV_AUDIT_CHECKPOINT_MS: '500',
      IDV_AUDIT_SYNC: 'off',
      IDV_STREAM_IDLE_SECONDS: '5',
      IDV_RECEIPT_ROWS: '100',
      IDV_JOBS_DIR: '/srv/idv/jobs',
      IDV_JOB_RETENTION_DAYS: '30',
      IDV_JOB_CHUNK_BYTES: '65536',
      IDV_NODE_ID: 'dc1-n1',
      IDV_MAX_LAG_SECONDS: '9',
      IDV_FLEET_SECURITY: 'off'
    })
    expect(c).toEqual({
      host: '0.0.0.0',
      port: 9090,
      dataDir: '/srv/idv/index',
      store: 'native-free',
      hashKeyFile: '/etc/idv/key',
      maxBodyBytes: 1024,
      maxBatchBodyBytes: 2048,
      maxBatchItems: 5,
      logLevel: 'debug',
      cscaDir: '/etc/idv/csca',
      crlFile: '/etc/idv/csca.crl',
      processes: 2,
      threads: 4,
      cryptoThreads: 3,
      cryptoMaxQueue: 99,
      maxChipBodyBytes: 4096,
      auth: 'signatures',
      partiesFile: '/etc/idv/parties.yaml',
      receiptKeyFile: '/etc/idv/receipt-keys.json',
      receipts: false,
      signatureWindowSeconds: 30,
      nonceSlots: 4096,
      metrics: false,
      metricsPort: 9465,
      accessLogSample: 0.5,
      demoCitizens: 10,
      demoSeed: 4_294_967_295,
      allowEmpty: true,
      reusePort: true,
      audit: false,
      auditDir: '/var/lib/idv/audit',
      auditNode: 'hanoi-1',
      auditKeyFile: '/etc/idv/audit.key',
      auditSegmentEntries: 1000,
      auditSegmentSeconds: 3600,
      auditRetentionDays: 30,
      auditCheckpointMs: 500,
      auditSync: false,
      streamIdleSeconds: 5,
      receiptRows: 100,
      jobsDir: '/srv/idv/jobs',
      jobRetentionDays: 30,
      jobChunkBytes: 65536,
      replicate: '',
      nodeId: 'dc1-n1',
      maxLagSeconds: 9,
      fleetSecurity: false
    })
  })

  it('takes IDV_REPLICATE for one process, and refuses it with several (one applier per index)', () => {
    const servers = 'nats://127.0.0.1:4222,nats://127.0.0.1:4223'
    expect(loadConfig({ IDV_REPLICATE: servers })).toMatchObject({ replicate: servers, processes: 1 })
    expect(() => loadConfig({ IDV_REPLICATE: servers, IDV_PROCESSES: '2' })).toThrow(/IDV_REPLICATE \(--replicate\) runs one applier per index/)
    expect(() => loadConfig({ IDV_NODE_ID: 'a b' })).toThrow(/IDV_NODE_ID \(--node-id\) must be/)
  })

  it('names a fleet node\'s audit log after its node id, unless IDV_AUDIT_NODE says otherwise', () => {
    const servers = 'nats://127.0.0.1:4222'
    expect(loadConfig({ IDV_REPLICATE: servers, IDV_NODE_ID: 'dc1-n7' }).auditNode).toBe('dc1-n7')
    expect(loadConfig({ IDV_REPLICATE: servers, IDV_NODE_ID: 'dc1-n7', IDV_AUDIT_NODE: 'hanoi-7' }).auditNode).toBe('hanoi-7')
    expect(loadConfig({ IDV_NODE_ID: 'dc1-n7' }).auditNode).toBe(hostname())
  })

  it('shares the cores out among the processes when threads are not given', () => {
    const cores = availableParallelism()
    expect(loadConfig({ IDV_PROCESSES: '2' })).toMatchObject({ processes: 2, threads: Math.max(1, Math.floor(cores / 2)), cryptoThreads: Math.max(1, Math.floor(cores / 2)) })
    expect(loadConfig({ IDV_PROCESSES: String(cores * 4) })).toMatchObject({ threads: 1, cryptoThreads: 1 })
    expect(() => loadConfig({ IDV_PROCESSES: '0' })).toThrow(/IDV_PROCESSES \(--processes\) must be an integer from 1 to 256/)
  })

  it('refuses IDV_AUTH=none except on a loopback address', () => {
    expect(loadConfig({ IDV_AUTH: 'none' }).auth).toBe('none')
    expect(loadConfig({ IDV_AUTH: 'none', IDV_HOST: '127.0.0.2' }).auth).toBe('none')
    expect(loadConfig({ IDV_AUTH: 'none', IDV_HOST: '::1' }).auth).toBe('none')
    for (const host of ['0.0.0.0', '10.1.2.3', '::', 'idv.example.vn']) {
      expect(problems({ IDV_AUTH: 'none', IDV_HOST: host })[0]).toContain('loopback')
    }
    expect(problems({ IDV_AUTH: 'maybe' })[0]).toContain('signatures or none')
  })

  it('checks the metrics settings; an ephemeral service port gets an ephemeral metrics port', () => {
    expect(loadConfig({ IDV_PORT: '0' }).metricsPort).toBe(0)
    expect(loadConfig({ IDV_PORT: '0', IDV_METRICS_PORT: '9470' }).metricsPort).toBe(9470)
    expect(loadConfig({ IDV_ACCESS_LOG_SAMPLE: '1' }).accessLogSample).toBe(1)
    expect(loadConfig({ IDV_ACCESS_LOG_SAMPLE: '0' }).accessLogSample).toBe(0)
    expect(problems({ IDV_METRICS: 'maybe' })[0]).toContain('IDV_METRICS must be on or off')
    for (const bad of ['2', '-0.1', 'half', '1e-2']) expect(problems({ IDV_ACCESS_LOG_SAMPLE: bad })[0]).toContain('IDV_ACCESS_LOG_SAMPLE')
    expect(problems({ IDV_METRICS_PORT: '70000' })[0]).toContain('IDV_METRICS_PORT')
  })

  it('ENV_NAMES covers every setting with an IDV_ prefix', () => {
    expect(Object.keys(ENV_NAMES).sort()).toEqual(Object.keys(loadConfig({})).sort())
    for (const v of Object.values(ENV_NAMES)) expect(v).toMatch(/^IDV_[A-Z_]+$/)
  })

  it('the default key file follows IDV_DATA_DIR unless IDV_HASH_KEY_FILE is set', () => {
    expect(loadConfig({ IDV_DATA_DIR: '/srv/idv/index' }).hashKeyFile).toBe('/srv/idv/index.hash-key')
    expect(loadConfig({ IDV_DATA_DIR: '/srv/idv/index', IDV_HASH_KEY_FILE: '/k' }).hashKeyFile).toBe('/k')
    expect(loadConfig({}, { dataDir: '/a/b' }).hashKeyFile).toBe('/a/b.hash-key')
  })
})

describe('PORT and IDV_PORT', () => {
  it('PORT is used when IDV_PORT is not set', () => {
    expect(loadConfig({ PORT: '3000' }).port).toBe(3000)
  })

  it('IDV_PORT wins over PORT', () => {
    expect(loadConfig({ PORT: '3000', IDV_PORT: '4000' }).port).toBe(4000)
  })

  it('a --port flag wins over both', () => {
    expect(loadConfig({ PORT: '3000', IDV_PORT: '4000' }, { port: 5000 }).port).toBe(5000)
    expect(loadConfig({ PORT: '3000' }, { port: '5001' }).port).toBe(5001)
  })

  it('a bad PORT is reported under IDV_PORT', () => {
    const p = problems({ PORT: 'http' })
    expect(p).toHaveLength(1)
    expect(p[0]).toMatch(/^IDV_PORT \(--port\) must be an integer from 0 to 65535, got "http"$/)
  })

  it('accepts 0 (ephemeral) and 65535, refuses -1, 65536 and fractions', () => {
    expect(loadConfig({ IDV_PORT: '0' }).port).toBe(0)
    expect(loadConfig({ IDV_PORT: '65535' }).port).toBe(65535)
    for (const p of ['-1', '65536', '80.5', 'eighty']) expect(problems({ IDV_PORT: p }), p).toHaveLength(1)
  })
})

describe('flags over environment', () => {
  it('flags win for every kind of setting, strings and numbers', () => {
    const env = { IDV_HOST: 'env-host', IDV_DATA_DIR: '/env', IDV_STORE: 'lmdb', IDV_LOG_LEVEL: 'warn', IDV_MAX_BATCH_ITEMS: '7', IDV_DEMO_SEED: '3' }
    const c = loadConfig(env, { host: 'flag-host', dataDir: '/flag', store: 'native-free', logLevel: 'error', maxBatchItems: 9, demoSeed: '11' })
    expect(c.host).toBe('flag-host')
    expect(c.dataDir).toBe('/flag')
    expect(c.hashKeyFile).toBe('/flag.hash-key')
    expect(c.store).toBe('native-free')
    expect(c.logLevel).toBe('error')
    expect(c.maxBatchItems).toBe(9)
    expect(c.demoSeed).toBe(11)
  })

  it('an undefined flag falls through to the environment', () => {
    expect(loadConfig({ IDV_HOST: 'env-host' }, { host: undefined }).host).toBe('env-host')
  })

  it('a bad flag is reported even when the environment value is good', () => {
    const p = problems({ IDV_MAX_BATCH_ITEMS: '5' }, { maxBatchItems: 0 })
    expect(p).toHaveLength(1)
    expect(p[0]).toContain('--max-batch-items')
  })
})

describe('validation', () => {
  it('reports several bad values together in one ConfigError', () => {
    const env = {
      IDV_PORT: 'abc',
      IDV_STORE: 'redis',
      IDV_LOG_LEVEL: 'loud',
      IDV_MAX_BODY_BYTES: '100',
      IDV_MAX_BATCH_BODY_BYTES: '1e12',
      IDV_MAX_BATCH_ITEMS: '0',
      IDV_DEMO_CITIZENS: '1.5',
      IDV_DEMO_SEED: '-1'
    }
    let err: unknown
    try { loadConfig(env) } catch (e) { err = e }
    expect(err).toBeInstanceOf(ConfigError)
    const e = err as ConfigError
    expect(e.problems.length).toBe(8)
    const joined = e.problems.join('\n')
    for (const name of Object.keys(env)) expect(joined, name).toContain(name)
    expect(e.message).toContain('invalid configuration')
    for (const p of e.problems) expect(e.message).toContain(p)
  })

  it('every problem names a flag that exists: each setting is a flag of idv serve', () => {
    for (const name of Object.keys(ENV_NAMES) as Array<keyof typeof ENV_NAMES>) expect(SETTING_HELP[name], name).toBeTruthy()
    expect(flagName('maxBatchItems')).toBe('--max-batch-items')
    expect(problems({ IDV_MAX_BATCH_ITEMS: '0' })[0]).toContain('IDV_MAX_BATCH_ITEMS (--max-batch-items)')
    expect(problems({ IDV_ALLOW_EMPTY: 'maybe' })[0]).toContain('IDV_ALLOW_EMPTY (--allow-empty) must be on or off')
    expect(loadConfig({}, { allowEmpty: true }).allowEmpty).toBe(true)
  })

  it('bounds of the integer settings', () => {
    expect(loadConfig({ IDV_MAX_BODY_BYTES: '256' }).maxBodyBytes).toBe(256)
    expect(problems({ IDV_MAX_BODY_BYTES: '255' })).toHaveLength(1)
    expect(loadConfig({ IDV_MAX_BODY_BYTES: String(1024 ** 3) }).maxBodyBytes).toBe(1024 ** 3)
    expect(problems({ IDV_MAX_BODY_BYTES: String(1024 ** 3 + 1) })).toHaveLength(1)
    expect(loadConfig({ IDV_MAX_BATCH_ITEMS: '1' }).maxBatchItems).toBe(1)
    expect(loadConfig({ IDV_MAX_BATCH_ITEMS: '1000000' }).maxBatchItems).toBe(1_000_000)
    expect(problems({ IDV_MAX_BATCH_ITEMS: '1000001' })).toHaveLength(1)
    expect(loadConfig({ IDV_DEMO_CITIZENS: '200000000' }).demoCitizens).toBe(200_000_000)
    expect(problems({ IDV_DEMO_CITIZENS: '200000001' })).toHaveLength(1)
    expect(loadConfig({ IDV_DEMO_SEED: '0' }).demoSeed).toBe(0)
    expect(problems({ IDV_DEMO_SEED: '4294967296' })).toHaveLength(1)
  })

  it('store and log level must be from their lists', () => {
    for (const level of ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']) expect(loadConfig({ IDV_LOG_LEVEL: level }).logLevel).toBe(level)
    expect(problems({ IDV_LOG_LEVEL: 'INFO' })).toHaveLength(1)
    expect(problems({ IDV_STORE: 'LMDB' })).toHaveLength(1)
    expect(problems({ IDV_STORE: 'redis' })[0]).toContain('"redis"')
  })
})

describe('result', () => {
  it('is frozen', () => {
    const c = loadConfig({})
    expect(Object.isFrozen(c)).toBe(true)
    expect(() => { (c as { port: number }).port = 1 }).toThrow(TypeError)
    expect(c.port).toBe(8080)
  })
})

describe('defaultHashKeyFile', () => {
  for (const dataDir of ['./data', 'data', 'data/', '/var/lib/idv/index', '/var/lib/idv/index/', '../elsewhere/idx', 'a/b/c']) {
    it(`sits next to, not inside, ${JSON.stringify(dataDir)}`, () => {
      const abs = resolve(dataDir)
      const file = defaultHashKeyFile(dataDir)
      expect(file).toBe(resolve(file)) // absolute
      expect(dirname(file)).toBe(dirname(abs))
      expect(file.startsWith(abs + sep)).toBe(false)
      expect(relative(abs, file).startsWith('..')).toBe(true)
    })
  }

  it('names the file after the data directory', () => {
    expect(defaultHashKeyFile('/var/lib/idv/index')).toBe('/var/lib/idv/index.hash-key')
    expect(defaultHashKeyFile('/var/lib/idv/index/')).toBe('/var/lib/idv/index.hash-key')
    expect(defaultHashKeyFile('data')).toBe(join(process.cwd(), 'data.hash-key'))
  })
})

describe('docs/configuration.md', () => {
  const documented = [...readFileSync(join(packageRoot(), 'docs', 'configuration.md'), 'utf8').matchAll(/^\| `(IDV_[A-Z0-9_]+)`/gm)].map((m) => m[1])

  it('documents every setting once, and nothing that is not one', () => {
    expect([...documented].sort()).toEqual(Object.values(ENV_NAMES).sort())
  })
})
