/**
 * The measurements of one phase: the traffic processes' results merged (HDR
 * latency histograms, counts by request kind and status, answers per server
 * instance), the kernel's connection counts sampled in the window, and the
 * CPU the servers, the traffic processes and the whole machine used.
 */
import { readFileSync } from 'node:fs'
import * as hdr from 'hdr-histogram-js'
import { samplesWithin, type ConnectionSample } from '../lib/connections.js'
import { HISTOGRAM_OPTIONS, type KindCounts, type TrafficWorkerResult } from '../lib/traffic-worker.js'
import { RECORDS_PER_REQUEST } from '../lib/request-pool.js'
import type { RequestKind } from '../lib/scenario.js'
import type { TrafficShape } from './traffic-shape.js'

export interface PhaseFigures {
  readonly connections: { readonly requested: number, readonly opened: number, readonly connectSeconds?: number, readonly connectFailed: number, readonly peakEstablished: number, readonly minEstablishedMeasured: number | null, readonly lost: number, readonly openAtEnd: number }
  readonly requests: { readonly sent: number, readonly answered: number, readonly ok: number, readonly wrongAnswer: number, readonly non2xx: number, readonly errors: number, readonly timeouts: number }
  readonly byKind: Record<string, KindCounts>
  readonly statusCodes: Record<string, number>
  readonly errorRatio: number
  readonly throughputRps: number
  /** Citizens' records verified per second: throughputRps × records per request of the mix as sent (a 1,000-item batch is 1,000). */
  readonly recordsPerSecond: number
  readonly latencyMs: { readonly p50: number, readonly p90: number, readonly p99: number, readonly p999: number, readonly max: number, readonly mean: number }
  readonly serverProcesses: Array<{ readonly pid: number, readonly address: string }>
  /** Peak established connections per loopback address (each address has its own server process(es)). */
  readonly connectionsByAddress: Record<string, number>
  readonly serverInstances: Array<{ readonly id: string, readonly answers: number, readonly share: number }>
  /** Cores used in the measured window (CPU seconds / window seconds): all server processes, all traffic processes (`load`, the key's first name), the machine. */
  readonly coresUsed: { readonly servers: number, readonly load: number, readonly machine: number, readonly softirq: number }
  /** Server CPU time (all server processes and threads) per answer in the window, µs: what other work on a shared machine disturbs least. */
  readonly serverCpuUsPerAnswer: number | null
  readonly firstError?: string
}

export const round2 = (x: number): number => Math.round(x * 100) / 100

/** Records verified per request, averaged over the requests sent (RECORDS_PER_REQUEST per kind). */
export function recordsPerRequest (byKind: Readonly<Record<string, { readonly sent: number }>>): number {
  let sent = 0
  let records = 0
  for (const [kind, c] of Object.entries(byKind)) {
    sent += c.sent
    records += c.sent * (RECORDS_PER_REQUEST[kind as RequestKind] ?? 1)
  }
  return sent === 0 ? 1 : records / sent
}

/** CPU seconds the whole machine spent busy (everything but idle and iowait), and in softirq (loopback TCP), from /proc/stat. */
export function machineCpu (): { busy: number, softirq: number } {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number)
    const total = fields.slice(0, 8).reduce((a, b) => a + b, 0)
    return { busy: (total - fields[3]! - fields[4]!) / 100, softirq: fields[6]! / 100 }
  } catch { return { busy: 0, softirq: 0 } }
}

/** One phase's figures from its traffic processes' results and the connection samples (runPhase adds the CPU figures). */
export function figures (shape: TrafficShape, done: TrafficWorkerResult[], opened: number, connectFailed: number, samples: ConnectionSample[], servers: Array<{ pid: number, address: string }>, from: number, until: number): Omit<PhaseFigures, 'coresUsed' | 'serverCpuUsPerAnswer'> {
  const histogram = hdr.build(HISTOGRAM_OPTIONS)
  const byKind: Record<string, KindCounts> = {}
  const statusCodes: Record<string, number> = {}
  const instances: Record<string, number> = {}
  for (const r of done) {
    const h = hdr.decodeFromCompressedBase64(r.histogram)
    histogram.add(h)
    for (const [k, c] of Object.entries(r.byKind)) {
      const t = byKind[k] ??= { sent: 0, ok: 0, wrong: 0, non2xx: 0, errors: 0, timeouts: 0 }
      t.sent += c.sent; t.ok += c.ok; t.wrong += c.wrong; t.non2xx += c.non2xx; t.errors += c.errors; t.timeouts += c.timeouts
    }
    for (const [s, n] of Object.entries(r.statusCodes)) statusCodes[s] = (statusCodes[s] ?? 0) + n
    for (const [id, n] of Object.entries(r.servers)) instances[id] = (instances[id] ?? 0) + n
  }
  const sum = (f: (c: KindCounts) => number): number => Object.values(byKind).reduce((s, c) => s + f(c), 0)
  const requests = {
    sent: sum((c) => c.sent),
    answered: histogram.totalCount,
    ok: sum((c) => c.ok),
    wrongAnswer: sum((c) => c.wrong),
    non2xx: sum((c) => c.non2xx),
    errors: sum((c) => c.errors),
    timeouts: sum((c) => c.timeouts)
  }
  const bad = requests.wrongAnswer + requests.non2xx + requests.errors + requests.timeouts
  const ms = (us: number): number => Math.round(us) / 1000
  const measured = samplesWithin(samples, from, until)
  const totalAnswers = Object.values(instances).reduce((s, n) => s + n, 0)
  const firstError = done.find((r) => r.firstError !== undefined)?.firstError
  return {
    connections: {
      requested: shape.connections,
      opened,
      connectFailed,
      peakEstablished: Math.max(0, ...samples.map((s) => s.total)),
      minEstablishedMeasured: measured.length === 0 ? null : Math.min(...measured.map((s) => s.total)),
      lost: done.reduce((s, r) => s + r.lost, 0),
      openAtEnd: done.reduce((s, r) => s + r.openAtEnd, 0)
    },
    requests,
    byKind,
    statusCodes,
    errorRatio: requests.sent === 0 ? 1 : bad / requests.sent,
    throughputRps: Math.round(done.reduce((s, r) => s + r.receivedInWindow, 0) / shape.durationSeconds),
    recordsPerSecond: Math.round((done.reduce((s, r) => s + r.receivedInWindow, 0) / shape.durationSeconds) * recordsPerRequest(byKind)),
    latencyMs: {
      p50: ms(histogram.getValueAtPercentile(50)),
      p90: ms(histogram.getValueAtPercentile(90)),
      p99: ms(histogram.getValueAtPercentile(99)),
      p999: ms(histogram.getValueAtPercentile(99.9)),
      max: ms(histogram.maxValue),
      mean: ms(histogram.mean)
    },
    serverProcesses: servers,
    connectionsByAddress: Object.fromEntries(shape.addresses.map((a) => [a, Math.max(0, ...samples.map((x) => x.byAddress[a] ?? 0))])),
    serverInstances: Object.entries(instances).sort((a, b) => b[1] - a[1]).map(([id, answers]) => ({ id, answers, share: totalAnswers === 0 ? 0 : Math.round((answers / totalAnswers) * 10_000) / 10_000 })),
    ...(firstError !== undefined ? { firstError } : {})
  }
}
