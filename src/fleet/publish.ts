/**
 * `idv publish FILE|- --nats URLS`: the producer. Each NDJSON change is
 * validated (a bad one is reported with its line and reason and never
 * published), hashed with the index's key into the wire form
 * (src/replication/wire.ts), appended to the outbox and made durable there,
 * then published to the feed's stream with Nats-Msg-Id = seq and an expected
 * last stream sequence of seq - 1. The second makes the stream's sequence the
 * registry's: a change is stored at exactly its own position or refused, so a
 * node can start its consumer at "applied + 1" and a repeat beyond the
 * de-duplication window is refused too.
 *
 * Before new changes, what the outbox holds beyond the stream's last sequence
 * (published but lost by JetStream, or never published because the producer
 * died) is published again. After them, the outbox is pruned up to the lowest
 * sequence every registered node reports applied (src/fleet/outbox.ts).
 * A change whose seq is at or below the last published one is taken as
 * already published (re-running a file after a crash is safe); one that skips
 * ahead is refused (the feed has no holes).
 */
import { createReadStream } from 'node:fs'
import { createInterface } from 'node:readline'
import type { NatsConnection } from '@nats-io/transport-node'
import { jetstream, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream'
import { Kvm } from '@nats-io/kv'
import { RecordCodec } from '../domain/record.js'
import {
  connectFleet, encodeChange, ensureStream, fleetManager, FLEET_BUCKET, keyTagOf, parseChangeLine, patiently, STREAM, SUBJECT, type NodeReport
} from '../replication/index.js'
import { Outbox, type OutboxEntry } from './outbox.js'

export interface PublishOptions {
  /** NDJSON file, or '-' for standard input. */
  readonly file: string
  readonly servers: string
  readonly hashKey: Uint8Array
  readonly outboxDir: string
  /** Replicas of the stream and the fleet bucket when this run creates them. */
  readonly replicas: number
  /** Called for every refused line (reasons never repeat personal data). */
  readonly onReject: (line: number, reason: string) => void
  /** Changes published at once (one outbox fsync each). */
  readonly batch?: number
}

export interface PublishSummary {
  readonly lines: number
  readonly published: number
  /** Changes at or below the last published seq: skipped. */
  readonly alreadyPublished: number
  /** Outbox changes the stream did not hold, published again. */
  readonly republished: number
  readonly rejected: number
  /** The stream's last sequence after the run. */
  readonly lastSeq: number
  /** Outbox changes dropped because every registered node applied them. */
  readonly pruned: number
  /** Changes the outbox still holds (not yet applied by every registered node). */
  readonly outboxLeft: number
  readonly nodes: number
}

/** An error of the feed itself (not of one change): the run stops; the outbox keeps what was not confirmed. */
export class FeedError extends Error {}

export async function publishChanges (o: PublishOptions): Promise<PublishSummary> {
  const outbox = Outbox.open(o.outboxDir)
  let nc: NatsConnection | undefined
  try {
    nc = await connectFleet(o.servers, { name: 'idv-publish' })
    const jsm = await fleetManager(nc)
    const js = jetstream(nc, { timeout: 10_000 })
    const info = await ensureStream(jsm, o.replicas)
    await patiently(async () => await new Kvm(nc!).create(FLEET_BUCKET, { replicas: o.replicas, history: 1 }))
    let last = info.state.last_seq
    const owed = outbox.entries.filter((e) => e.seq > last)
    if (owed.length > 0 && owed[0]!.seq !== last + 1) {
      throw new FeedError(`the stream ends at seq ${last} and the outbox resumes at ${owed[0]!.seq}: changes between are in neither; restore the stream from a backup or re-bootstrap the fleet`)
    }
    await publishBatch(js, jsm, owed)
    const republished = owed.length
    last = Math.max(last, outbox.lastSeq)

    const codec = new RecordCodec(o.hashKey)
    const keyTag = keyTagOf(o.hashKey)
    const size = o.batch ?? 1_000
    let lines = 0
    let published = 0
    let alreadyPublished = 0
    let rejected = 0
    let pending: OutboxEntry[] = []
    const flush = async (): Promise<void> => {
      outbox.append(pending) // durable before the stream sees it
      await publishBatch(js, jsm, pending)
      published += pending.length
      pending = []
    }
    const input = o.file === '-' ? process.stdin : createReadStream(o.file)
    for await (const text of createInterface({ input, crlfDelay: Infinity })) {
      lines++
      if (text.trim() === '') continue
      const parsed = parseChangeLine(text)
      if (!parsed.ok) { rejected++; o.onReject(lines, parsed.reason); continue }
      const seq = parsed.change.seq
      if (seq <= last) { alreadyPublished++; continue }
      if (seq !== last + 1) { rejected++; o.onReject(lines, `seq ${seq} does not follow the last published seq ${last}: the feed has no holes`); continue }
      pending.push({ seq, data: encodeChange(parsed.change, codec, keyTag) })
      last = seq
      if (pending.length >= size) await flush()
    }
    await flush()

    const reports = await nodeReports(nc)
    const lowest = reports.length === 0 ? 0 : Math.min(...reports.map((r) => r.applied))
    const pruned = reports.length === 0 ? 0 : outbox.prune(lowest)
    return { lines, published, alreadyPublished, republished, rejected, lastSeq: last, pruned, outboxLeft: outbox.entries.filter((e) => e.seq > lowest).length, nodes: reports.length }
  } finally {
    outbox.close()
    await nc?.close()
  }
}

/**
 * Publishes in order, all in flight at once, each at its own stream position.
 * A change the stream already holds at its position (an earlier run's publish
 * whose acknowledgement was lost) is accepted if it is the same bytes. When any
 * fails (a server died, a leader is being elected), the batch goes again one
 * change at a time from the first failure, retrying for up to RETRY_MS.
 */
async function publishBatch (js: JetStreamClient, jsm: JetStreamManager, batch: readonly OutboxEntry[]): Promise<void> {
  const results = await Promise.allSettled(batch.map(async (e) => { await publishOne(js, jsm, e) }))
  const first = results.findIndex((r) => r.status === 'rejected')
  if (first < 0) return
  const deadline = Date.now() + RETRY_MS
  for (const e of batch.slice(first)) {
    for (;;) {
      try {
        await publishOne(js, jsm, e)
        break
      } catch (err) {
        if (err instanceof FeedError || Date.now() > deadline) throw err
        await new Promise((resolve) => setTimeout(resolve, 250))
      }
    }
  }
}

/** How long a change is retried through a failover before the run stops (the outbox keeps it). */
const RETRY_MS = 30_000

async function publishOne (js: JetStreamClient, jsm: JetStreamManager, e: OutboxEntry): Promise<void> {
  try {
    await js.publish(SUBJECT, e.data, { msgID: String(e.seq), expect: { lastSequence: e.seq - 1, streamName: STREAM } })
  } catch (err) {
    if ((err as { code?: number }).code !== 10071) throw err
    const stored = await jsm.streams.getMessage(STREAM, { seq: e.seq }).catch(() => null)
    if (stored === null) throw err // the stream is behind: not yet this one's turn (retried)
    if (!Buffer.from(stored.data).equals(Buffer.from(e.data))) {
      throw new FeedError(`the stream holds another change at seq ${e.seq} than this producer's outbox: two producers? stop one`)
    }
  }
}

/** Every registered node's last report (a node registers by reporting). */
export async function nodeReports (nc: NatsConnection): Promise<NodeReport[]> {
  const kv = await new Kvm(nc).open(FLEET_BUCKET)
  // A key updated while the listing runs can be listed twice: one report per node.
  const keys = new Set<string>()
  for await (const key of await kv.keys('node.>')) keys.add(key)
  const reports: NodeReport[] = []
  for (const key of keys) {
    const entry = await kv.get(key)
    if (entry === null || entry.operation !== 'PUT') continue
    try {
      reports.push(entry.json<NodeReport>())
    } catch { /* a damaged report counts as no report */ }
  }
  return reports
}
