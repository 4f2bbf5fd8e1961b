/**
 * Fleet-wide security state (issue 21): on a node that replicates
 * (`idv serve --replicate nats://…`, IDV_REPLICATE) with signatures on, the
 * relying parties, their keys and policies come from one place, and a nonce or
 * a unit of quota used on one node is used for the fleet.
 *
 * - Parties: the process part follows the KV document `idv_parties/parties`
 *   (party-bucket.ts; `idv party … --nats` edits it) and writes each valid
 *   revision to this node's parties file, which every thread's admission
 *   gate reloads by itself; the request path is unchanged. The revision is the
 *   node's config version: metric `idv_fleet_config_version`, and the
 *   `config.<node>` key of the fleet bucket that `idv fleet status` prints.
 *   A revision that fails validation is refused (the last good one stays,
 *   `idv_fleet_config_refused_total`, an error log line).
 * - Nonces and quota: each thread's gate gets a FleetGate (fleet-gate.ts) as
 *   its fleet check: one create-only KV write per signed request, a block
 *   lease now and then for parties with a daily quota; NATS out of reach →
 *   503 IDV_ERR_FLEET_UNAVAILABLE. `idv_fleet_security_checks_total{outcome}`.
 *
 * Rate limits (requests/s) and the rows a stream or job takes from the quota
 * stay per node (docs/design/fleet-security.md says why).
 */
import { SCRAPE, type Capability, type CounterFamily } from '../capability.js'
import { ADMISSION, type Caller, type FleetCheck } from '../admission/index.js'
import { connectFleet, FLEET_BUCKET } from '../replication/index.js'
import type { ServiceError } from '../errors.js'
import type { Logger } from '../log.js'
import { CHECK_OUTCOMES, FleetGate, NONCE_BUCKET, QUOTA_BUCKET, type CheckOutcome } from './fleet-gate.js'
import { ensureBucket, installFleetParties, openPartiesBucket, PARTIES_KEY, readFleetParties } from './party-bucket.js'
import { configKey, type ConfigReport } from './config-report.js'
import type { KV } from '@nats-io/kv'
import type { NatsConnection } from '@nats-io/transport-node'
import './codes.js'

export { editFleetParties, openPartiesBucket, readFleetParties, PARTIES_BUCKET } from './party-bucket.js'
export { configKey, configReports, type ConfigReport } from './config-report.js'

/** No answer from JetStream within this: the request is refused (503), not held. */
const CHECK_TIMEOUT_MS = 2_000
/** How long a node waits at start for the fleet's registry before serving its own file. */
const FIRST_SYNC_MS = 5_000
/** Quota blocks are kept two days: a day's keys outlive the day wherever it starts. */
const QUOTA_TTL_MS = 2 * 86_400_000
/** Between tries to open the buckets or follow the registry again. */
const RETRY_MS = 1_000

const sleep = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }

const CHECKS: CounterFamily = {
  name: 'idv_fleet_security_checks_total',
  help: 'Fleet-wide checks of signed requests (nonce, quota) by outcome: admitted, replay (nonce used on another node), quota (fleet quota used up), unavailable (NATS out of reach: 503).',
  labels: [{ name: 'outcome', values: CHECK_OUTCOMES }]
}

interface FleetShare {
  readonly servers: string
  readonly nodeId: string
}

export const fleetSecurity: Capability<FleetShare> = {
  name: 'fleet-security',
  metrics: [CHECKS],
  async process (ctx) {
    if (ctx.config.replicate === '' || ctx.config.auth !== 'signatures' || !ctx.config.fleetSecurity) return {}
    const log = ctx.log.child({ fleetSecurity: ctx.config.nodeId })
    const follower = new PartiesFollower(ctx.config.replicate, ctx.config.nodeId, ctx.config.partiesFile, ctx.config.signatureWindowSeconds, log)
    await follower.start(FIRST_SYNC_MS)
    const scrape = ctx.use(SCRAPE)
    scrape?.add({ name: 'idv_fleet_config_version', help: 'The fleet party registry\'s revision (idv_parties) this node enforces; 0: none received yet.', type: 'gauge', values: () => [{ labels: {}, value: follower.version }] })
    scrape?.add({ name: 'idv_fleet_config_refused_total', help: 'Revisions of the fleet party registry refused as invalid (the last good one stays in force).', type: 'counter', values: () => [{ labels: {}, value: follower.refused }] })
    const share: FleetShare = { servers: ctx.config.replicate, nodeId: ctx.config.nodeId }
    return {
      local: share,
      share: () => ({ value: share }),
      serving: () => ({ fleetConfigVersion: follower.version }),
      close: async () => { await follower.stop() }
    }
  },
  thread (ctx, share) {
    const admission = ctx.use(ADMISSION)
    if (share === undefined || admission === undefined) return undefined
    const counter = ctx.counter(CHECKS)
    const check = new ConnectingCheck(share, (outcome) => { counter.add(0, CHECK_OUTCOMES.indexOf(outcome)) }, ctx.log)
    admission.useFleetCheck(check)
    return { close: async () => { await check.close() } }
  }
}

/**
 * A thread's fleet check: refuses (503) until its connection and buckets are
 * open, then hands every check to the FleetGate. Connecting runs in the
 * background so a node whose NATS is down still starts (and refuses signed
 * requests until it is up, as a cut-off node must).
 */
class ConnectingCheck implements FleetCheck {
  #gate: FleetGate | undefined
  #nc: NatsConnection | undefined
  #closed = false
  readonly #record: (outcome: CheckOutcome) => void

  constructor (share: FleetShare, record: (outcome: CheckOutcome) => void, log: Logger) {
    this.#record = record
    void this.#connect(share, log)
  }

  async #connect (share: FleetShare, log: Logger): Promise<void> {
    // Until it works (JetStream may still be electing its leaders): every failed try is logged, requests meanwhile get 503.
    while (!this.#closed && this.#gate === undefined) {
      try {
        this.#nc ??= await connectFleet(share.servers, { name: `idv-fleet-security-${share.nodeId}`, waitOnFirstConnect: true })
        if (this.#closed) break
        this.#gate = await FleetGate.open(this.#nc, { nodeId: share.nodeId, timeoutMs: CHECK_TIMEOUT_MS, record: this.#record })
      } catch (err) {
        if (this.#closed) break
        log.error({ err }, 'fleet security: cannot open the nonce and quota buckets yet; signed requests are refused (503) meanwhile')
        await sleep(RETRY_MS)
      }
    }
    if (this.#closed) await this.#nc?.close().catch(() => {})
  }

  check (caller: Caller, quota: number, done: (refusal: ServiceError | undefined) => void): void {
    if (this.#gate !== undefined) { this.#gate.check(caller, quota, done); return }
    this.#record('unavailable')
    FleetGate.refuseUnavailable(done)
  }

  async close (): Promise<void> {
    this.#closed = true
    await this.#nc?.close().catch(() => {})
  }
}

/**
 * The process's follower of the fleet registry: installs each valid revision
 * into the node's parties file and reports the version it enforces.
 */
class PartiesFollower {
  version = 0
  refused = 0
  readonly #servers: string
  readonly #nodeId: string
  readonly #file: string
  readonly #nonceTtlMs: number
  readonly #log: Logger
  #nc: NatsConnection | undefined
  #fleet: KV | undefined
  /** The last revision looked at, installed or refused (each is judged once). */
  #seen = 0
  #stopping = false
  #running: Promise<void> | undefined

  constructor (servers: string, nodeId: string, file: string, windowSeconds: number, log: Logger) {
    this.#servers = servers
    this.#nodeId = nodeId
    this.#file = file
    // A nonce is live until its `created` (up to the window ahead of our clock) plus the window: twice the window, and a margin.
    this.#nonceTtlMs = (2 * windowSeconds + 5) * 1000
    this.#log = log
  }

  /** Connects, makes the buckets, installs the fleet's registry; gives up waiting after `waitMs` (the node then serves its own file and keeps trying). */
  async start (waitMs: number): Promise<void> {
    let first: () => void = () => {}
    const synced = new Promise<void>((resolve) => { first = resolve })
    this.#running = this.#follow(first)
    let timer: NodeJS.Timeout | undefined
    const waited = await Promise.race([synced.then(() => true), new Promise<boolean>((resolve) => { timer = setTimeout(() => { resolve(false) }, waitMs) })])
    clearTimeout(timer)
    if (!waited) this.#log.warn({ waitMs }, 'fleet security: the fleet party registry was not reached at start; serving the parties file as it is until it is')
  }

  /** Follows the registry until stopped; a failure (buckets not yet creatable, a watch ended) is logged and tried again. */
  async #follow (synced: () => void): Promise<void> {
    while (!this.#stopping) {
      try {
        await this.#run(synced)
      } catch (err) {
        if (!this.#stopping) this.#log.error({ err }, 'fleet security: following the fleet party registry failed; trying again')
      }
      if (!this.#stopping) await sleep(RETRY_MS)
    }
  }

  async #run (synced: () => void): Promise<void> {
    this.#nc ??= await connectFleet(this.#servers, { name: `idv-fleet-config-${this.#nodeId}`, waitOnFirstConnect: true })
    const nc = this.#nc
    if (this.#stopping) { await nc.close().catch(() => {}); return }
    await ensureBucket(nc, NONCE_BUCKET, { ttlMs: this.#nonceTtlMs })
    await ensureBucket(nc, QUOTA_BUCKET, { ttlMs: QUOTA_TTL_MS })
    this.#fleet = await ensureBucket(nc, FLEET_BUCKET, { history: 1 })
    const parties = await openPartiesBucket(nc)
    const current = await readFleetParties(parties)
    if (current.text !== undefined && current.revision > this.#seen) this.#install(current.text, current.revision)
    await this.#report()
    synced()
    const watch = await parties.watch({ key: PARTIES_KEY })
    for await (const entry of watch) {
      if (this.#stopping) break
      if (entry.operation !== 'PUT' || entry.revision <= this.#seen) continue
      this.#install(entry.string(), entry.revision)
      await this.#report()
    }
  }

  #install (text: string, revision: number): void {
    this.#seen = revision
    const result = installFleetParties(this.#file, text, revision)
    if (result.ok) {
      this.version = revision
      this.#log.info({ configVersion: revision, parties: result.parties }, 'fleet party registry installed')
    } else {
      this.refused++
      this.#log.error({ configVersion: revision, problems: result.problems, kept: this.version }, 'fleet party registry refused: it is invalid; the last good one stays in force')
    }
  }

  async #report (): Promise<void> {
    const report: ConfigReport = { nodeId: this.#nodeId, configVersion: this.version, reportedAt: new Date().toISOString() }
    await this.#fleet?.put(configKey(this.#nodeId), JSON.stringify(report)).catch((err: unknown) => { this.#log.debug({ err }, 'config report failed') })
  }

  async stop (): Promise<void> {
    this.#stopping = true
    await this.#nc?.close().catch(() => {})
    // A first connection still being waited for cannot be cancelled: it is closed when it comes (#run).
    await Promise.race([this.#running, sleep(2 * RETRY_MS)])
  }
}
