/**
 * The fleet-wide half of admission, run after the node's own gate accepted a
 * signed request (src/admission/admission.ts `admitted`):
 *
 * - Nonce: a create-only write of `n.<hash>` into the KV bucket `idv_nonces`
 *   (hash: SHA-256 of party id, 0, nonce, the node's own nonce hash; the
 *   nonce never travels in plain). JetStream refuses a create of a key that
 *   exists, on whichever node it comes from, so a nonce is accepted once in
 *   the fleet; the refusal is the same 401 IDV_ERR_REPLAY a node gives a local
 *   replay. The bucket's TTL outlives every nonce's window, so keys expire
 *   by themselves. Create-only, not compare-and-swap counters: CAS updates lost
 *   writes on nats-server 2.9.10 R3 when measured; creates were exact.
 * - Quota: a party's daily quota is cut into blocks (1% of it, at least one
 *   unit); a node leases the next free block with a create-only write of
 *   `q.<party>.<day>.<block>` into `idv_quota`, spends it locally, and leases
 *   another when it runs out. Blocks partition the quota, so the fleet never
 *   admits more than it; what a node leased and did not spend is the only
 *   error (an early refusal), at most one block per gate in the fleet.
 *   A request that fits its gate's lease pays no round trip.
 *
 * NATS out of reach (disconnected, or no answer in `timeoutMs`): the request
 * is refused with 503 IDV_ERR_FLEET_UNAVAILABLE. Failing open would let a
 * replay through on another node; failing closed costs availability only while
 * the node is cut off from NATS, which is when it is also not being kept current.
 *
 * One gate per server thread (each with its own connection), so the threads of
 * a node lease their own blocks.
 */
import { hash } from 'node:crypto'
import type { NatsConnection } from '@nats-io/transport-node'
import { jetstream } from '@nats-io/jetstream'
import { Kvm, type KV } from '@nats-io/kv'
import { ServiceError } from '../errors.js'
import { nonceRefusal } from '../signatures/message-signature.js'
import type { Caller, FleetCheck } from '../admission/index.js'
import { WRONG_LAST_SEQUENCE } from './party-bucket.js'
import './codes.js'

export const NONCE_BUCKET = 'idv_nonces'
export const QUOTA_BUCKET = 'idv_quota'
/** Share of a daily quota one lease takes: N gates leave at most N% of it unspent. */
export const QUOTA_BLOCK_SHARE = 0.01
const DAY_MS = 86_400_000
const DAY_OFFSET_MS = 420 * 60_000 // the quota day starts at midnight in Vietnam, as the node's own (rate-limiter.ts)

/** How a check ended, for `idv_fleet_security_checks_total{outcome}` (the order is the label's). */
export const CHECK_OUTCOMES = ['admitted', 'replay', 'quota', 'unavailable'] as const
export type CheckOutcome = typeof CHECK_OUTCOMES[number]

export interface FleetGateOptions {
  readonly nodeId: string
  /** No answer from JetStream in this time: 503. */
  readonly timeoutMs: number
  readonly record: (outcome: CheckOutcome) => void
}

interface Lease {
  day: number
  /** Units leased and not yet spent. */
  left: number
  /** The next block to try to lease. */
  next: number
  /** Every block of the day is leased by someone. */
  exhausted: boolean
  /** Leasing in progress: later requests of the party wait for it. */
  leasing: Promise<void> | undefined
}

export class FleetGate implements FleetCheck {
  readonly #nc: NatsConnection
  readonly #nonces: KV
  readonly #quota: KV
  readonly #o: FleetGateOptions
  readonly #leases = new Map<string, Lease>()
  #connected = true

  private constructor (nc: NatsConnection, nonces: KV, quota: KV, o: FleetGateOptions) {
    this.#nc = nc
    this.#nonces = nonces
    this.#quota = quota
    this.#o = o
    void this.#followStatus()
  }

  /** Opens the buckets (made by the process part) on a connection of this thread. */
  static async open (nc: NatsConnection, o: FleetGateOptions): Promise<FleetGate> {
    const js = jetstream(nc, { timeout: o.timeoutMs })
    const kvm = new Kvm(js)
    return new FleetGate(nc, await kvm.open(NONCE_BUCKET), await kvm.open(QUOTA_BUCKET), o)
  }

  /** The answer to a check while no gate is open yet (the thread still connecting). */
  static refuseUnavailable (done: (refusal: ServiceError | undefined) => void): void {
    done(refusalOf('unavailable', undefined))
  }

  async #followStatus (): Promise<void> {
    for await (const s of this.#nc.status()) {
      if (s.type === 'disconnect') this.#connected = false
      else if (s.type === 'reconnect') this.#connected = true
    }
  }

  /** FleetCheck: done(undefined) to admit, done(refusal) to refuse. Never throws, never calls done twice. */
  check (caller: Caller, quota: number, done: (refusal: ServiceError | undefined) => void): void {
    this.#check(caller, quota).then((outcome) => {
      this.#o.record(outcome)
      done(refusalOf(outcome, caller))
    }, () => {
      this.#o.record('unavailable')
      done(refusalOf('unavailable', caller))
    })
  }

  async #check (caller: Caller, quota: number): Promise<CheckOutcome> {
    if (!this.#connected || this.#nc.isClosed()) return 'unavailable'
    try {
      await this.#nonces.create(nonceKey(caller.party.id, caller.nonce), this.#o.nodeId)
    } catch (err) {
      if (exists(err)) return 'replay'
      throw err
    }
    const daily = caller.party.rate.dailyQuota
    if (quota === 0 || daily === undefined) return 'admitted'
    return await this.#take(caller.party.id, daily, quota, Date.now()) ? 'admitted' : 'quota'
  }

  /** Takes `units` of the party's fleet quota for today from this gate's lease, leasing blocks as needed. */
  async #take (party: string, daily: number, units: number, nowMs: number): Promise<boolean> {
    const day = Math.floor((nowMs + DAY_OFFSET_MS) / DAY_MS)
    let lease = this.#leases.get(party)
    if (lease === undefined || lease.day !== day) {
      lease = { day, left: 0, next: 0, exhausted: false, leasing: undefined }
      this.#leases.set(party, lease)
    }
    while (lease.left < units && !lease.exhausted) {
      if (lease.leasing === undefined) {
        lease.leasing = this.#leaseBlock(party, daily, lease).finally(() => { lease.leasing = undefined })
      }
      await lease.leasing
    }
    if (lease.left < units) return false
    lease.left -= units
    return true
  }

  async #leaseBlock (party: string, daily: number, lease: Lease): Promise<void> {
    const size = blockSize(daily)
    const blocks = Math.ceil(daily / size)
    while (lease.next < blocks) {
      const block = lease.next++
      try {
        await this.#quota.create(`q.${party}.${lease.day}.${block}`, this.#o.nodeId)
        lease.left += block === blocks - 1 ? daily - size * (blocks - 1) : size
        return
      } catch (err) {
        if (!exists(err)) { lease.next--; throw err } // try this block again next time
      }
    }
    lease.exhausted = true
  }
}

/** Units in one lease of a daily quota. */
export function blockSize (daily: number): number {
  return Math.max(1, Math.floor(daily * QUOTA_BLOCK_SHARE))
}

/** `n.` + 128 bits of SHA-256(party ‖ 0 ‖ nonce) in base64url: KV keys allow [-_A-Za-z0-9]. */
export function nonceKey (partyId: string, nonce: string): string {
  return `n.${hash('sha256', `${partyId}\0${nonce}`, 'buffer').subarray(0, 16).toString('base64url')}`
}

function exists (err: unknown): boolean {
  const code = (err as { code?: unknown }).code
  return code === WRONG_LAST_SEQUENCE || /wrong last sequence/i.test(String((err as Error).message))
}

function refusalOf (outcome: CheckOutcome, caller: Caller | undefined): ServiceError | undefined {
  switch (outcome) {
    case 'admitted': return undefined
    case 'replay': { const f = nonceRefusal('replay'); return new ServiceError(f.code, f.detail) } // the words of a local replay
    case 'quota': {
      const nowMs = Date.now()
      const nextDay = (Math.floor((nowMs + DAY_OFFSET_MS) / DAY_MS) + 1) * DAY_MS - DAY_OFFSET_MS
      return new ServiceError('IDV_ERR_QUOTA_EXCEEDED', `daily quota of ${caller?.party.rate.dailyQuota ?? 0} used up`, Math.max(1, Math.ceil((nextDay - nowMs) / 1000)))
    }
    case 'unavailable': return new ServiceError('IDV_ERR_FLEET_UNAVAILABLE', 'the fleet\'s nonce and quota store cannot be reached from this node')
  }
}
