/**
 * Cluster mode, `idv serve --processes N`: a supervisor and N member processes,
 * each an ordinary `idv serve` with its own threads, all on one port (uWS sets
 * SO_REUSEPORT, so the kernel spreads connections over them). Processes as
 * well as threads because every connection is a file descriptor, and one
 * process's open-file limit caps the connections all its threads hold.
 *
 * The supervisor serves nothing: it forks the members (node:cluster, so each
 * re-runs this command line and finds itself a member), forwards SIGHUP,
 * drains them all on SIGTERM/SIGINT, restarts one that dies (backing off while
 * it keeps dying), and runs the capabilities' supervisor parts
 * (src/capability.ts `supervise`: admission sweeps expired nonces from the
 * state the members share, so a replay or a burst is caught whichever process
 * it reaches). Member i answers metrics on IDV_METRICS_PORT + i (0: any free
 * port); what each member reports once serving is logged as a list.
 */
import cluster, { type Worker } from 'node:cluster'
import type { Config } from '../config.js'
import { CAPABILITIES } from './capabilities.js'
import { readHashKey } from '../files/hash-key-file.js'
import { loadNativeUws } from '../http/uws.js'
import type { Logger } from '../log.js'
import { assertPortFree, checkIndex, freePort, serviceUrl, type RunningService } from './service.js'

/** The supervisor's orders to a member (its index and the port all share), in its environment. */
const MEMBER_ENV = 'IDV_CLUSTER_MEMBER'
/** A member that lived this long before dying is restarted at once; sooner, after a growing delay. */
const STABLE_MS = 10_000
const MAX_RESTART_DELAY_MS = 30_000
/** How long members may take to drain before the supervisor kills them. */
const DRAIN_LIMIT_MS = 60_000

interface Orders { readonly index: number, readonly port: number }
type Message = { readonly type: 'serving', readonly details: Readonly<Record<string, unknown>> } | { readonly type: 'stop' }

/** In a member: this member's configuration (the shared port, its own metrics port) and index; undefined in any other process. */
export function memberConfig (config: Config): { readonly config: Config, readonly index: number } | undefined {
  const raw = process.env[MEMBER_ENV]
  if (!cluster.isWorker || raw === undefined) return undefined
  const orders = JSON.parse(raw) as Orders
  const metricsPort = config.metricsPort === 0 ? 0 : config.metricsPort + orders.index
  // Members share the port with each other by design; the supervisor checked it was free.
  // Each member writes its own audit log (one writer per log): <node>-<index>.
  return { index: orders.index, config: { ...config, port: orders.port, metricsPort, reusePort: true, auditNode: `${config.auditNode}-${orders.index}` } }
}

/** In a member, once it serves: tell the supervisor, and stop when it says so or is gone. */
export function joinCluster (service: RunningService): void {
  const send = (message: Message): void => { process.send?.(message) }
  process.on('message', (message: Message) => { if (message.type === 'stop') void service.stop() })
  // The supervisor died (even kill -9): drain rather than serve unsupervised.
  process.on('disconnect', () => { void service.stop() })
  send({ type: 'serving', details: service.details })
}

/**
 * In the supervisor: start the members and keep them running until a signal;
 * resolves with the exit status (0 after a clean stop; a member's status if one
 * failed to start, after stopping the others). `onServing` runs once, when
 * every member first serves.
 */
export async function superviseCluster (config: Config, log: Logger, onServing?: (url: string) => void): Promise<number> {
  // Refuse before forking, as a single process would, rather than once per member.
  loadNativeUws()
  readHashKey(config.hashKeyFile)
  await checkIndex(config)
  if (!config.reusePort && config.port !== 0) await assertPortFree(config.host, config.port)
  const port = config.port === 0 ? await freePort(config.host) : config.port
  const url = serviceUrl(config.host, port)
  const supervised = CAPABILITIES.map((c) => c.supervise?.({ config, log }))

  const members: Array<{ worker: Worker | undefined, startedAt: number, fastFailures: number, serving: boolean, details?: Readonly<Record<string, unknown>>, timer?: NodeJS.Timeout }> =
    Array.from({ length: config.processes }, () => ({ worker: undefined, startedAt: 0, fastFailures: 0, serving: false }))
  let allServing = false
  let stopping = false
  let settle!: (code: number) => void
  const done = new Promise<number>((resolve) => { settle = resolve })

  const fork = (index: number): void => {
    const member = members[index]!
    member.startedAt = Date.now()
    const worker = cluster.fork({ [MEMBER_ENV]: JSON.stringify({ index, port } satisfies Orders) })
    member.worker = worker
    worker.on('message', (message: Message) => {
      if (message.type !== 'serving') return
      member.serving = true
      member.details = message.details
      if (!allServing && members.every((m) => m.serving)) {
        allServing = true
        // Each member's details as one list per key: metricsPort → metricsPorts.
        const keys = [...new Set(members.flatMap((m) => Object.keys(m.details ?? {})))]
        const lists = Object.fromEntries(keys.map((k) => [`${k}s`, members.map((m) => m.details?.[k])]))
        log.info({ url, processes: config.processes, threadsEach: config.threads, pids: members.map((m) => m.worker?.process.pid), ...lists }, 'cluster serving')
        onServing?.(url)
      } else if (allServing) {
        log.info({ member: index, pid: worker.process.pid }, 'member restarted and serving')
      }
    })
    worker.on('exit', (code, signal) => {
      member.worker = undefined
      if (stopping) {
        if (members.every((m) => m.worker === undefined)) settle(exitCode)
        return
      }
      if (!allServing) {
        log.error({ member: index, code, signal }, 'a member failed to start; stopping the cluster')
        stop(code === 0 || code === null ? 1 : code)
        return
      }
      const lived = Date.now() - member.startedAt
      member.fastFailures = lived >= STABLE_MS ? 0 : member.fastFailures + 1
      const delay = member.fastFailures === 0 ? 0 : Math.min(MAX_RESTART_DELAY_MS, 500 * 2 ** member.fastFailures)
      log.error({ member: index, code, signal, livedMs: lived, restartInMs: delay }, 'a member died; restarting it')
      member.serving = false
      member.timer = setTimeout(() => { fork(index) }, delay)
    })
  }

  let exitCode = 0
  let drainLimit: NodeJS.Timeout | undefined
  const stop = (code: number): void => {
    exitCode = code
    if (stopping) return
    stopping = true
    for (const m of members) {
      clearTimeout(m.timer)
      const w = m.worker
      if (w === undefined) continue
      // A serving member by message, not signal: its own SIGINT (Ctrl-C reaches the whole group) may already have started
      // its drain, after which a signal would kill it. One still starting listens for no message yet; SIGTERM stops it.
      if (m.serving && w.isConnected()) w.send({ type: 'stop' } satisfies Message)
      else w.process.kill('SIGTERM')
    }
    if (members.every((m) => m.worker === undefined)) settle(exitCode)
    drainLimit = setTimeout(() => {
      log.error({ pids: members.map((m) => m.worker?.process.pid).filter((p) => p !== undefined) }, `members still draining after ${DRAIN_LIMIT_MS / 1000} s; killing them`)
      for (const m of members) m.worker?.process.kill('SIGKILL')
    }, DRAIN_LIMIT_MS)
  }
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) { // a second Ctrl-C: no more waiting
      for (const m of members) m.worker?.process.kill('SIGKILL')
      return
    }
    log.info({ signal }, 'shutting down the cluster')
    stop(0)
  }
  const onReload = (): void => { for (const m of members) m.worker?.process.kill('SIGHUP') }
  process.on('SIGTERM', onSignal)
  process.on('SIGINT', onSignal)
  process.on('SIGHUP', onReload)

  for (let i = 0; i < config.processes; i++) fork(i)
  await done
  clearTimeout(drainLimit)
  process.off('SIGTERM', onSignal)
  process.off('SIGINT', onSignal)
  process.off('SIGHUP', onReload)
  for (const part of supervised.reverse()) await part?.close?.()
  log.info({ exitCode }, 'cluster stopped')
  return exitCode
}
