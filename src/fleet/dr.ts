/**
 * The DR site: a second NATS cluster, its own JetStream domain, linked to the
 * primary by leaf nodes (docs/design/fleet-dr.md says why not gateways). Its
 * `IDV_CHANGES` is a mirror of the primary's, which JetStream keeps at the
 * same sequences, so the DR site's nodes follow it exactly as the primary's
 * nodes follow theirs.
 *
 * `idv fleet mirror` makes that mirror (and, with --replace, turns a site's
 * writable stream back into a mirror of the other site: fail back).
 * `idv fleet promote` makes the DR stream writable when the primary is gone.
 * nats-server 2.9 cannot turn a mirror into a writable stream (2.12 can), so
 * promotion goes through a local copy, every step checked against what the
 * streams hold, so that running it again after a crash finishes the job:
 *
 *   1. copy   `IDV_CHANGES_PROMOTION`, a local mirror of the mirror, until it holds as much;
 *   2. delete `IDV_CHANGES` (the mirror; the nodes' consumers go with it);
 *   3. create `IDV_CHANGES` writable on `idv.changes`, its first sequence the copy's;
 *   4. refill  it from the copy, change `n` at stream sequence `n` (Nats-Msg-Id = n,
 *              expected last sequence n - 1, as the producer publishes);
 *   5. delete the copy.
 *
 * The nodes keep their applied sequence and follow the new stream from
 * `applied + 1`: nothing is applied twice and nothing skipped.
 */
import type { NatsConnection } from '@nats-io/transport-node'
import { jetstream, jetstreamManager, StorageType, type JetStreamClient, type JetStreamManager, type StreamInfo } from '@nats-io/jetstream'
import { Kvm } from '@nats-io/kv'
import { connectFleet, ensureStream, fleetManager, FLEET_BUCKET, patiently, STREAM, SUBJECT } from '../replication/index.js'

/** The promotion's working copy; its presence means a promotion is under way. */
export const PROMOTION_COPY = `${STREAM}_PROMOTION`
const KV_STREAM = `KV_${FLEET_BUCKET}`

/** A refusal the operator can act on (the CLI prints it and exits 1). */
export class DrError extends Error {}

export const apiPrefix = (domain: string): string => `$JS.${domain}.API`

/** The domain a mirror's stream follows, from its `$JS.<domain>.API` prefix. */
export function mirroredDomain (info: StreamInfo): string | undefined {
  const api = info.config.mirror?.external?.api
  const m = api === undefined ? null : /^\$JS\.([^.]+)\.API$/.exec(api)
  return m?.[1]
}

export interface MirrorOptions {
  /** The servers of the site that gets the mirror. */
  readonly servers: string
  /** The JetStream domain of the site it mirrors. */
  readonly primaryDomain: string
  readonly replicas: number
  /** Replace this site's writable stream with a mirror of the other site (fail back). */
  readonly replace: boolean
  readonly log?: (line: string) => void
}

export interface MirrorResult {
  readonly created: boolean
  readonly replaced: boolean
  readonly lastSeq: number
  /** Whether the other site's fleet bucket now also takes this site's node reports. */
  readonly reportsLinked: boolean
}

/** Makes this site's `IDV_CHANGES` a mirror of the other domain's; idempotent. */
export async function mirrorStream (o: MirrorOptions): Promise<MirrorResult> {
  const log = o.log ?? (() => {})
  const nc = await connectFleet(o.servers, { name: 'idv-fleet-mirror' })
  try {
    const jsm = await fleetManager(nc)
    const domain = await localDomain(jsm)
    if (domain === o.primaryDomain) throw new DrError(`these servers are the ${domain} domain themselves: give the other site's domain`)
    if (await streamInfo(jsm, PROMOTION_COPY) !== undefined) throw new DrError(`a promotion is under way here (${PROMOTION_COPY} exists): finish it with idv fleet promote first`)
    const existing = await streamInfo(jsm, STREAM)
    let replaced = false
    if (existing !== undefined) {
      if (mirroredDomain(existing) === o.primaryDomain) {
        log(`${STREAM} here already mirrors the ${o.primaryDomain} domain`)
        return { created: false, replaced: false, lastSeq: existing.state.last_seq, reportsLinked: await linkReports(nc, o.primaryDomain, domain, log) }
      }
      if (!o.replace) throw new DrError(`${STREAM} here is ${existing.config.mirror === undefined ? 'writable (a primary or a promoted site)' : 'a mirror of another site'}: --replace deletes it and mirrors the ${o.primaryDomain} domain instead (fail back)`)
      // Fail back: the other site must hold everything this one does, or deleting it would lose changes.
      const other = await streamInfo(await jetstreamManager(nc, { domain: o.primaryDomain, timeout: 5_000 }), STREAM, 10_000)
        .catch((err: unknown) => { throw new DrError(`the ${o.primaryDomain} domain does not answer (${String(err)}): nothing replaced`) })
      if (other === undefined) throw new DrError(`the ${o.primaryDomain} domain has no ${STREAM}: nothing replaced`)
      if (other.config.mirror !== undefined) throw new DrError(`the ${o.primaryDomain} domain's ${STREAM} is a mirror itself: promote it first (idv fleet promote there), or no site would be writable`)
      if (other.state.last_seq < existing.state.last_seq) {
        throw new DrError(`the ${o.primaryDomain} domain's ${STREAM} ends at seq ${other.state.last_seq}, before this site's ${existing.state.last_seq}: replacing would lose changes; publish them there first (the producer's outbox holds them)`)
      }
      await jsm.streams.delete(STREAM)
      replaced = true
      log(`deleted this site's ${STREAM} (seq ${existing.state.first_seq}..${existing.state.last_seq})`)
    }
    const info = await jsm.streams.add({
      name: STREAM,
      storage: StorageType.File,
      num_replicas: o.replicas,
      mirror: { name: STREAM, external: { api: apiPrefix(o.primaryDomain), deliver: '' } },
      allow_direct: true
    })
    // This site's nodes report here; the producer at this site (after a promotion) prunes by these reports.
    // (Kvm.create leaves an existing bucket as it is.)
    await new Kvm(nc).create(FLEET_BUCKET, { replicas: o.replicas, history: 1 })
    log(`${STREAM} here now mirrors the ${o.primaryDomain} domain`)
    return { created: true, replaced, lastSeq: info.state.last_seq, reportsLinked: await linkReports(nc, o.primaryDomain, domain, log) }
  } finally {
    await nc.close()
  }
}

/**
 * Adds this site's fleet bucket as a source of the other site's, so that the
 * producer there counts this site's nodes before it prunes its outbox: what it
 * keeps then covers every change this site has not yet applied, which is what
 * a promotion would otherwise lose. Best effort: a site that does not answer
 * is reported, not fatal.
 */
async function linkReports (nc: NatsConnection, otherDomain: string, domain: string, log: (line: string) => void): Promise<boolean> {
  // One way only (the mirror's site into the writable site's): after a fail back, this site's bucket stops
  // taking the other's reports, or the two buckets would source each other's in a loop.
  const here = await fleetManager(nc)
  const own = await here.streams.info(KV_STREAM)
  const reverse = apiPrefix(otherDomain)
  if ((own.config.sources ?? []).some((s) => s.external?.api === reverse)) {
    await here.streams.update(KV_STREAM, { sources: (own.config.sources ?? []).filter((s) => s.external?.api !== reverse) })
    log(`this site's ${FLEET_BUCKET} bucket no longer takes the ${otherDomain} domain's node reports`)
  }
  try {
    const other = await jetstreamManager(nc, { domain: otherDomain, timeout: 5_000 })
    const info = await other.streams.info(KV_STREAM)
    const api = apiPrefix(domain)
    const sources = info.config.sources ?? []
    if (sources.some((s) => s.external?.api === api)) return true
    await other.streams.update(KV_STREAM, { sources: [...sources, { name: KV_STREAM, external: { api, deliver: '' } }] })
    log(`the ${otherDomain} domain's ${FLEET_BUCKET} bucket now also takes this site's node reports`)
    return true
  } catch (err) {
    log(`could not link node reports to the ${otherDomain} domain's ${FLEET_BUCKET} bucket (${String(err)}): its producer prunes its outbox without counting this site's nodes`)
    return false
  }
}

export interface PromoteOptions {
  readonly servers: string
  /** Promote even though the primary still answers (two writable sites: the operator fences the old one). */
  readonly force: boolean
  readonly log?: (line: string) => void
  /** How long to wait for the copy to catch up (ms). */
  readonly copyTimeoutMs?: number
}

export interface PromoteResult {
  /** False when the stream was writable already (nothing to do). */
  readonly promoted: boolean
  readonly firstSeq: number
  readonly lastSeq: number
  /** Changes written into the new stream by this run (a resumed run writes the rest). */
  readonly refilled: number
}

/** Makes this site's mirror the writable feed; resumable after a crash at any step. */
export async function promote (o: PromoteOptions): Promise<PromoteResult> {
  const log = o.log ?? (() => {})
  const nc = await connectFleet(o.servers, { name: 'idv-fleet-promote' })
  try {
    const jsm = await fleetManager(nc)
    let main = await streamInfo(jsm, STREAM)
    let copy = await streamInfo(jsm, PROMOTION_COPY)
    if (main === undefined && copy === undefined) throw new DrError(`no ${STREAM} here: create the mirror with idv fleet mirror first`)
    if (main !== undefined && main.config.mirror === undefined && copy === undefined) {
      log(`${STREAM} here is writable already (seq ${main.state.first_seq}..${main.state.last_seq}): nothing to promote`)
      return { promoted: false, firstSeq: main.state.first_seq, lastSeq: main.state.last_seq, refilled: 0 }
    }
    if (main !== undefined && main.config.mirror !== undefined) {
      const primary = mirroredDomain(main)
      if (primary === undefined) throw new DrError(`${STREAM} here mirrors a stream in this domain, not another site's: not a DR mirror`)
      if (!o.force && await answers(nc, primary)) {
        throw new DrError(`the primary (${primary} domain) still answers: promoting now makes two writable sites. Stop its producer and servers first, or give --force once they are fenced`)
      }
      const heard = main.mirror?.active === undefined ? 'never' : `${(main.mirror.active / 1e9).toFixed(1)} s ago`
      log(`the ${primary} domain is ${o.force ? 'ignored (--force)' : 'gone'}; the mirror last heard from it ${heard} and holds seq ${main.state.first_seq}..${main.state.last_seq}`)
      copy ??= await jsm.streams.add({ name: PROMOTION_COPY, storage: StorageType.File, num_replicas: main.config.num_replicas, mirror: { name: STREAM } })
      copy = await waitForCopy(jsm, o.copyTimeoutMs ?? 120_000)
      log(`step 1/5: ${PROMOTION_COPY} holds seq ${copy.state.first_seq}..${copy.state.last_seq}`)
      await jsm.streams.delete(STREAM)
      main = undefined
      log(`step 2/5: the mirror ${STREAM} deleted`)
    }
    if (copy === undefined) throw new DrError(`unreachable: ${STREAM} writable with no copy was handled above`)
    const first = copy.state.messages === 0 ? copy.state.last_seq + 1 : copy.state.first_seq
    main ??= await ensureStream(jsm, copy.config.num_replicas)
    // 2.9 has no first_seq in a stream's config: purging an empty stream up to `first` starts it there.
    if (main.state.messages === 0 && main.state.last_seq < first - 1) {
      await jsm.streams.purge(STREAM, { seq: first })
      main = await jsm.streams.info(STREAM)
      if (main.state.last_seq !== first - 1) throw new DrError(`${STREAM} did not start at seq ${first} after the purge (it ends at ${main.state.last_seq}): stopped; nothing lost (${PROMOTION_COPY} holds the changes)`)
    }
    log(`step 3/5: ${STREAM} writable on ${SUBJECT}, starting at seq ${first}`)
    const refilled = await refill(jetstream(nc, { timeout: 10_000 }), jsm, main.state.last_seq + 1, copy.state.last_seq)
    log(`step 4/5: ${refilled} changes refilled; ${STREAM} holds seq ${first}..${copy.state.last_seq}`)
    await jsm.streams.delete(PROMOTION_COPY)
    log(`step 5/5: ${PROMOTION_COPY} deleted`)
    return { promoted: true, firstSeq: first, lastSeq: copy.state.last_seq, refilled }
  } finally {
    await nc.close()
  }
}

/** Waits until the copy holds what the mirror holds (read in that order, so the copy is never behind what was read). */
async function waitForCopy (jsm: JetStreamManager, timeoutMs: number): Promise<StreamInfo> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const main = await jsm.streams.info(STREAM)
    const copy = await jsm.streams.info(PROMOTION_COPY)
    if (copy.state.last_seq >= main.state.last_seq && copy.state.messages >= main.state.messages) return copy
    if (Date.now() > deadline) throw new DrError(`${PROMOTION_COPY} holds seq ..${copy.state.last_seq} of ${main.state.last_seq} after ${timeoutMs} ms: run promote again to go on waiting`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

/**
 * Publishes changes `from..to` of the copy into the new stream, each at its own
 * sequence, a window at a time. A failed window (a leader election) goes again
 * from where the stream ends, for up to RETRY_MS; a crash is resumed the same way
 * by the next run.
 */
async function refill (js: JetStreamClient, jsm: JetStreamManager, from: number, to: number): Promise<number> {
  const WINDOW = 500
  const RETRY_MS = 30_000
  let next = from
  let deadline = Date.now() + RETRY_MS
  while (next <= to) {
    const end = Math.min(to, next + WINDOW - 1)
    try {
      const messages = await Promise.all(Array.from({ length: end - next + 1 }, async (_, i) => {
        const seq = next + i
        const m = await jsm.streams.getMessage(PROMOTION_COPY, { seq }).catch((err: unknown) => {
          if ((err as { code?: number }).code === 10037) return null
          throw err
        })
        if (m === null) throw new DrError(`${PROMOTION_COPY} lacks seq ${seq} (a hole in the primary's feed): the feed cannot continue past it; stopped`)
        return { seq, data: m.data }
      }))
      await Promise.all(messages.map(async ({ seq, data }) => {
        await js.publish(SUBJECT, data, { msgID: String(seq), expect: { lastSequence: seq - 1, streamName: STREAM } })
      }))
      next = end + 1
      deadline = Date.now() + RETRY_MS
    } catch (err) {
      if (err instanceof DrError || Date.now() > deadline) throw err
      await new Promise((resolve) => setTimeout(resolve, 250))
      const last = (await jsm.streams.info(STREAM).catch(() => undefined))?.state.last_seq
      if (last !== undefined) next = last + 1
    }
  }
  return Math.max(0, to - from + 1)
}

/** Whether the other domain's JetStream answers for the feed's stream. */
async function answers (nc: NatsConnection, domain: string): Promise<boolean> {
  try {
    await (await jetstreamManager(nc, { domain, timeout: 2_000 })).streams.info(STREAM)
    return true
  } catch {
    return false
  }
}

async function localDomain (jsm: JetStreamManager): Promise<string> {
  const domain = (await jsm.getAccountInfo()).domain
  if (domain === undefined || domain === '') throw new DrError('these servers have no JetStream domain: a DR site and its primary each need their own (jetstream { domain: … })')
  return domain
}

/** A stream's info, or undefined when there is none; asked again while the cluster elects its leader. */
async function streamInfo (jsm: JetStreamManager, name: string, patienceMs = 20_000): Promise<StreamInfo | undefined> {
  return await patiently(async () => await jsm.streams.info(name).catch((err: unknown) => {
    if ((err as { code?: number }).code === 10059) return undefined
    throw err
  }), patienceMs)
}
