/** Raw TCP exchanges for protocol-level tests (aborts, garbage, oversized bodies). */
import { connect, type Socket } from 'node:net'

export interface RawResult {
  readonly data: string
  /** True when the server closed the connection. */
  readonly closed: boolean
}

/** Sends `chunks` (with `gapMs` between them), then collects what comes back for up to `waitMs`. */
export async function rawExchange (port: number, chunks: ReadonlyArray<string | Buffer>, waitMs = 500, gapMs = 0): Promise<RawResult> {
  const socket = connect(port, '127.0.0.1')
  socket.on('error', () => {})
  await new Promise<void>((resolve) => socket.once('connect', () => { resolve() }))
  let data = ''
  let closed = false
  socket.on('data', (d) => { data += d.toString('latin1') })
  socket.on('close', () => { closed = true })
  for (const c of chunks) {
    if (!socket.destroyed) socket.write(c)
    if (gapMs > 0) await sleep(gapMs)
  }
  const deadline = Date.now() + waitMs
  while (!closed && Date.now() < deadline) await sleep(10)
  socket.destroy()
  return { data, closed }
}

/** Opens a connection, sends a partial request, and destroys the socket: a client that goes away mid-body. */
export async function abortMidBody (port: number, head: string, partialBody: string): Promise<void> {
  const socket: Socket = connect(port, '127.0.0.1')
  socket.on('error', () => {})
  await new Promise<void>((resolve) => socket.once('connect', () => { resolve() }))
  socket.write(head + partialBody)
  await sleep(20)
  socket.destroy()
}

export async function sleep (ms: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms))
}
