/**
 * Every core serving: the main thread's server plus `threads - 1` server
 * threads (src/app/server-thread.ts), all on the same port. What they share
 * is handed over once at start: the store (each thread reads it in place: LMDB
 * maps the same file, the native-free index attaches to the same
 * SharedArrayBuffers) and each capability's share of its process part
 * (src/capability.ts: nonce memory and rate buckets, the metrics block, a
 * MessagePort to the crypto pool…), whatever the capabilities are.
 */
import { join } from 'node:path'
import { Worker } from 'node:worker_threads'
import type { Config } from '../config.js'
import type { Logger } from '../log.js'
import { packageRoot } from '../paths.js'
import { DRAIN_TIMEOUT_MS } from './server.js'
import type { StoreHandle } from '../store/types.js'
import type { ProcessRuntime } from './runtime.js'

export interface ServerThreadData {
  readonly config: Config
  readonly hashKey: Uint8Array
  readonly store: StoreHandle
  /** One share per capability, in list order (ProcessRuntime.threadShares). */
  readonly shares: readonly unknown[]
}

export type ServerThreadMessage = { readonly type: 'reload' } | { readonly type: 'close' }
export type ServerThreadReply = { readonly type: 'ready', readonly port: number } | { readonly type: 'closed' }

export interface SharedServerState {
  readonly config: Config
  readonly hashKey: Uint8Array
  readonly store: StoreHandle
  readonly process: ProcessRuntime
  readonly log: Logger
}

export interface ServerThreads {
  /** Server threads besides the main thread's. */
  readonly count: number
  reload (): void
  /** Drains every thread (each answers what it accepted, up to the drain deadline), then ends them. */
  close (): Promise<void>
}

const SERVER_WORKER = (): string => join(packageRoot(), 'dist', 'src', 'app', 'server-thread.js')

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
  const { values, transfer } = shared.process.threadShares()
  const data: ServerThreadData = { config: { ...shared.config, port }, hashKey: shared.hashKey, store: shared.store, shares: values }
  const worker = new Worker(SERVER_WORKER(), { workerData: data, transferList: transfer })
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
