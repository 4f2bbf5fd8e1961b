/**
 * createServer(config, deps): builds the uWS app, registers the routes, listens
 * (port 0 picks a free port) and returns { port, close }. Owns no storage: the
 * caller opens and closes the store.
 */
import type { us_listen_socket } from 'uWebSockets.js'
import { nodeAuthStatePath, type Config } from './config.js'
import { ListenError } from './errors.js'
import { RecordCodec } from './domain/record.js'
import { Verifier } from './domain/verifier.js'
import { RequestIds } from './http/request-id.js'
import { loadNativeUws } from './http/uws.js'
import { AccessLog, type Logger } from './log.js'
import { createMetrics, type MetricsRecorder } from './metrics/index.js'
import { registerChipRoutes } from './routes/chip.js'
import { registerOpsRoutes } from './routes/ops.js'
import { ChipPool } from './crypto/chip-pool.js'
import type { ChipSubmitter } from './crypto/chip-relay.js'
import { Lifecycle } from './http/lifecycle.js'
import { registerVerifyRoutes } from './routes/verify.js'
import type { StorageCore } from './store/types.js'
import { PartyGate, type GateHandle, type GateOptions } from './auth/gate.js'
import { ReceiptSigner } from './receipts/receipt.js'
import { ServiceReceiptKeys } from './receipts/keys.js'

export interface ServerDeps {
  readonly store: StorageCore
  readonly hashKey: Uint8Array
  readonly log: Logger
  /** Another thread's gate state to share (nonce memory, rate buckets); default: fresh. */
  readonly gateHandle?: GateHandle
  /** This thread's recorder on a shared metrics block; default: a new block when config.metrics is on. */
  readonly metrics?: MetricsRecorder
  /** Chip verification by a pool someone else owns (the main thread's, for server threads); default: a pool of its own when IDV_CSCA_DIR is set. */
  readonly chip?: ChipSubmitter
}

/** How long shutdown waits for accepted requests to be answered. */
export const DRAIN_TIMEOUT_MS = 10_000
/** How long the last answers get to leave before the remaining connections are closed. */
const CLOSE_LINGER_MS = 100

export interface RunningServer {
  readonly port: number
  readonly lifecycle: Lifecycle
  /** The crypto pool this server owns, when chip verification is configured and no pool was passed in. */
  readonly chipPool: ChipPool | undefined
  /** Relying-party authentication, unless IDV_AUTH=none. */
  readonly gate: PartyGate | undefined
  /** Where requests are recorded (its `block` is what the metrics port publishes); undefined when metrics are off. */
  readonly metrics: MetricsRecorder | undefined
  /** Re-reads the party registry, the receipt keys and the CSCA trust store (SIGHUP). */
  reload (): void
  /**
   * Marks not ready and stops accepting connections, answers 503 to new requests
   * on open ones, waits up to DRAIN_TIMEOUT_MS for accepted requests, then stops
   * the crypto pool (after `others`, the server threads sharing it, have
   * drained). The caller closes the store afterwards.
   */
  close (others?: Promise<void>): Promise<void>
}

export function createChipPool (config: Config): ChipPool {
  return new ChipPool({ threads: config.cryptoThreads, maxQueue: config.cryptoMaxQueue, trustDir: config.cscaDir, ...(config.crlFile !== '' ? { crlFile: config.crlFile } : {}) })
}

function gateOptions (config: Config, log: Logger): GateOptions {
  // A member of a cluster shares nonces and rate buckets with the other processes (LMDB); one process, with its threads (SharedArrayBuffers).
  return { partiesFile: config.partiesFile, windowSeconds: config.signatureWindowSeconds, nonceSlots: config.nonceSlots, nodeStatePath: config.processes > 1 ? nodeAuthStatePath(config) : undefined, log }
}

export async function createServer (config: Config, deps: ServerDeps): Promise<RunningServer> {
  const uws = loadNativeUws()
  const app = uws.App()
  const metrics = deps.metrics ?? (config.metrics ? createMetrics().recorder : undefined)
  const lifecycle = new Lifecycle({ metrics, accessLog: new AccessLog(deps.log, config.accessLogSample) })
  const verifier = new Verifier(deps.store, new RecordCodec(deps.hashKey))
  const ids = new RequestIds()
  const gate = config.auth === 'none'
    ? undefined
    : (deps.gateHandle === undefined ? PartyGate.create(gateOptions(config, deps.log)) : PartyGate.attach(gateOptions(config, deps.log), deps.gateHandle))
  const receiptKeys = new ServiceReceiptKeys(gate !== undefined && config.receipts ? config.receiptKeyFile : undefined)
  const receipts = receiptKeys.enabled ? new ReceiptSigner({ keys: () => receiptKeys.current() }) : undefined
  const chipPool = deps.chip !== undefined || config.cscaDir === '' ? undefined : createChipPool(config)
  const chip = deps.chip ?? chipPool
  registerVerifyRoutes(app, {
    verifier,
    ids,
    log: deps.log,
    limits: config,
    lifecycle,
    gate,
    receipts
  })
  registerChipRoutes(app, { verifier, pool: chip, ids, log: deps.log, maxBodyBytes: config.maxChipBodyBytes, lifecycle, gate, receipts })
  registerOpsRoutes(app, { lifecycle, jwks: () => receiptKeys.jwks() })

  const listenSocket = await new Promise<us_listen_socket>((resolve, reject) => {
    app.listen(config.host, config.port, (socket) => {
      if (socket === false) reject(new ListenError(`cannot listen on ${config.host}:${config.port}: the port is in use or not permitted (IDV_PORT or --port; 0 picks a free one)`))
      else resolve(socket)
    })
  }).catch(async (err: unknown) => {
    gate?.close()
    await chipPool?.close()
    throw err
  })
  const port = uws.us_socket_local_port(listenSocket)
  const stopLoopWatch = metrics?.watchEventLoop()
  lifecycle.ready = true
  let closing: Promise<void> | undefined
  return {
    port,
    lifecycle,
    chipPool,
    gate,
    metrics,
    reload () {
      const parties = gate?.reload()
      if (parties !== undefined && !parties.ok) deps.log.error({ problems: parties.problems }, 'relying-party registry not reloaded: the file is invalid')
      receiptKeys.reload(deps.log)
      chipPool?.reloadTrust()
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
        stopLoopWatch?.()
        gate?.close()
        await others // server threads may still have chips on this pool
        await chipPool?.close()
      })()
      return await closing
    }
  }
}
