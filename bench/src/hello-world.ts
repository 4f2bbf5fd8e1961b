/**
 * The baseline: a minimal uWebSockets.js server answering every request with a
 * fixed JSON body of the same size as a verify answer. Verify throughput is
 * quoted as a ratio of this, measured in the same run.
 * Usage: node bench/dist/hello-world.js  → prints "listening <port>".
 */
import { loadNativeUws } from '../../dist/src/http/uws.js'

const uws = loadNativeUws()
const body = '{"requestId":"At54UE61000001","match":true,"citizen":"active","attributes":{"fullName":"match","dateOfBirth":"match","gender":"match"}}'
uws.App()
  .any('/*', (res) => {
    // Read the body like the real service must, then answer.
    res.onAborted(() => {})
    res.onData((_chunk, isLast) => {
      if (isLast) res.cork(() => { res.writeHeader('content-type', 'application/json').end(body) })
    })
  })
  .listen('127.0.0.1', Number(process.env.PORT ?? 0), (socket) => {
    if (socket === false) { console.error('listen failed'); process.exit(1) }
    console.log(`listening ${uws.us_socket_local_port(socket)}`)
  })
process.on('SIGTERM', () => process.exit(0))
