/**
 * createServer(config, deps): builds the uWS app, registers the routes, listens
 * (port 0 picks a free port) and returns { port, close }. Owns no storage: the
 * caller opens and closes the store.
 */
import type { us_listen_socket } from 'uWebSockets.js'
import type { Config } from './config.js'
import { RecordCodec } from './domain/record.js'
import { Verifier } from './domain/verifier.js'
import { RequestIds } from './http/request-id.js'
import { loadNativeUws } from './http/uws.js'
import type { Logger } from './log.js'
import { registerChipRoutes } from './routes/chip.js'
import { registerOpsRoutes } from './routes/ops.js'
import { ChipPool } from './crypto/chip-pool.js'
import { Lifecycle } from './http/lifecycle.js'
import { registerVerifyRoutes } from './routes/verify.js'
import type { StorageCore } from './store/types.js'

export interface ServerDeps {
  readonly store: StorageCore
  readonly hashKey: Uint8Array
  readonly log: Logger
}

/** How long shutdown waits for accepted requests to be answered. */
export const DRAIN_TIMEOUT_MS = 10_000

export interface RunningServer {
  readonly port: number
  readonly lifecycle: Lifecycle
  /** The crypto pool, when chip verification is configured. */
  readonly chipPool: ChipPool | undefined
  /**
   * Marks not ready and stops accepting connections, answers 503 to new requests
   * on open ones, waits up to DRAIN_TIMEOUT_MS for accepted requests, then stops
   * the crypto pool. The caller closes the store afterwards.
   */
  close (): Promise<void>
}

export async function createServer (config: Config, deps: ServerDeps): Promise<RunningServer> {
  const uws = loadNativeUws()
  const app = uws.App()
  const lifecycle = new Lifecycle()
  const verifier = new Verifier(deps.store, new RecordCodec(deps.hashKey))
  const ids = new RequestIds()
  const chipPool = config.cscaDir === ''
    ? undefined
    : new ChipPool({ threads: config.cryptoThreads, maxQueue: config.cryptoMaxQueue, trustDir: config.cscaDir, ...(config.crlFile !== '' ? { crlFile: config.crlFile } : {}) })
  registerVerifyRoutes(app, {
    verifier,
    ids,
    log: deps.log,
    limits: config,
    lifecycle
  })
  registerChipRoutes(app, { verifier, pool: chipPool, ids, log: deps.log, maxBodyBytes: config.maxChipBodyBytes, lifecycle })
  registerOpsRoutes(app, { lifecycle })

  const listenSocket = await new Promise<us_listen_socket>((resolve, reject) => {
    app.listen(config.host, config.port, (socket) => {
      if (socket === false) reject(new Error(`cannot listen on ${config.host}:${config.port} (in use or not permitted)`))
      else resolve(socket)
    })
  }).catch(async (err: unknown) => {
    await chipPool?.close()
    throw err
  })
  const port = uws.us_socket_local_port(listenSocket)
  lifecycle.ready = true
  let closing: Promise<void> | undefined
  return {
    port,
    lifecycle,
    chipPool,
    async close () {
      closing ??= (async () => {
        uws.us_listen_socket_close(listenSocket)
        const drained = await lifecycle.drain(DRAIN_TIMEOUT_MS)
        if (!drained) deps.log.warn({ unanswered: lifecycle.inFlight }, 'drain deadline passed with requests still open')
        await chipPool?.close()
      })()
      return await closing
    }
  }
}
