/**
 * The traffic shape of a run: how many connections, at what rate, over how many
 * server processes, traffic processes and loopback addresses, from the
 * scenario's defaults and the command-line options. Shapes that would idle
 * connections out (uWS closes them after ~10 s) or exceed one process's
 * 20,000 open files are raised or refused here, before anything starts.
 */
import { availableParallelism } from 'node:os'
import type { Scenario } from '../lib/scenario.js'
import { positiveInt, UsageError } from './usage-error.js'

/**
 * uWS closes a connection idle for ~10 s, checked on a 4 s tick, so the cut can
 * come after 8 s; a send due at 8 s that a busy traffic process makes a little
 * late loses its connection (seen at 40,000 connections). 6 s leaves margin.
 */
export const MAX_SEND_INTERVAL_MS = 6000
/** Connections per server or traffic process: half the 20,000 open-file limit leaves room for the rest. */
export const CONNECTIONS_PER_PROCESS = 10_000

export interface TrafficShape {
  readonly connections: number
  readonly rate: number
  readonly intervalMs: number
  readonly durationSeconds: number
  readonly warmupSeconds: number
  readonly citizens: number
  readonly servers: number
  /** Processes generating the traffic (--traffic-processes, or its first name --load-processes). */
  readonly trafficProcesses: number
  readonly addresses: readonly string[]
  /** --threads for each idv serve process; undefined: the service's default. */
  readonly serverThreads?: number
  readonly notes: string[]
}

export function resolveShape (s: Scenario, v: Record<string, string | undefined>): TrafficShape {
  const connections = positiveInt('connections', v.connections, s.connections)
  let rate = positiveInt('rate', v.rate, s.rate, 0)
  const notes: string[] = []
  if (rate > 0 && (connections / rate) * 1000 > MAX_SEND_INTERVAL_MS) {
    rate = Math.ceil(connections * 1000 / MAX_SEND_INTERVAL_MS)
    notes.push(`rate raised to ${rate} req/s so that every connection sends at least every ${MAX_SEND_INTERVAL_MS / 1000} s (uWS closes idle connections after ~10 s)`)
  }
  const perProcess = Math.max(1, Math.ceil(connections / CONNECTIONS_PER_PROCESS))
  const servers = positiveInt('servers', v.servers, perProcess)
  const addressCount = positiveInt('addresses', v.addresses, servers)
  if (addressCount > servers) throw new UsageError(`--addresses (${addressCount}) cannot exceed --servers (${servers}): every address needs a server process bound to it`)
  if (addressCount > 250) throw new UsageError('--addresses must be ≤ 250')
  if (v['traffic-processes'] !== undefined && v['load-processes'] !== undefined) throw new UsageError('--traffic-processes and --load-processes are one option (its new and first names): give one')
  const trafficFlag = v['traffic-processes'] !== undefined ? 'traffic-processes' : 'load-processes'
  const trafficProcesses = positiveInt(trafficFlag, v[trafficFlag], perProcess)
  if (Math.ceil(connections / trafficProcesses) > 19_000) throw new UsageError(`${connections} connections over ${trafficProcesses} traffic processes exceeds the 20,000 open files of one process`)
  if (Math.ceil(connections / servers) > 19_000) throw new UsageError(`${connections} connections over ${servers} server processes exceeds the 20,000 open files of one process`)
  return {
    connections,
    rate,
    intervalMs: rate === 0 ? 0 : (connections / rate) * 1000,
    durationSeconds: positiveInt('duration', v.duration, s.durationSeconds),
    warmupSeconds: positiveInt('warmup', v.warmup, s.warmupSeconds, 0),
    citizens: positiveInt('citizens', v.citizens, s.citizens),
    servers,
    trafficProcesses,
    addresses: Array.from({ length: addressCount }, (_, i) => `127.0.0.${i + 1}`),
    ...(v['server-threads'] !== undefined ? { serverThreads: positiveInt('server-threads', v['server-threads'], 1) } : {}),
    notes
  }
}

/** The traffic shape of one sweep point: the rate for this share of capacity, raised like resolveShape does if connections would idle out. */
export function sweepShape (shape: TrafficShape, capacityRps: number, percent: number): TrafficShape {
  let rate = Math.max(1, Math.round((capacityRps * percent) / 100))
  const notes: string[] = []
  const lowest = Math.ceil((shape.connections * 1000) / MAX_SEND_INTERVAL_MS)
  if (rate < lowest) {
    notes.push(`${percent}%: rate raised from ${rate} to ${lowest} req/s so that every connection sends at least every ${MAX_SEND_INTERVAL_MS / 1000} s`)
    rate = lowest
  }
  return { ...shape, rate, intervalMs: (shape.connections / rate) * 1000, notes }
}

/** The service's own default thread count (IDV_THREADS passes through to the servers, else one per core). */
export function serviceThreads (shape: TrafficShape): number {
  if (shape.serverThreads !== undefined) return shape.serverThreads
  const env = Number(process.env.IDV_THREADS)
  return Number.isInteger(env) && env >= 1 ? env : availableParallelism()
}
