/**
 * The fleet's names on NATS and how to reach them: one JetStream stream holds
 * the change feed (file storage, three replicas, de-duplication by
 * Nats-Msg-Id = seq), one KV bucket holds what every node reports (applied
 * sequence, lag, readiness), one Object Store bucket holds snapshots for
 * bootstrap. Only features nats-server 2.9 has are used (Debian's package is
 * 2.9.10): no stream metadata, no consumer pause, no per-message TTL.
 */
import { connect, type NatsConnection } from '@nats-io/transport-node'
import { DiscardPolicy, jetstreamManager, RetentionPolicy, StorageType, type JetStreamManager, type StreamInfo } from '@nats-io/jetstream'

export const STREAM = 'IDV_CHANGES'
export const SUBJECT = 'idv.changes'
export const FLEET_BUCKET = 'idv_fleet'
export const SNAPSHOT_BUCKET = 'idv_snapshots'
/** Key of one node's report in FLEET_BUCKET. */
export const nodeKey = (nodeId: string): string => `node.${nodeId}`
/** JetStream counts durations in nanoseconds. */
export const nanos = (ms: number): number => ms * 1_000_000
/** How long JetStream remembers a Nats-Msg-Id (after that, the expected-last-sequence check and the nodes' own sequence still refuse a repeat). */
export const DUPLICATE_WINDOW_MS = 10 * 60_000

/** `nats://a:4222,nats://b:4222` as NATS clients take it. */
export function serverList (urls: string): string[] {
  return urls.split(',').map((u) => u.trim()).filter((u) => u !== '')
}

export interface ConnectOptions {
  /** Named in the server's connection list (`nats server report connections`). */
  readonly name: string
  /** Keep trying the first connection instead of failing (a node that starts before NATS). */
  readonly waitOnFirstConnect?: boolean
  /**
   * Use only the servers in `urls`, never the ones the cluster advertises: a
   * node's list is its operator's (the servers its network lets it reach), so
   * a node cut off from them stays cut off instead of reaching round the cut.
   */
  readonly onlyListed?: boolean
}

export async function connectFleet (urls: string, o: ConnectOptions): Promise<NatsConnection> {
  return await connect({
    servers: serverList(urls),
    name: o.name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    waitOnFirstConnect: o.waitOnFirstConnect ?? false,
    ignoreClusterUpdates: o.onlyListed ?? false,
    timeout: 5_000
  })
}

/** Whether an error is JetStream between leaders (a server killed or restarted, a cluster just started): worth asking again. */
export function isTransient (err: unknown): boolean {
  return /timeout|no responders|temporarily unavailable/i.test(String(err))
}

/**
 * `op`, asked again while JetStream is between leaders, for up to
 * `patienceMs`; any other error at once. A cluster answers for its account
 * before it has elected a stream's or bucket's leader, and a killed server's
 * streams need a few seconds to elect another.
 */
export async function patiently<T> (op: () => Promise<T>, patienceMs = 30_000): Promise<T> {
  const deadline = Date.now() + patienceMs
  for (;;) {
    try {
      return await op()
    } catch (err) {
      if (Date.now() > deadline || !isTransient(err)) throw err
      await new Promise((resolve) => setTimeout(resolve, 250))
    }
  }
}

/** The feed's stream, created if missing (R3 on a 3-server cluster; fewer servers, fewer replicas). */
export async function ensureStream (jsm: JetStreamManager, replicas: number): Promise<StreamInfo> {
  const info = await patiently(async () => await jsm.streams.info(STREAM).catch((err: unknown) => {
    if ((err as { code?: number }).code === 10059) return undefined
    throw err
  }))
  if (info !== undefined) return info
  return await patiently(async () => await jsm.streams.add({
    name: STREAM,
    subjects: [SUBJECT],
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
    discard: DiscardPolicy.Old,
    num_replicas: replicas,
    duplicate_window: nanos(DUPLICATE_WINDOW_MS),
    // Nodes read the feed through direct gets for lag (2.9 has them).
    allow_direct: true
  }))
}

export async function fleetManager (nc: NatsConnection): Promise<JetStreamManager> {
  return await jetstreamManager(nc, { timeout: 5_000 })
}
