/**
 * The hello-world baseline of the SLO suite: a minimal uWebSockets.js server
 * that reads each body and answers a fixed verify-sized JSON body with an
 * x-request-id like the service's (per-process prefix), listening on a shared
 * port like the service's processes (uWS sets SO_REUSEPORT on Linux).
 * Run under the same load shape, it shows what the machine and the load
 * generator can resolve. Usage: HOST=0.0.0.0 PORT=n node baseline-server.js
 */
import { randomBytes } from 'node:crypto'
import { loadNativeUws } from '../../src/http/uws.js'

const uws = loadNativeUws()
const prefix = randomBytes(6).toString('base64url')
let seq = 0
const body = '{"requestId":"At54UE61000001","match":true,"citizen":"active","attributes":{"fullName":"match","dateOfBirth":"match","gender":"match"}}'
uws.App()
  .any('/*', (res) => {
    res.onAborted(() => {})
    res.onData((_chunk, isLast) => {
      if (isLast) {
        res.cork(() => {
          res.writeHeader('content-type', 'application/json').writeHeader('x-request-id', prefix + (++seq).toString(36).padStart(6, '0')).end(body)
        })
      }
    })
  })
  .listen(process.env.HOST ?? '127.0.0.1', Number(process.env.PORT ?? 0), (socket) => {
    if (socket === false) { console.error('listen failed'); process.exit(1) }
    console.log(`listening ${uws.us_socket_local_port(socket)}`)
  })
process.on('SIGTERM', () => process.exit(0))
process.on('SIGINT', () => process.exit(0))
