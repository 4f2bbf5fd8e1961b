/**
 * An open-loop HTTP/1.1 traffic generator: each keep-alive connection sends at its
 * own evenly spaced, jittered schedule, and latency is measured from the time a
 * request was *meant* to be sent, so a stalled server is charged for the
 * requests it delayed (no coordinated omission).
 *
 * autocannon is kept for saturation runs; its rate options send each second's
 * requests in one burst, which measures the burst, not the server.
 */
import { connect, type Socket } from 'node:net'

export interface PacedOptions {
  readonly host: string
  readonly port: number
  readonly connections: number
  /** Requests per second over all connections; 0: closed loop (each connection sends as soon as its answer is in). */
  readonly rate: number
  readonly durationSeconds: number
  /** Prebuilt raw HTTP/1.1 requests (keep-alive), used round-robin. */
  readonly requests: readonly Buffer[]
}

export interface PacedResult {
  readonly sent: number
  readonly completed: number
  readonly errors: number
  readonly non2xx: number
  readonly achievedRps: number
  /** Milliseconds. */
  readonly latency: { p50: number, p90: number, p99: number, p999: number, max: number }
}

/** Builds a raw keep-alive POST. */
export function rawPost (path: string, body: string | Buffer, contentType = 'application/json', host = 'bench'): Buffer {
  const b = typeof body === 'string' ? Buffer.from(body) : body
  return Buffer.concat([Buffer.from(`POST ${path} HTTP/1.1\r\nHost: ${host}\r\nContent-Type: ${contentType}\r\nContent-Length: ${b.length}\r\n\r\n`), b])
}

export async function runPaced (o: PacedOptions): Promise<PacedResult> {
  const closedLoop = o.rate <= 0
  const interval = closedLoop ? 0 : (o.connections / o.rate) * 1000
  const samples: number[] = []
  let sent = 0; let errors = 0; let non2xx = 0; let next = 0
  const sockets = await Promise.all(Array.from({ length: o.connections }, async () => await open(o.host, o.port)))
  const start = performance.now() + 100
  const end = start + o.durationSeconds * 1000
  // Per connection: the intended time of its next send, and whether a request is in flight.
  const due = new Float64Array(o.connections)
  const sentAt = new Float64Array(o.connections)
  const busy = new Uint8Array(o.connections)
  const done = new Uint8Array(o.connections)
  for (let i = 0; i < o.connections; i++) due[i] = closedLoop ? start : start + (i / o.connections) * interval + Math.random() * interval * 0.1

  sockets.forEach((socket, i) => {
    let buffered: Buffer = Buffer.alloc(0)
    socket.on('data', (d: Buffer) => {
      buffered = buffered.length === 0 ? d : Buffer.concat([buffered, d])
      for (;;) {
        const headerEnd = buffered.indexOf('\r\n\r\n')
        if (headerEnd < 0) return
        const head = buffered.subarray(0, headerEnd).toString('latin1')
        const m = /content-length: *(\d+)/i.exec(head)
        const total = headerEnd + 4 + (m === null ? 0 : Number(m[1]))
        if (buffered.length < total) return
        const status = Number(head.slice(9, 12))
        buffered = buffered.subarray(total)
        // Latency from the intended send time: a send that ran late because the
        // previous answer was slow counts against the server.
        samples.push(performance.now() - sentAt[i]!)
        if (status < 200 || status > 299) non2xx++
        busy[i] = 0
        due[i] = closedLoop ? performance.now() : due[i]! + interval
      }
    })
    socket.on('error', () => { errors++; done[i] = 1; busy[i] = 0 })
  })

  // One scheduler polls on setImmediate rather than a timer per connection:
  // Node timers fire up to a millisecond late, which would show up as latency.
  await new Promise<void>((resolve) => {
    const tick = (): void => {
      const now = performance.now()
      let active = 0
      for (let i = 0; i < o.connections; i++) {
        if (done[i] === 1) continue
        if (busy[i] === 1) { active++; continue }
        if (due[i]! >= end) { done[i] = 1; continue }
        active++
        if (due[i]! <= now) {
          busy[i] = 1
          sentAt[i] = due[i]!
          sent++
          sockets[i]!.write(o.requests[next++ % o.requests.length]!)
        }
      }
      if (active === 0 || now > end + 10_000) resolve()
      else setImmediate(tick)
    }
    tick()
  })
  for (const s of sockets) s.destroy()
  const completed = samples.length
  samples.sort((a, b) => a - b)
  const q = (p: number): number => samples.length === 0 ? 0 : Math.round(samples[Math.min(samples.length - 1, Math.floor(p * samples.length))]! * 100) / 100
  return {
    sent,
    completed,
    errors,
    non2xx,
    achievedRps: completed / o.durationSeconds,
    latency: { p50: q(0.5), p90: q(0.9), p99: q(0.99), p999: q(0.999), max: q(1) }
  }
}

async function open (host: string, port: number): Promise<Socket> {
  return await new Promise((resolve, reject) => {
    const s = connect({ host, port, noDelay: true })
    s.once('connect', () => { resolve(s) })
    s.once('error', reject)
  })
}
