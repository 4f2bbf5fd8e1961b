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
import { registerOpsRoutes } from './routes/ops.js'
import { registerVerifyRoutes } from './routes/verify.js'
import type { StorageCore } from './store/types.js'

export interface ServerDeps {
  readonly store: StorageCore
  readonly hashKey: Uint8Array
  readonly log: Logger
}

export interface RunningServer {
  readonly port: number
  /** Stops accepting, marks not ready and closes the listen socket. */
  close (): Promise<void>
}

export async function createServer (config: Config, deps: ServerDeps): Promise<RunningServer> {
  const uws = loadNativeUws()
  const app = uws.App()
  let ready = false
  const isReady = (): boolean => ready
  const verifier = new Verifier(deps.store, new RecordCodec(deps.hashKey))
  registerVerifyRoutes(app, {
    verifier,
    ids: new RequestIds(),
    log: deps.log,
    limits: config,
    isReady
  })
  registerOpsRoutes(app, { isReady })

  const listenSocket = await new Promise<us_listen_socket>((resolve, reject) => {
    app.listen(config.host, config.port, (socket) => {
      if (socket === false) reject(new Error(`cannot listen on ${config.host}:${config.port} (in use or not permitted)`))
      else resolve(socket)
    })
  })
  const port = uws.us_socket_local_port(listenSocket)
  ready = true
  let closed = false
  return {
    port,
    async close () {
      if (closed) return
      closed = true
      ready = false
      uws.us_listen_socket_close(listenSocket)
    }
  }
}
