/**
 * createServer(config, deps): one server thread's uWS app with every
 * capability's routes (src/app/capabilities.ts), the operational routes, and
 * the listening socket (port 0 picks a free port). Owns no storage: the caller
 * opens and closes the store.
 *
 * A server belongs to a process (src/app/runtime.ts ProcessRuntime): the main
 * thread's is given the runtime and uses its local shares; another thread's is
 * given the shares it was sent. Given neither (tests), it runs the process
 * parts itself and closes them with itself: a whole service on one thread.
 */
import type { us_listen_socket } from 'uWebSockets.js'
import type { AnyCapability } from '../capability.js'
import type { Config } from '../config.js'
import { ListenError } from '../errors.js'
import { RequestIds } from '../http/request-id.js'
import { loadNativeUws } from '../http/uws.js'
import { AccessLog, type Logger } from '../log.js'
import { Lifecycle } from '../http/lifecycle.js'
import type { StorageCore } from '../store/types.js'
import { CAPABILITIES, CATALOGUE } from './capabilities.js'
import { registerOpsRoutes } from './ops-routes.js'
import { catalogueOf, declaredRoutes, ProcessRuntime, ThreadRuntime } from './runtime.js'

export interface ServerDeps {
  readonly store: StorageCore
  readonly hashKey: Uint8Array
  readonly log: Logger
  /** The main thread's process parts. */
  readonly process?: ProcessRuntime
  /** A server thread's shares of them, one per capability (ProcessRuntime.threadShares). */
  readonly shares?: readonly unknown[]
  /** The capability list (default: the service's). */
  readonly capabilities?: readonly AnyCapability[]
}

/** How long shutdown waits for accepted requests to be answered. */
export const DRAIN_TIMEOUT_MS = 10_000
/** How long the last answers get to leave before the remaining connections are closed. */
const CLOSE_LINGER_MS = 100

export interface RunningServer {
  readonly port: number
  readonly lifecycle: Lifecycle
  /** The process parts, when this server runs them itself (no process or shares given). */
  readonly process: ProcessRuntime | undefined
  /** Re-reads what the capabilities reload on SIGHUP (party registry, receipt keys, CSCA trust store). */
  reload (): void
  /**
   * Marks not ready and stops accepting connections, answers 503 to new requests
   * on open ones, waits up to DRAIN_TIMEOUT_MS for accepted requests, then
   * closes the capabilities' thread parts (and the process parts it owns, after
   * `others`, the server threads sharing them, have drained). The caller closes
   * the store afterwards.
   */
  close (others?: Promise<void>): Promise<void>
}

export async function createServer (config: Config, deps: ServerDeps): Promise<RunningServer> {
  const uws = loadNativeUws()
  const capabilities = deps.capabilities ?? CAPABILITIES
  const catalogue = capabilities === CAPABILITIES ? CATALOGUE : catalogueOf(capabilities)
  const own = deps.process === undefined && deps.shares === undefined
    ? await ProcessRuntime.start(capabilities, { config, log: deps.log, store: deps.store, hashKey: deps.hashKey, catalogue })
    : undefined
  const process = deps.process ?? own
  const app = uws.App()
  const lifecycle = new Lifecycle({ accessLog: new AccessLog(deps.log, config.accessLogSample) }, catalogue.routes)
  let threadParts: ThreadRuntime | undefined
  let listenSocket: us_listen_socket
  try {
    threadParts = await ThreadRuntime.start(capabilities, {
      config,
      log: deps.log,
      store: deps.store,
      hashKey: deps.hashKey,
      app,
      lifecycle,
      ids: new RequestIds(),
      main: deps.process !== undefined || own !== undefined,
      catalogue,
      route: (path) => lifecycle.route(path)
    }, process?.localShares() ?? deps.shares ?? [])
    registerOpsRoutes(app, { lifecycle, routes: declaredRoutes(capabilities) })
    listenSocket = await new Promise<us_listen_socket>((resolve, reject) => {
      app.listen(config.host, config.port, (socket) => {
        if (socket === false) reject(new ListenError(`cannot listen on ${config.host}:${config.port}: the port is in use or not permitted (IDV_PORT or --port; 0 picks a free one)`))
        else resolve(socket)
      })
    })
  } catch (err) {
    await threadParts?.close()
    await own?.close()
    throw err
  }
  const port = uws.us_socket_local_port(listenSocket)
  lifecycle.ready = true
  if (own !== undefined) {
    try {
      await own.serving({ port, lifecycle })
    } catch (err) {
      uws.us_listen_socket_close(listenSocket)
      await threadParts.close()
      await own.close()
      throw err
    }
  }
  const parts = threadParts
  let closing: Promise<void> | undefined
  return {
    port,
    lifecycle,
    process: own,
    reload () {
      parts.reload()
      own?.reload()
    },
    async close (others?: Promise<void>) {
      closing ??= (async () => {
        uws.us_listen_socket_close(listenSocket)
        const drained = await lifecycle.drain(DRAIN_TIMEOUT_MS)
        if (!drained) deps.log.warn({ unanswered: lifecycle.inFlight }, 'drain deadline passed with requests still open')
        // Drained: after a short linger for the last answers to reach their clients, close the idle
        // keep-alive connections too (uWS ≥ 20.28 has App.close; its typings lag), so no request can
        // reach a thread that is going away.
        await new Promise((resolve) => setTimeout(resolve, CLOSE_LINGER_MS))
        ;(app as unknown as { close?: () => void }).close?.()
        await parts.close()
        await others // server threads may still use what the process parts share
        await own?.close()
      })()
      return await closing
    }
  }
}
