/**
 * Every core serving: the main thread's server plus `threads - 1` server
 * threads (src/workers/server-worker.ts), all on the same port. What they share
 * is handed over once at start: the store (each thread reads it in place: LMDB
 * maps the same file, the native-free index attaches to the same
 * SharedArrayBuffers), the relying-party gate's nonce memory and rate buckets,
 * the metrics block, and a MessagePort to the main thread's crypto pool.
 */
import { join } from 'node:path'
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads'
import type { GateHandle } from './auth/gate.js'
import type { Config } from './config.js'
import type { ChipPool } from './crypto/chip-pool.js'
import { serveChipRelay } from './crypto/chip-relay.js'
import type { Logger } from './log.js'
import { packageRoot } from './paths.js'
import { DRAIN_TIMEOUT_MS } from './server.js'
import type { StoreHandle } from './store/types.js'

export interface ServerThreadData {
  readonly config: Config
  readonly hashKey: Uint8Array
  readonly store: StoreHandle
  readonly gate?: GateHandle
  readonly metrics?: SharedArrayBuffer
  readonly chipPort?: MessagePort
}

export type ServerThreadMessage = { readonly type: 'reload' } | { readonly type: 'close' }
export type ServerThreadReply = { readonly type: 'ready', readonly port: number } | { readonly type: 'closed' }

export interface SharedServerState {
  readonly config: Config
  readonly hashKey: Uint8Array
  readonly store: StoreHandle
  readonly gate: GateHandle | undefined
  readonly metrics: SharedArrayBuffer | undefined
  readonly chipPool: ChipPool | undefined
  readonly log: Logger
}

export interface ServerThreads {
  /** Server threads besides the main thread's. */
  readonly count: number
  reload (): void
  /** Drains every thread (each answers what it accepted, up to the drain deadline), then ends them. */
  close (): Promise<void>
}

const SERVER_WORKER = (): string => join(packageRoot(), 'dist', 'src', 'workers', 'server-worker.js')

/** Starts `count` server threads listening on `port` (the main server's, so port 0 resolves to one port for all). */
export async function startServerThreads (count: number, port: number, shared: SharedServerState): Promise<ServerThreads> {
  const workers: Worker[] = []
  try {
    for (let i = 0; i < count; i++) workers.push(await startOne(port, shared))
  } catch (err) {
    await Promise.all(workers.map(async (w) => await w.terminate()))
    throw err
  }
  return {
    count,
    reload () {
      for (const w of workers) w.postMessage({ type: 'reload' } satisfies ServerThreadMessage)
    },
    async close () {
      await Promise.all(workers.map(async (w) => {
        const closed = new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, DRAIN_TIMEOUT_MS + 2000)
          w.on('message', (m: ServerThreadReply) => { if (m.type === 'closed') { clearTimeout(timer); resolve() } })
          w.once('exit', () => { clearTimeout(timer); resolve() })
        })
        w.postMessage({ type: 'close' } satisfies ServerThreadMessage)
        await closed
        await w.terminate()
      }))
    }
  }
}

async function startOne (port: number, shared: SharedServerState): Promise<Worker> {
  let chipPort: MessagePort | undefined
  if (shared.chipPool !== undefined) {
    const channel = new MessageChannel()
    serveChipRelay(shared.chipPool, channel.port1)
    channel.port1.unref()
    chipPort = channel.port2
  }
  const data: ServerThreadData = {
    config: { ...shared.config, port },
    hashKey: shared.hashKey,
    store: shared.store,
    ...(shared.gate !== undefined ? { gate: shared.gate } : {}),
    ...(shared.metrics !== undefined ? { metrics: shared.metrics } : {}),
    ...(chipPort !== undefined ? { chipPort } : {})
  }
  const worker = new Worker(SERVER_WORKER(), { workerData: data, transferList: chipPort === undefined ? [] : [chipPort] })
  await new Promise<void>((resolve, reject) => {
    const onMessage = (m: ServerThreadReply): void => { if (m.type === 'ready') { cleanup(); resolve() } }
    const onError = (err: Error): void => { cleanup(); reject(err) }
    const onExit = (code: number): void => { cleanup(); reject(new Error(`server thread exited with code ${code} before it was ready`)) }
    const cleanup = (): void => { worker.off('message', onMessage); worker.off('error', onError); worker.off('exit', onExit) }
    worker.on('message', onMessage)
    worker.once('error', onError)
    worker.once('exit', onExit)
  })
  // A server thread that dies later is a bug: say so loudly; the other threads keep serving.
  worker.on('error', (err) => { shared.log.error({ err }, 'a server thread failed') })
  return worker
}
