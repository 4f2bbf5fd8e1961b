/**
 * The hello-world baseline of the SLO suite: a minimal uWebSockets.js server
 * that reads each body and answers a fixed verify-sized JSON body with an
 * x-request-id like the service's (per-process prefix), listening on a shared
 * port like the service's processes (uWS sets SO_REUSEPORT on Linux).
 * Run under the same traffic shape, it shows what the machine and the traffic
 * generator can resolve. THREADS=n runs n such apps on the port, one per
 * thread (the main thread's and n - 1 worker threads), as `idv serve
 * --threads n` does, so the service is compared at the same thread count.
 * HELLO_WORK_US=n burns n µs of CPU per request before answering: a hello-world
 * as heavy as the service, to tell what its tail latency owes to CPU alone.
 * Usage: HOST=0.0.0.0 PORT=n [THREADS=n] [HELLO_WORK_US=n] node baseline-server.js
 */
import { randomBytes } from 'node:crypto'
import { Worker, isMainThread, parentPort } from 'node:worker_threads'
import { loadNativeUws } from '../../../dist/src/http/uws.js'

const uws = loadNativeUws()
const threads = Math.max(1, Number(process.env.THREADS ?? 1))
let others = 0
if (isMainThread) {
  // Every thread listens on the same port number (SO_REUSEPORT); the ready line waits for all.
  for (let i = 1; i < threads; i++) new Worker(new URL(import.meta.url)).once('message', () => { if (++others === threads - 1) ready() })
}
let port = 0
const ready = (): void => { if (others === threads - 1 && port !== 0) console.log(`listening ${port}`) }
const prefix = randomBytes(6).toString('base64url')
let seq = 0
const workUs = Number(process.env.HELLO_WORK_US ?? 0)
if (!(workUs >= 0)) { console.error(`HELLO_WORK_US must be a number of microseconds ≥ 0, got ${JSON.stringify(process.env.HELLO_WORK_US)}`); process.exit(2) }
const workMs = workUs / 1000
const body = '{"requestId":"At54UE61000001","match":true,"citizen":"active","attributes":{"fullName":"match","dateOfBirth":"match","gender":"match"}}'
uws.App()
  .any('/*', (res) => {
    res.onAborted(() => {})
    res.onData((_chunk, isLast) => {
      if (isLast) {
        if (workMs > 0) { const until = performance.now() + workMs; while (performance.now() < until) { /* the work */ } }
        res.cork(() => {
          res.writeHeader('content-type', 'application/json').writeHeader('x-request-id', prefix + (++seq).toString(36).padStart(6, '0')).end(body)
        })
      }
    })
  })
  .listen(process.env.HOST ?? '127.0.0.1', Number(process.env.PORT ?? 0), (socket) => {
    if (socket === false) { console.error('listen failed'); process.exit(1) }
    port = uws.us_socket_local_port(socket)
    if (isMainThread) ready()
    else parentPort!.postMessage('listening')
  })
process.on('SIGTERM', () => process.exit(0))
process.on('SIGINT', () => process.exit(0))
