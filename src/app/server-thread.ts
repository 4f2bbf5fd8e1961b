/**
 * One server thread: its own uWebSockets.js app listening on the service's port
 * (uWS shares a port between threads on Linux, and the kernel spreads
 * connections over them), reading the store the main thread opened without
 * copying it, and attaching every capability to what the main thread's
 * process parts share (src/capability.ts). The main thread says when to
 * reload and when to drain (src/app/server-threads.ts).
 */
import { parentPort, threadId, workerData } from 'node:worker_threads'
import { createLogger } from '../log.js'
import { openSharedStore } from '../store/open.js'
import { createServer } from './server.js'
import type { ServerThreadData, ServerThreadMessage, ServerThreadReply } from './server-threads.js'

const data = workerData as ServerThreadData
const port = parentPort!
const log = createLogger(data.config.logLevel).child({ thread: threadId })
const store = await openSharedStore(data.store)
const server = await createServer(data.config, { store, hashKey: data.hashKey, log, shares: data.shares })
port.postMessage({ type: 'ready', port: server.port } satisfies ServerThreadReply)

port.on('message', (message: ServerThreadMessage) => {
  if (message.type === 'reload') server.reload()
  if (message.type === 'close') {
    void (async () => {
      await server.close()
      await store.close()
      port.postMessage({ type: 'closed' } satisfies ServerThreadReply)
    })()
  }
})
