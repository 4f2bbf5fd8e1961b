/**
 * One phase of a run: start a server's processes on one port (each bound to
 * its loopback address), wait until they are ready, fork the traffic processes
 * (bench/src/lib/traffic-worker.ts) with their share of the connections, wait
 * until every connection is open, warm up, measure the window (latency,
 * answers, the kernel's connection counts, CPU), and stop every process.
 * Which server a phase runs is a Phase (bench/src/suite/server-phases.ts).
 */
import { get as httpGet } from 'node:http'
import { sampleConnections, type ConnectionSample } from '../lib/connections.js'
import { benchScript } from '../lib/bench-paths.js'
import type { TrafficWorkerConfig, TrafficWorkerResult } from '../lib/traffic-worker.js'
import type { ManagedProcess, ProcessGroup } from '../lib/processes.js'
import { cpuSeconds, withChildren } from '../lib/proc-cpu.js'
import { MAX_SEND_INTERVAL_MS, type TrafficShape } from './traffic-shape.js'
import { figures, machineCpu, round2, type PhaseFigures } from './phase-figures.js'

export type PhaseLabel = 'service' | 'hello-world' | 'fastify'

export interface Phase {
  readonly label: PhaseLabel
  readonly serverArgs: (host: string, port: number) => { args: string[], env: NodeJS.ProcessEnv }
  /** The line a server prints once it is listening. */
  readonly ready: RegExp
  /** A path answering 200 once the server accepts requests (the service's /readyz), polled after `ready`. */
  readonly readyPath?: string
  readonly checkAnswers: boolean
}

/** Polls http://address:port{path} until it answers 200 (one connection per try, closed after it, so none lingers in the counts). */
async function waitUntilReady (address: string, port: number, path: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  let last = 'no answer'
  while (Date.now() < deadline) {
    last = await new Promise<string>((resolve) => {
      const req = httpGet({ host: address, port, path, agent: false, timeout: 2000 }, (res) => { res.resume(); resolve(`status ${res.statusCode ?? 0}`) })
      req.on('timeout', () => { req.destroy(new Error('timed out')) })
      req.on('error', (err) => { resolve(err.message) })
    })
    if (last === 'status 200') return
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  throw new Error(`${address}:${port}${path} not ready after ${timeoutMs} ms (${last})`)
}

async function freePort (host: string): Promise<number> {
  const { createServer } = await import('node:net')
  return await new Promise((resolve, reject) => {
    const s = createServer()
    s.once('error', reject)
    s.listen(0, host, () => {
      const port = (s.address() as { port: number }).port
      s.close(() => { resolve(port) })
    })
  })
}

export async function runPhase (group: ProcessGroup, phase: Phase, shape: TrafficShape, requestsFile: string, log: (s: string) => void): Promise<PhaseFigures> {
  const title = `${phase.label} (${shape.rate === 0 ? 'closed loop' : `${shape.rate} req/s`})`
  const port = await freePort('127.0.0.1')
  const servers: Array<{ p: ManagedProcess, address: string }> = []
  for (let i = 0; i < shape.servers; i++) {
    const address = shape.addresses[i % shape.addresses.length]!
    const { args, env } = phase.serverArgs(address, port)
    servers.push({ p: group.spawnNode(`${phase.label} server ${i + 1}`, args, env), address })
  }
  const workers: ManagedProcess[] = []
  const samples: ConnectionSample[] = []
  let sampling = true
  let sampler: Promise<void> = Promise.resolve()
  try {
    await Promise.all(servers.map(async ({ p, address }) => {
      await p.waitFor(phase.ready, 120_000)
      if (phase.readyPath !== undefined) await waitUntilReady(address, port, phase.readyPath, 30_000)
    }))
    log(`${title}: ${shape.servers} server process(es) on port ${port} over ${shape.addresses.join(', ')}`)
    sampler = (async () => {
      while (sampling) {
        try { samples.push(await sampleConnections(port)) } catch { /* no ss: the clients' counts remain */ }
        // ss takes ~1 s at 80,000 sockets; small runs sample often so short windows get several samples.
        await new Promise((resolve) => setTimeout(resolve, shape.connections > 5000 ? 2000 : 250))
      }
    })()

    const workerScript = benchScript('lib', 'traffic-worker.js')
    const opened: Array<Promise<{ opened: number, connectFailed: number, firstError?: string }>> = []
    const results: Array<Promise<TrafficWorkerResult>> = []
    let assigned = 0
    for (let w = 0; w < shape.trafficProcesses; w++) {
      const connections = Math.floor(shape.connections / shape.trafficProcesses) + (w < shape.connections % shape.trafficProcesses ? 1 : 0)
      // Rotate addresses per process so each address gets an equal share of all connections.
      const targets = shape.addresses.map((_, a) => ({ host: shape.addresses[(a + assigned) % shape.addresses.length]!, port }))
      assigned += connections
      const p = group.forkNode(`traffic ${w + 1}`, workerScript)
      workers.push(p)
      const config: TrafficWorkerConfig = {
        targets,
        connections,
        intervalMs: shape.intervalMs,
        openingIntervalMs: MAX_SEND_INTERVAL_MS,
        requestsFile,
        orderOffset: w * 997,
        checkAnswers: phase.checkAnswers,
        connectConcurrency: 256,
        drainMs: 10_000
      }
      const exited = new Promise<never>((_resolve, reject) => {
        p.child.once('exit', (code, signal) => { reject(new Error(`traffic process ${w + 1} exited (${code ?? signal}) early:\n${p.output().slice(-2000)}`)) })
      })
      const message = async <T>(type: string): Promise<T> => await Promise.race([exited, new Promise<T>((resolve) => {
        const on = (m: { type: string }): void => { if (m.type === type) { p.child.off('message', on); resolve(m as T) } }
        p.child.on('message', on)
      })])
      const result = message<TrafficWorkerResult>('result')
      opened.push(message('opened'))
      results.push(result)
      // Awaited below; until then a process that dies must not be an unhandled rejection.
      exited.catch(() => {})
      result.catch(() => {})
      p.child.send({ type: 'config', config })
    }
    const connectStart = Date.now()
    const openedAll = await Promise.all(opened)
    const connectSeconds = (Date.now() - connectStart) / 1000
    const openedCount = openedAll.reduce((s, o) => s + o.opened, 0)
    const connectFailed = openedAll.reduce((s, o) => s + o.connectFailed, 0)
    log(`${title}: ${openedCount} of ${shape.connections} connections open in ${connectSeconds} s${connectFailed > 0 ? ` (${connectFailed} failed: ${openedAll.find((o) => o.firstError !== undefined)?.firstError ?? ''})` : ''}; warm-up ${shape.warmupSeconds} s, measuring ${shape.durationSeconds} s`)
    const from = Date.now() + shape.warmupSeconds * 1000
    const until = from + shape.durationSeconds * 1000
    for (const w of workers) w.child.send({ type: 'measure', from, until })
    // With their children: a Fastify server with THREADS > 1 is a cluster of processes.
    const serverPids = withChildren(servers.map(({ p }) => p.child.pid ?? -1))
    let serverCpu = 0
    let machineFrom = machineCpu()
    let machine = { busy: 0, softirq: 0 }
    const cpuFrom = setTimeout(() => { serverCpu = -cpuSeconds(serverPids); machineFrom = machineCpu() }, from - Date.now())
    const cpuUntil = setTimeout(() => {
      serverCpu += cpuSeconds(serverPids)
      const m = machineCpu()
      machine = { busy: m.busy - machineFrom.busy, softirq: m.softirq - machineFrom.softirq }
    }, until - Date.now())
    const done = await Promise.all(results).finally(() => { clearTimeout(cpuFrom); clearTimeout(cpuUntil) })
    sampling = false
    await sampler
    const f = figures(shape, done, openedCount, connectFailed, samples, servers.map(({ p, address }) => ({ pid: p.child.pid ?? -1, address })), from, until)
    // The service logs no PIN or name; its warnings and errors explain lost connections and failures.
    for (const { p } of servers) {
      const noteworthy = p.output().split('\n').filter((l) => /"level":(4|5|6)0/.test(l) && !l.includes('IDV_CSCA_DIR is not set') && !l.includes('IDV_AUTH=none'))
      if (noteworthy.length > 0) log(`${p.name} warned:\n  ${noteworthy.slice(-10).join('\n  ')}`)
    }
    const answered = f.throughputRps * shape.durationSeconds
    return { ...f, connections: { ...f.connections, connectSeconds }, serverCpuUsPerAnswer: answered === 0 ? null : Math.round(serverCpu / answered * 1e7) / 10, coresUsed: { servers: round2(serverCpu / shape.durationSeconds), load: round2(done.reduce((s, r) => s + r.cpuSeconds, 0) / shape.durationSeconds), machine: round2(machine.busy / shape.durationSeconds), softirq: round2(machine.softirq / shape.durationSeconds) } }
  } finally {
    sampling = false
    await sampler
    await group.stopAll()
  }
}
