/**
 * A node's side of the feed: one durable pull consumer named after the node,
 * changes applied in stream order through applyBatch (one transaction per
 * batch, the applied sequence in it), then acknowledged (AckPolicy.All: one
 * ack covers the batch). Messages are queued as they arrive and applied while
 * the previous batch commits, so batches grow with the load and shrink to one
 * change when the feed is quiet.
 *
 * Lag: the replicator asks the stream for its last sequence every second,
 * and for the publish time of the first change it has not applied. The node is
 * known current up to that time (or up to the probe, when it had everything);
 * lag in seconds is how long ago that was, computed when read (status.ts), so
 * a partition that hides new changes still makes the lag grow and the node
 * turn not ready, even while a probe hangs on the lost connection.
 *
 * A gap in the feed, or a stream that no longer holds the changes after the
 * index, makes the node re-bootstrap in place from a snapshot that covers it
 * (rebootstrap.ts), then follow again.
 *
 * Every second the node also writes its report (applied, lag, readiness) into
 * the fleet KV bucket: `idv fleet status` reads it, and the producer prunes its
 * outbox up to the lowest applied sequence of the registered nodes.
 */
import type { NatsConnection } from '@nats-io/transport-node'
import { AckPolicy, DeliverPolicy, jetstream, type ConsumerMessages, type JetStreamManager, type JsMsg } from '@nats-io/jetstream'
import { Kvm, type KV } from '@nats-io/kv'
import type { Logger } from '../log.js'
import type { StorageCore } from '../store/types.js'
import { StoreConflictError } from '../store/types.js'
import { applyBatch, appliedSequence } from './apply.js'
import { connectFleet, fleetManager, FLEET_BUCKET, nodeKey, STREAM } from './feed.js'
import { rebootstrap, type BootstrapState, type SnapshotSource } from './rebootstrap.js'
import { ReplicaState, ReplicaStatus, STATE_NAMES, type ReplicaStateCode } from './status.js'
import type { StoreKind } from '../config.js'

export interface ReplicatorOptions {
  readonly servers: string
  readonly nodeId: string
  readonly store: StorageCore
  /** The first bytes of this node's hash-key fingerprint (src/replication/wire.ts). */
  readonly keyTag: Uint8Array
  readonly status: ReplicaStatus
  readonly log: Logger
  /** How often lag is measured and the node reports (ms). */
  readonly probeMs?: number
  /** Changes applied in one transaction at most. */
  readonly maxBatch?: number
  /** Where to re-bootstrap from on a gap; without it the node stays stopped (not ready) until restarted. */
  readonly rebootstrap?: {
    readonly snapshots: SnapshotSource
    readonly engine: StoreKind
    readonly dataDir: string
    readonly keyFingerprint: Uint8Array
    readonly pollMs?: number
  }
}

/** What a node reports into the fleet bucket. */
export interface NodeReport {
  readonly nodeId: string
  readonly applied: number
  readonly last: number
  readonly lagChanges: number
  readonly lagSeconds: number
  readonly state: string
  readonly ready: boolean
  readonly reason?: string
  readonly reportedAt: string
  /** The fleet party registry's revision the node enforces: reported by src/fleet-security under `config.<id>`, joined in by `idv fleet status`. */
  readonly configVersion?: number
}

/** Totals since start, for metrics. */
export interface ReplicatorCounts {
  applied: number
  duplicates: number
  rejected: number
  batches: number
  /** Time spent in apply transactions (s). */
  applySeconds: number
  /** Re-bootstraps completed. */
  bootstraps: number
  /** The last re-bootstrap's duration (s), from the gap to the index moved to the snapshot (the wait for one included). */
  bootstrapSeconds: number
  /** The sequence of the snapshot last restored (0: none since start). */
  bootstrapSnapshotSequence: number
}

const ACK_PENDING = 20_000
const STALL_MS = 3_000

export class Replicator {
  readonly counts: ReplicatorCounts = { applied: 0, duplicates: 0, rejected: 0, batches: 0, applySeconds: 0, bootstraps: 0, bootstrapSeconds: 0, bootstrapSnapshotSequence: 0 }
  bootstrapState: BootstrapState = 'idle'
  readonly #o: ReplicatorOptions
  readonly #status: ReplicaStatus
  #nc: NatsConnection | undefined
  #jsm: JetStreamManager | undefined
  #kv: KV | undefined
  #messages: ConsumerMessages | undefined
  readonly #queue: JsMsg[] = []
  #applying: Promise<void> | undefined
  #applied: number
  #state: ReplicaStateCode = ReplicaState.connecting
  /** The stream's last sequence at the last probe or delivery. */
  #last = 0
  /** Time (ms) up to which this node is known to hold every change; NaN until the feed is first measured. */
  #currentAt = Number.NaN
  /** Time (ms) #last was learned (a probe, or a delivery that said nothing was pending). */
  #seenAt = Number.NaN
  /** The sequence a re-bootstrap waits for a snapshot to reach (0: none). */
  #waitingFor = 0
  #timer: NodeJS.Timeout | undefined
  /** When the node last applied something or was current: a follower behind with no progress for STALL_MS starts again. */
  #progressAt = Date.now()
  /** When the stream being followed was created: another value means it was made again (a DR promotion or fail back). */
  #streamCreated: string | undefined
  #stopping = false
  #running: Promise<void> | undefined

  constructor (o: ReplicatorOptions) {
    this.#o = o
    this.#status = o.status
    this.#applied = appliedSequence(o.store)
    // Stream info older than two probes no longer counts as current (status.ts).
    this.#status.init(2 * (o.probeMs ?? 1_000))
    this.#publishStatus()
  }

  get applied (): number { return this.#applied }

  /** Connects in the background (a node serves its consistent, stale index meanwhile, not ready). */
  start (): void {
    this.#running = this.#run().catch((err: unknown) => {
      if (!this.#stopping) this.#o.log.error({ err }, 'replication stopped')
    })
    const probeMs = this.#o.probeMs ?? 1_000
    this.#timer = setInterval(() => { void this.#probe() }, probeMs)
    this.#timer.unref()
  }

  async stop (): Promise<void> {
    this.#stopping = true
    if (this.#timer !== undefined) clearInterval(this.#timer)
    await this.#messages?.close().catch(() => {})
    await this.#applying
    await this.#running
    await this.#nc?.close().catch(() => {})
  }

  async #run (): Promise<void> {
    const nc = await connectFleet(this.#o.servers, { name: `idv-node-${this.#o.nodeId}`, waitOnFirstConnect: true, onlyListed: true })
    this.#nc = nc
    if (this.#stopping) return
    const jsm = await fleetManager(nc)
    this.#jsm = jsm
    // The consumer's iterator ends when a server it pulled from dies or its consumer goes away: start it again
    // (from what the index holds) until the node stops or meets a reason to stop applying; a gap re-bootstraps first.
    while (!this.#stopping) {
      if (this.#state === ReplicaState.gap || this.#state === ReplicaState.needsBootstrap) {
        if (this.#o.rebootstrap === undefined) return
        try {
          await this.#rebootstrap(nc)
        } catch (err) {
          if (this.#stopping) return
          this.#o.log.error({ err: String(err) }, 're-bootstrap failed: trying again')
          await new Promise((resolve) => setTimeout(resolve, this.#o.rebootstrap?.pollMs ?? 2_000))
        }
      } else if (this.#state === ReplicaState.connecting || this.#state === ReplicaState.following) {
        try {
          await this.#follow(nc, jsm)
        } catch (err) {
          if (this.#stopping) return
          this.#o.log.warn({ err: String(err) }, 'following the change feed failed: starting again')
        }
        await this.#applying
      } else {
        return
      }
      if (!this.#stopping) await new Promise((resolve) => setTimeout(resolve, 500))
    }
  }

  /** Waits for a snapshot past the hole, moves the index to it in one transaction, then follows again. */
  async #rebootstrap (nc: NatsConnection): Promise<void> {
    const r = this.#o.rebootstrap!
    const started = performance.now()
    const result = await rebootstrap({
      nc,
      store: this.#o.store,
      snapshots: r.snapshots,
      engine: r.engine,
      dataDir: r.dataDir,
      keyFingerprint: r.keyFingerprint,
      atLeast: this.#waitingFor,
      log: this.#o.log,
      pollMs: r.pollMs,
      stopping: () => this.#stopping,
      onState: (state) => { this.bootstrapState = state }
    })
    if (result === undefined) return
    this.#applied = result.applied
    this.#waitingFor = 0
    this.counts.bootstraps++
    this.counts.bootstrapSeconds = (performance.now() - started) / 1000
    this.counts.bootstrapSnapshotSequence = result.applied
    this.#state = ReplicaState.connecting
    this.#publishStatus()
  }

  async #follow (nc: NatsConnection, jsm: JetStreamManager): Promise<void> {
    this.#kv ??= await new Kvm(nc).open(FLEET_BUCKET).catch(() => undefined)
    const info = await jsm.streams.info(STREAM)
    this.#last = info.state.last_seq
    this.#streamCreated = info.created
    // A stream whose oldest change is past the next one this index needs cannot bring it up to date.
    if (info.state.messages > 0 && info.state.first_seq > this.#applied + 1) { this.#stop(ReplicaState.needsBootstrap, `the stream begins at seq ${info.state.first_seq}, and this index holds changes up to ${this.#applied}`, info.state.first_seq - 1); return }
    await this.#ensureConsumer(jsm)
    // Ready only once the lag is measured: a node far behind must not count as current before its first probe.
    await this.#measure(jsm)
    const consumer = await jetstream(nc).consumers.get(STREAM, this.#o.nodeId)
    this.#queue.length = 0 // left by an iterator that ended (its messages come again from the new consumer)
    this.#messages = await consumer.consume({ max_messages: 5_000 })
    this.#state = ReplicaState.following
    this.#publishStatus()
    for await (const m of this.#messages) {
      this.#queue.push(m)
      this.#applying ??= this.#drain()
    }
  }

  /**
   * The node's durable consumer, starting after what the index holds. One that
   * delivered past the index (the index was restored from an older snapshot, or
   * an earlier iterator ended with messages unapplied) is made again: the index,
   * not the consumer, says what was applied.
   */
  async #ensureConsumer (jsm: JetStreamManager): Promise<void> {
    const name = this.#o.nodeId
    try {
      const existing = await jsm.consumers.info(STREAM, name)
      // Delivered but not applied (an iterator that ended with a server) would wait ack_wait for redelivery:
      // reposition instead, as for a consumer that acknowledged past the index or short of it (a re-bootstrap).
      if (existing.delivered.stream_seq === this.#applied) return
      this.#o.log.info({ delivered: existing.delivered.stream_seq, ackFloor: existing.ack_floor.stream_seq, applied: this.#applied }, 'repositioning the consumer after the index\'s sequence')
      await jsm.consumers.delete(STREAM, name)
    } catch (err) {
      if ((err as { code?: number }).code !== 10014) throw err
    }
    await jsm.consumers.add(STREAM, {
      durable_name: name,
      ack_policy: AckPolicy.All,
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: this.#applied + 1,
      max_ack_pending: ACK_PENDING,
      ack_wait: nanos(30_000)
    })
  }

  /** Applies what is queued, batch after batch, until the queue is empty. */
  async #drain (): Promise<void> {
    try {
      while (this.#queue.length > 0 && this.#state === ReplicaState.following) {
        const batch = this.#queue.splice(0, this.#o.maxBatch ?? 10_000)
        await this.#applyOne(batch)
      }
    } finally {
      this.#applying = undefined
    }
  }

  async #applyOne (batch: JsMsg[]): Promise<void> {
    let result
    const started = performance.now()
    try {
      result = await applyBatch(this.#o.store, batch.map((m) => ({ data: m.data, streamSeq: m.seq })), this.#o.keyTag)
    } catch (err) {
      if (err instanceof StoreConflictError) { this.#stop(ReplicaState.conflict, err.message); return }
      throw err
    } finally {
      this.counts.applySeconds += (performance.now() - started) / 1000
    }
    this.#applied = result.applied
    this.#progressAt = Date.now()
    this.counts.batches++
    this.counts.duplicates += result.duplicates
    this.counts.rejected += result.rejected.length
    this.counts.applied += batch.length - result.duplicates
    for (const r of result.rejected) this.#o.log.error({ seq: r.seq, reason: r.reason }, 'change refused: nothing of it written')
    // Acknowledge up to what is durable (AckPolicy.All: the last one covers those before it).
    const lastApplied = [...batch].reverse().find((m) => m.seq <= result.applied)
    lastApplied?.ack()
    const tail = batch[batch.length - 1]!
    if (result.stop !== undefined) {
      if (result.stop.startsWith('gap') && await this.#streamHolds(result.applied + 1)) {
        // Not a hole in the feed but in the delivery (messages pulled by an iterator that ended with its
        // server wait for redelivery): start following again from the index.
        this.#o.log.info({ applied: result.applied }, 'deliveries skipped ahead of the index: following again from it')
        this.#queue.length = 0
        void this.#messages?.close()
        this.#publishStatus()
        return
      }
      if (result.stop.includes('another hash key')) this.#stop(ReplicaState.otherKey, result.stop)
      else this.#stop(ReplicaState.gap, result.stop, result.applied + 1)
      return
    }
    // The delivery said how many changes were left behind the last one: none means current as of now.
    this.#last = Math.max(this.#last, tail.seq + tail.info.pending)
    if (tail.info.pending === 0 && this.#queue.length === 0) {
      this.#currentAt = Date.now()
      this.#seenAt = this.#currentAt
    }
    this.#publishStatus()
  }

  /** Whether the stream holds change `seq` (a failed lookup counts as holding it: only a sure hole stops the node). */
  async #streamHolds (seq: number): Promise<boolean> {
    try {
      return await this.#jsm!.streams.getMessage(STREAM, { seq }) !== null
    } catch (err) {
      return (err as { code?: number }).code !== 10037
    }
  }

  /** Stops applying; `waitFor`: the sequence a snapshot must reach to re-bootstrap past the cause. */
  #stop (state: ReplicaStateCode, reason: string, waitFor = 0): void {
    this.#state = state
    this.#waitingFor = this.#o.rebootstrap === undefined ? 0 : waitFor
    this.#queue.length = 0
    this.#o.log.error({ applied: this.#applied, reason }, 'replication stopped: the node is not ready')
    void this.#messages?.close()
    this.#publishStatus()
  }

  /**
   * The stream's last sequence, and up to when the index holds every change
   * (the first unapplied one's publish time); returns when the stream was made.
   */
  async #measure (jsm: JetStreamManager): Promise<string> {
    const asked = Date.now()
    const info = await jsm.streams.info(STREAM)
    this.#last = info.state.last_seq
    if (this.#applied >= this.#last) {
      this.#currentAt = asked
    } else {
      const first = await jsm.streams.getMessage(STREAM, { seq: this.#applied + 1 }).catch(() => null)
      this.#currentAt = first === null ? asked : first.time.getTime()
    }
    this.#seenAt = asked
    return info.created
  }

  /** Measures the lag against the stream and reports; a failure (partition) leaves the lag growing. */
  async #probe (): Promise<void> {
    const jsm = this.#jsm
    if (jsm !== undefined && !this.#stopping && this.#state === ReplicaState.following) {
      try {
        const created = await this.#measure(jsm)
        const now = Date.now()
        if (this.#streamCreated !== undefined && created !== this.#streamCreated) {
          // The consumer went with the old stream: follow the new one from the index now, not after STALL_MS.
          this.#o.log.info({ applied: this.#applied, last: this.#last }, 'the feed\'s stream was made again (a DR promotion or fail back): following it from the index')
          this.#streamCreated = created
          this.#progressAt = now
          void this.#messages?.close()
        } else if (this.#applied >= this.#last) this.#progressAt = now
        else if (this.#state === ReplicaState.following && this.#applying === undefined && now - this.#progressAt > STALL_MS) {
          // A pull consumer whose server died can keep its iterator open and deliver nothing (the pulled
          // messages wait ack_wait for redelivery): start following again from the index.
          this.#o.log.info({ applied: this.#applied, last: this.#last }, 'no deliveries while behind: following again from the index')
          this.#progressAt = now
          void this.#messages?.close()
        }
      } catch (err) {
        this.#o.log.debug({ err }, 'lag probe failed')
      }
    }
    this.#publishStatus()
    await this.#report()
  }

  #publishStatus (): void {
    this.#status.set(this.#state, this.#applied, this.#last, this.#currentAt, this.#seenAt, this.#waitingFor)
  }

  async #report (): Promise<void> {
    const kv = this.#kv
    // Nothing to say before the lag is first measured (a report's lag is a number: `idv fleet status` prints it).
    if (kv === undefined || this.#stopping || Number.isNaN(this.#status.lagSeconds)) return
    const reason = this.#status.notReadyReason()
    const report: NodeReport = {
      nodeId: this.#o.nodeId,
      applied: this.#applied,
      last: this.#status.last,
      lagChanges: this.#status.lagChanges,
      lagSeconds: this.#status.lagSeconds,
      state: STATE_NAMES[this.#state],
      ready: reason === undefined,
      ...(reason === undefined ? {} : { reason }),
      reportedAt: new Date().toISOString()
    }
    try {
      await kv.put(nodeKey(this.#o.nodeId), JSON.stringify(report))
    } catch (err) {
      this.#o.log.debug({ err }, 'fleet report failed')
    }
  }
}

const nanos = (ms: number): number => ms * 1_000_000
