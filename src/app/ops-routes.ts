/**
 * Operational routes: liveness, readiness, the API description, the error
 * catalogue, and the 404/405 fallbacks so every unknown request gets a problem.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { TemplatedApp } from 'uWebSockets.js'
import { parse as parseYaml } from 'yaml'
import { packageRoot } from '../paths.js'
import { errorCatalogue, PROBLEM_JSON, send, sendError, sendProblem, statusLine } from '../http/respond.js'
import { refuseBadFraming } from '../http/framing.js'
import type { HttpResponse } from 'uWebSockets.js'
import { problemFor } from '../problem.js'
import { clip } from '../clip.js'
import { noteResponse, type Lifecycle } from '../http/lifecycle.js'

export interface OpsDeps {
  readonly lifecycle: Lifecycle
  /** Every route the capabilities declared, with the methods each allows. */
  readonly routes: ReadonlyMap<string, readonly string[]>
}

/** The OpenAPI document, parsed once from docs/openapi.yaml. */
export function loadOpenApi (): unknown {
  return parseYaml(readFileSync(join(packageRoot(), 'docs', 'openapi.yaml'), 'utf8'))
}

/** The operational routes and the methods each allows, for 405 answers with an Allow header. */
const OPS_ROUTES: ReadonlyArray<readonly [string, string]> = [
  ['/livez', 'GET'], ['/healthz', 'GET'], ['/readyz', 'GET'], ['/openapi.json', 'GET'], ['/errors', 'GET']
]

export function registerOpsRoutes (app: TemplatedApp, deps: OpsDeps): void {
  const openApi = JSON.stringify(loadOpenApi())
  const errors = errorCatalogue()
  const alive = '{"status":"alive"}'
  const ready = '{"status":"ready"}'
  // Every route refuses ambiguous framing first (src/http/framing.ts), probes and documents included.
  app.get('/livez', (res, req) => { if (!refuseBadFraming(res, req)) send(res, 200, 'application/json', alive) })
  app.get('/healthz', (res, req) => { if (!refuseBadFraming(res, req)) send(res, 200, 'application/json', alive) })
  app.get('/readyz', (res, req) => {
    if (refuseBadFraming(res, req)) return
    const why = deps.lifecycle.notReady()
    if (why === undefined) send(res, 200, 'application/json', ready)
    else sendError(res, 'IDV_ERR_NOT_READY', why)
  })
  // Probes that use HEAD get the status and headers of GET, Content-Length included, without a body (RFC 9110 §9.3.2).
  const aliveLength = Buffer.byteLength(alive)
  for (const path of ['/livez', '/healthz']) app.head(path, (res, req) => { if (!refuseBadFraming(res, req)) head(res, 200, 'application/json', aliveLength) })
  app.head('/readyz', (res, req) => {
    if (refuseBadFraming(res, req)) return
    const why = deps.lifecycle.notReady()
    // What GET /readyz would answer (no request id: the same bytes), for HEAD's Content-Length.
    if (why === undefined) head(res, 200, 'application/json', Buffer.byteLength(ready))
    else head(res, 503, PROBLEM_JSON, Buffer.byteLength(JSON.stringify(problemFor('IDV_ERR_NOT_READY', why))))
  })
  app.get('/openapi.json', (res, req) => { if (!refuseBadFraming(res, req)) send(res, 200, 'application/json', openApi) })
  app.get('/errors', (res, req) => { if (!refuseBadFraming(res, req)) send(res, 200, 'application/json', errors) })
  // Registered last: uWS prefers method-specific handlers, so these catch only the other methods.
  const allowed: Array<readonly [string, string]> = [...[...deps.routes].map(([path, methods]) => [path, methods.join(', ')] as const), ...OPS_ROUTES]
  for (const [path, allow] of allowed) {
    app.any(path, (res, req) => {
      // Wrong methods and unknown paths count as route "other" (probes and documents are not counted).
      deps.lifecycle.track(res, deps.lifecycle.otherRoute)
      if (refuseBadFraming(res, req)) return
      // A HEAD answer carries no body (RFC 9110 §9.3.2).
      if (req.getMethod() === 'head') { noteResponse(res, 405, 'IDV_ERR_METHOD_NOT_ALLOWED'); res.writeStatus(statusLine(405)).writeHeader('allow', allow); res.endWithoutBody(0, true); return }
      sendProblem(res, problemFor('IDV_ERR_METHOD_NOT_ALLOWED', `${path} allows ${allow}`), true, { allow })
    })
  }
  app.any('/*', (res, req) => {
    deps.lifecycle.track(res, deps.lifecycle.otherRoute)
    if (refuseBadFraming(res, req)) return
    sendError(res, 'IDV_ERR_NOT_FOUND', `no route for ${clip(req.getMethod().toUpperCase())} ${clip(req.getUrl())}`, undefined, true)
  })
}

/**
 * A HEAD answer: the GET's status and headers, Content-Length included, no body.
 * uWS v20.30's endWithoutBody(n) writes `Content-Length: n` but then waits for
 * n body bytes that never come: the response stays open, a request pipelined
 * behind it is dropped with the connection, and a handler that returns without
 * onAborted kills the process. So the answer says `Connection: close` (a client
 * sends nothing more on it; the connection ends when the client closes it, or
 * at uWS's idle timeout) and an abort handler is attached.
 */
function head (res: HttpResponse, status: number, contentType: string, contentLength: number): void {
  res.onAborted(ignore)
  res.writeStatus(statusLine(status)).writeHeader('content-type', contentType).writeHeader('cache-control', 'no-store')
  res.endWithoutBody(contentLength, true)
}

function ignore (): void {}
