/**
 * The metrics port (IDV_METRICS_PORT): GET /metrics in the Prometheus text
 * format, plus /livez and /readyz for probes, on a port relying parties never
 * reach. A plain node:http server: it answers a scrape every few seconds, so
 * it stays off the uWS event path and needs none of its tuning.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Registry } from 'prom-client'
import { problemFor } from '../problem.js'
import { ListenError, type ErrorCode } from '../errors.js'

export interface MetricsServerOptions {
  readonly host: string
  /** 0 picks a free port. */
  readonly port: number
  readonly registry: Registry
  /** Why the service is not ready, or undefined when it is (src/http/lifecycle.ts notReady). */
  readonly notReady: () => string | undefined
  readonly onError?: (err: unknown) => void
}

export interface MetricsServer {
  readonly port: number
  close (): Promise<void>
}

const ALIVE = '{"status":"alive"}'
const READY = '{"status":"ready"}'
const ROUTES = new Set(['/metrics', '/livez', '/healthz', '/readyz'])

export async function startMetricsServer (options: MetricsServerOptions): Promise<MetricsServer> {
  const server = createServer((req, res) => { answer(req, res, options) })
  // Scrapers keep their connection open; a short idle timeout frees it between scrapes on shutdown anyway.
  server.keepAliveTimeout = 30_000
  await new Promise<void>((resolve, reject) => {
    const fail = (err: NodeJS.ErrnoException): void => {
      reject(err.code === 'EADDRINUSE' || err.code === 'EACCES'
        ? new ListenError(`cannot listen on ${options.host}:${options.port} for metrics: the port is ${err.code === 'EACCES' ? 'not permitted' : 'in use'} (another idv serve on this host? give each process its own IDV_METRICS_PORT, 0 for any free one, or IDV_METRICS=off)`)
        : err)
    }
    server.once('error', fail)
    // exclusive: in a cluster member, node:http would otherwise share the supervisor's handle (port 0 gives every member the same port).
    server.listen({ port: options.port, host: options.host, exclusive: true }, () => { server.off('error', fail); resolve() })
  })
  const port = (server.address() as AddressInfo).port
  return {
    port,
    async close () {
      server.closeAllConnections()
      await new Promise<void>((resolve) => { server.close(() => { resolve() }) })
    }
  }
}

function answer (req: IncomingMessage, res: ServerResponse, options: MetricsServerOptions): void {
  const path = (req.url ?? '/').split('?', 1)[0]!
  const head = req.method === 'HEAD'
  if (!ROUTES.has(path)) { problem(res, 'IDV_ERR_NOT_FOUND', `the metrics port serves ${[...ROUTES].join(', ')}`, head); return }
  if (req.method !== 'GET' && !head) { problem(res, 'IDV_ERR_METHOD_NOT_ALLOWED', `${path} allows GET`, false, { allow: 'GET, HEAD' }); return }
  if (path === '/livez' || path === '/healthz') { write(res, 200, 'application/json', ALIVE, head); return }
  if (path === '/readyz') {
    const reason = options.notReady()
    if (reason === undefined) write(res, 200, 'application/json', READY, head)
    else problem(res, 'IDV_ERR_NOT_READY', reason, head, { 'retry-after': '1' })
    return
  }
  options.registry.metrics().then((text) => {
    write(res, 200, options.registry.contentType, text, head)
  }, (err: unknown) => {
    options.onError?.(err)
    problem(res, 'IDV_ERR_INTERNAL', 'collecting metrics failed', head)
  })
}

function write (res: ServerResponse, status: number, type: string, body: string, head: boolean, extra: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store', 'content-length': Buffer.byteLength(body), ...extra })
  res.end(head ? undefined : body)
}

function problem (res: ServerResponse, code: ErrorCode, detail: string, head: boolean, extra: Record<string, string> = {}): void {
  const p = problemFor(code, detail)
  write(res, p.status, 'application/problem+json', JSON.stringify(p), head, extra)
}
