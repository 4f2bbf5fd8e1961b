/**
 * One traffic process of the SLO suite (forked by bench/src/run.ts; speaks over IPC).
 *
 * It opens its share of keep-alive connections, spread round-robin over the
 * destination addresses, and sends on each at its own evenly spread, jittered
 * offset (paced mode) or back to back (closed loop, `intervalMs` 0).
 * Latency is measured from the time a request was *meant* to be sent: when a
 * connection is still waiting for an answer at its next due time, the send is
 * owed and charged from that due time (no coordinated omission). Latencies go
 * into an HDR histogram (µs) that the runner merges with the other processes'.
 *
 * Why a process of its own and not autocannon: one process may hold at most
 * 20,000 open files, and autocannon's rate options send each second's requests
 * in one burst (issue 6). Timers are setTimeout with 1 ms resolution rather than
 * a setImmediate spin, so idle traffic processes leave the cores to the servers;
 * the lateness this adds is counted as latency and shows in the hello-world
 * baseline's figures.
 *
 * Protocol: runner → {type:'config'}; worker → {type:'opened'}; runner →
 * {type:'measure', from, until} (epoch ms); worker → {type:'result'} and exits.
 * The worker exits when the runner disconnects.
 *
 * "Traffic", not "load": in idv, load means the bulk import of a register
 * extract (src/bulk-load, `idv load`, bench/src/bulk-load.ts). The option
 * that sets how many of these run keeps its first name, --load-processes, as
 * an alias of --traffic-processes.
 */
import { readFileSync } from 'node:fs'
import { connect, type Socket } from 'node:net'
import * as hdr from 'hdr-histogram-js'

export interface TrafficTarget { readonly host: string, readonly port: number }

export interface TrafficWorkerConfig {
  readonly targets: readonly TrafficTarget[]
  readonly connections: number
  /** Per-connection send interval; 0 = closed loop (send again as soon as answered). */
  readonly intervalMs: number
  /**
   * Interval while connections are still opening (paced mode): only often
   * enough to keep them alive, so the opening phase is not also an overload.
   * The target interval applies from the 'measure' message (before the warm-up).
   */
  readonly openingIntervalMs: number
  /** JSON file written by request-pool.ts. */
  readonly requestsFile: string
  /** Where this process starts in the shared request order. */
  readonly orderOffset: number
  /** Check each answer against its template's expected class (off for the hello-world baseline). */
  readonly checkAnswers: boolean
  readonly connectConcurrency: number
  /** How long to wait for answers still outstanding after the window. */
  readonly drainMs: number
}

export interface KindCounts { sent: number, ok: number, wrong: number, non2xx: number, errors: number, timeouts: number }

export interface TrafficWorkerResult {
  readonly type: 'result'
  /** hdr-histogram-js compressed base64, microseconds. */
  readonly histogram: string
  readonly opened: number
  readonly connectFailed: number
  /** Connections closed or failed after opening. */
  readonly lost: number
  readonly openAtEnd: number
  readonly byKind: Record<string, KindCounts>
  readonly statusCodes: Record<string, number>
  /** Answers per server instance (the x-request-id prefix identifies the process or thread). */
  readonly servers: Record<string, number>
  /** Answers received inside the window (whenever intended): the throughput, which answers drained after it must not inflate. */
  readonly receivedInWindow: number
  /** CPU seconds (user + system) this process spent in the measured window. */
  readonly cpuSeconds: number
  readonly firstError?: string
}

export interface RequestTemplate { readonly kind: string, readonly expect: string, readonly raw: string }
export interface RequestPoolFile { readonly templates: readonly RequestTemplate[], readonly order: readonly number[] }

export const HISTOGRAM_OPTIONS = { lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: 3 } as const

const HEADER_END = Buffer.from('\r\n\r\n')
const REQUEST_ID = 'x-request-id: '
/** RequestIds: 6 random bytes in base64url per process (src/http/request-id.ts), then a counter. */
const INSTANCE_PREFIX = 8

function run (config: TrafficWorkerConfig): void {
  const pool = JSON.parse(readFileSync(config.requestsFile, 'utf8')) as RequestPoolFile
  const raws = pool.templates.map((t) => Buffer.from(t.raw, 'base64'))
  const expects = pool.templates.map((t) => Buffer.from(t.expect))
  const kinds = pool.templates.map((t) => t.kind)
  const order = pool.order
  let next = config.orderOffset

  const histogram = hdr.build(HISTOGRAM_OPTIONS)
  const byKind: Record<string, KindCounts> = {}
  for (const k of new Set(kinds)) byKind[k] = { sent: 0, ok: 0, wrong: 0, non2xx: 0, errors: 0, timeouts: 0 }
  const statusCodes: Record<string, number> = {}
  const servers: Record<string, number> = {}
  let firstError: string | undefined

  const n = config.connections
  const sockets: Array<Socket | undefined> = new Array(n)
  const alive = new Uint8Array(n)
  const busy = new Uint8Array(n)
  const inFlightIntended = new Float64Array(n)
  const inFlightTemplate = new Int32Array(n)
  const owed: Array<number[] | undefined> = new Array(n)
  let opened = 0; let connectFailed = 0; let lost = 0
  let measureFrom = Infinity; let measureUntil = Infinity
  let stopping = false
  let interval = config.intervalMs === 0 ? 0 : Math.max(config.intervalMs, config.openingIntervalMs)
  let cpuAtFrom: NodeJS.CpuUsage | undefined
  let cpuInWindow: NodeJS.CpuUsage | undefined

  const inWindow = (t: number): boolean => t >= measureFrom && t < measureUntil
  const countOf = (template: number): KindCounts => byKind[kinds[template]!]!
  // A request owed but never sent had no template yet: it is charged to the kind the order would have given it.
  let unsent = 0
  let receivedInWindow = 0
  const unsentKind = (): KindCounts => countOf(order[(next + unsent++) % order.length]!)

  const send = (i: number, intended: number): void => {
    const t = order[next++ % order.length]!
    busy[i] = 1
    inFlightIntended[i] = intended
    inFlightTemplate[i] = t
    if (inWindow(intended)) countOf(t).sent++
    sockets[i]!.write(raws[t]!)
  }

  const onAnswer = (i: number, head: string, body: Buffer): void => {
    const now = performance.now()
    const intended = inFlightIntended[i]!
    const t = inFlightTemplate[i]!
    busy[i] = 0
    if (inWindow(now)) receivedInWindow++
    if (inWindow(intended)) {
      histogram.recordValue(Math.max(1, Math.round((now - intended) * 1000)))
      const c = countOf(t)
      const status = head.slice(9, 12)
      statusCodes[status] = (statusCodes[status] ?? 0) + 1
      if (status[0] !== '2') c.non2xx++
      else if (!config.checkAnswers || body.subarray(0, 512).includes(expects[t]!)) c.ok++
      else c.wrong++
      const at = head.indexOf(REQUEST_ID)
      if (at >= 0) {
        const instance = head.slice(at + REQUEST_ID.length, at + REQUEST_ID.length + INSTANCE_PREFIX)
        servers[instance] = (servers[instance] ?? 0) + 1
      }
    }
    const queue = owed[i]
    if (queue !== undefined && queue.length > 0) send(i, queue.shift()!)
    else if (config.intervalMs === 0 && !stopping && now < measureUntil) send(i, now)
  }

  const onLost = (i: number, why: string): void => {
    if (alive[i] === 0) return
    alive[i] = 0
    if (!stopping) { lost++; firstError ??= why }
    if (busy[i] === 1 && inWindow(inFlightIntended[i]!)) countOf(inFlightTemplate[i]!).errors++
    busy[i] = 0
    for (const intended of owed[i] ?? []) if (inWindow(intended)) { const c = unsentKind(); c.sent++; c.errors++ }
    owed[i] = undefined
  }

  const attach = (i: number, socket: Socket): void => {
    let buffered: Buffer = Buffer.alloc(0)
    socket.on('data', (d: Buffer) => {
      buffered = buffered.length === 0 ? d : Buffer.concat([buffered, d])
      for (;;) {
        const headerEnd = buffered.indexOf(HEADER_END)
        if (headerEnd < 0) return
        const head = buffered.subarray(0, headerEnd).toString('latin1').toLowerCase()
        const m = /content-length: *(\d+)/.exec(head)
        const bodyStart = headerEnd + 4
        const total = bodyStart + (m === null ? 0 : Number(m[1]))
        if (buffered.length < total) return
        const body = buffered.subarray(bodyStart, total)
        buffered = buffered.length === total ? Buffer.alloc(0) : buffered.subarray(total)
        onAnswer(i, head, body)
      }
    })
    socket.on('error', (err) => { onLost(i, err.message) })
    socket.on('close', () => { onLost(i, 'connection closed by the server') })
  }

  // The schedule: a binary min-heap of connection indices by due time.
  const due = new Float64Array(n)
  const heap = new Int32Array(n)
  let heapSize = 0
  const push = (i: number): void => {
    let k = heapSize++
    while (k > 0) {
      const parent = (k - 1) >> 1
      if (due[heap[parent]!]! <= due[i]!) break
      heap[k] = heap[parent]!; k = parent
    }
    heap[k] = i
  }
  const pop = (): number => {
    const top = heap[0]!
    const last = heap[--heapSize]!
    let k = 0
    for (;;) {
      let child = 2 * k + 1
      if (child >= heapSize) break
      if (child + 1 < heapSize && due[heap[child + 1]!]! < due[heap[child]!]!) child++
      if (due[heap[child]!]! >= due[last]!) break
      heap[k] = heap[child]!; k = child
    }
    heap[k] = last
    return top
  }

  const heapify = (): void => {
    const all = heap.slice(0, heapSize)
    heapSize = 0
    for (const i of all) push(i)
  }

  let timer: NodeJS.Timeout | undefined
  const tick = (): void => {
    timer = undefined
    const now = performance.now()
    while (heapSize > 0 && due[heap[0]!]! <= now) {
      const i = pop()
      const intended = due[i]!
      if (intended >= measureUntil) continue // this connection's schedule is over
      // An access point whose connection was lost cannot send: each request it
      // was due to make in the window is an error, not a request that never existed.
      if (alive[i] === 0) { if (inWindow(intended)) { const c = unsentKind(); c.sent++; c.errors++ } } else if (busy[i] === 1) (owed[i] ??= []).push(intended)
      else send(i, intended)
      due[i] = intended + interval
      push(i)
    }
    if (heapSize > 0 && !stopping) timer = setTimeout(tick, Math.max(1, due[heap[0]!]! - performance.now()))
  }
  /**
   * Connection i's offset in the interval: evenly spread, one slot of
   * interval/n per connection, jittered inside its slot, so sends neither
   * bunch nor march in lockstep.
   */
  const slot = (i: number): number => ((i + Math.random()) / n) * interval
  const schedule = (i: number): void => {
    // A new connection sends at once, as an access point connects to send: the
    // server's idle timer started at accept, which may be well before this
    // callback when thousands of connections open at once.
    send(i, performance.now())
    if (interval === 0) return
    due[i] = performance.now() + slot(i)
    push(i)
    if (timer === undefined) timer = setTimeout(tick, 1)
  }

  const open = async (i: number): Promise<void> => {
    const target = config.targets[i % config.targets.length]!
    await new Promise<void>((resolve) => {
      const socket = connect({ host: target.host, port: target.port, noDelay: true })
      const fail = (err: Error): void => { connectFailed++; firstError ??= `connect ${target.host}: ${err.message}`; socket.destroy(); resolve() }
      socket.setTimeout(15_000, () => { fail(new Error('timed out')) })
      socket.once('error', fail)
      socket.once('connect', () => {
        socket.off('error', fail)
        socket.setTimeout(0)
        sockets[i] = socket
        alive[i] = 1
        opened++
        attach(i, socket)
        schedule(i) // sends start at once, so early connections stay alive while the rest open
        resolve()
      })
    })
  }

  const finish = async (): Promise<void> => {
    cpuInWindow = process.cpuUsage(cpuAtFrom)
    stopping = true
    const deadline = performance.now() + config.drainMs
    const outstanding = (): boolean => {
      for (let i = 0; i < n; i++) if (alive[i] === 1 && (busy[i] === 1 || (owed[i]?.length ?? 0) > 0)) return true
      return false
    }
    while (outstanding() && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20))
    if (timer !== undefined) clearTimeout(timer)
    let openAtEnd = 0
    for (let i = 0; i < n; i++) {
      if (alive[i] === 1) {
        openAtEnd++
        if (busy[i] === 1 && inWindow(inFlightIntended[i]!)) countOf(inFlightTemplate[i]!).timeouts++
        for (const intended of owed[i] ?? []) if (inWindow(intended)) { const c = unsentKind(); c.sent++; c.timeouts++ }
        alive[i] = 0
      }
      sockets[i]?.destroy()
    }
    const result: TrafficWorkerResult = {
      type: 'result',
      histogram: hdr.encodeIntoCompressedBase64(histogram),
      opened,
      connectFailed,
      lost,
      openAtEnd,
      byKind,
      statusCodes,
      servers,
      receivedInWindow,
      cpuSeconds: cpuInWindow === undefined ? 0 : (cpuInWindow.user + cpuInWindow.system) / 1e6,
      ...(firstError !== undefined ? { firstError } : {})
    }
    process.send!(result, () => { process.exit(0) })
  }

  process.on('message', (m: { type: string, from?: number, until?: number }) => {
    if (m.type !== 'measure') return
    // Epoch → this process's performance clock.
    const offset = performance.timeOrigin
    // From now on the target rate, from evenly spread offsets (the warm-up that follows absorbs the change).
    if (interval > 0 && interval !== config.intervalMs) {
      interval = config.intervalMs
      const now = performance.now()
      for (let k = 0; k < heapSize; k++) { const i = heap[k]!; due[i] = now + slot(i) }
      heapify()
    }
    measureFrom = m.from! - offset
    measureUntil = m.until! - offset
    setTimeout(() => { cpuAtFrom = process.cpuUsage() }, Math.max(0, measureFrom - performance.now()))
    setTimeout(() => { void finish() }, Math.max(0, measureUntil - performance.now()) + 5)
  })

  void (async () => {
    let i = 0
    const opener = async (): Promise<void> => { while (i < n) await open(i++) }
    await Promise.all(Array.from({ length: Math.min(n, config.connectConcurrency) }, opener))
    process.send!({ type: 'opened', opened, connectFailed, firstError })
  })()
}

process.on('disconnect', () => { process.exit(0) })
process.once('message', (m: { type: string, config: TrafficWorkerConfig }) => {
  if (m.type === 'config') run(m.config)
})
