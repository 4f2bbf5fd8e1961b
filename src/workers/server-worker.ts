/**
 * One server thread: its own uWebSockets.js app listening on the service's port
 * (uWS shares a port between threads on Linux, and the kernel spreads
 * connections over them), reading the store the main thread opened without
 * copying it, and sharing the main thread's nonce memory, rate buckets,
 * metrics block and crypto pool. The main thread says when to reload and when
 * to drain (src/server-threads.ts).
 */
import { parentPort, threadId, workerData } from 'node:worker_threads'
import { ChipRelayClient } from '../crypto/chip-relay.js'
import { createLogger } from '../log.js'
import { MetricsRecorder } from '../metrics/index.js'
import { createServer } from '../server.js'
import { openSharedStore } from '../store/open.js'
import type { ServerThreadData, ServerThreadMessage, ServerThreadReply } from '../server-threads.js'

const data = workerData as ServerThreadData
const port = parentPort!
const log = createLogger(data.config.logLevel).child({ thread: threadId })
const store = await openSharedStore(data.store)
const chip = data.chipPort === undefined ? undefined : new ChipRelayClient(data.chipPort)
const server = await createServer(data.config, {
  store,
  hashKey: data.hashKey,
  log,
  ...(data.gate !== undefined ? { gateHandle: data.gate } : {}),
  ...(data.metrics !== undefined ? { metrics: MetricsRecorder.attach(data.metrics) } : {}),
  ...(chip !== undefined ? { chip } : {})
})
port.postMessage({ type: 'ready', port: server.port } satisfies ServerThreadReply)

port.on('message', (message: ServerThreadMessage) => {
  if (message.type === 'reload') server.reload()
  if (message.type === 'close') {
    void (async () => {
      await server.close()
      chip?.close()
      await store.close()
      port.postMessage({ type: 'closed' } satisfies ServerThreadReply)
    })()
  }
})
