/**
 * Operational routes: liveness, readiness, the API description, the error
 * catalogue, and the 404/405 fallbacks so every unknown request gets a problem.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { TemplatedApp } from 'uWebSockets.js'
import { parse as parseYaml } from 'yaml'
import { packageRoot } from '../paths.js'
import { errorCatalogue, send, sendError, sendProblem, statusLine } from '../http/respond.js'
import type { HttpResponse } from 'uWebSockets.js'
import { problemFor } from '../problem.js'
import { Route, noteResponse, type Lifecycle } from '../http/lifecycle.js'

export interface OpsDeps {
  readonly lifecycle: Lifecycle
  /** The JWKS of the receipt-signing keys (current and retired), serialised. */
  readonly jwks: () => string
}

/** The OpenAPI document, parsed once from docs/openapi.yaml. */
export function loadOpenApi (): unknown {
  return parseYaml(readFileSync(join(packageRoot(), 'docs', 'openapi.yaml'), 'utf8'))
}

/** Routes and the methods each allows, for 405 answers with an Allow header. */
const ROUTES: ReadonlyArray<readonly [string, string]> = [
  ['/v1/verify', 'POST'], ['/v1/verify/batch', 'POST'], ['/v1/chip/verify', 'POST'],
  ['/v1/keys', 'GET'], ['/livez', 'GET'], ['/healthz', 'GET'], ['/readyz', 'GET'], ['/openapi.json', 'GET'], ['/errors', 'GET']
]

export function registerOpsRoutes (app: TemplatedApp, deps: OpsDeps): void {
  const openApi = JSON.stringify(loadOpenApi())
  const errors = errorCatalogue()
  const alive = '{"status":"alive"}'
  app.get('/livez', (res) => { send(res, 200, 'application/json', alive) })
  app.get('/healthz', (res) => { send(res, 200, 'application/json', alive) })
  app.get('/readyz', (res) => {
    if (deps.lifecycle.ready) send(res, 200, 'application/json', '{"status":"ready"}')
    else sendError(res, 'IDV_ERR_NOT_READY', 'the store is not open or the service is draining')
  })
  // Probes that use HEAD get the status and headers of GET, without a body.
  for (const path of ['/livez', '/healthz']) app.head(path, (res) => { head(res, 200) })
  app.head('/readyz', (res) => { head(res, deps.lifecycle.ready ? 200 : 503) })
  // Public: anyone holding a receipt must be able to check it.
  app.get('/v1/keys', (res) => { send(res, 200, 'application/jwk-set+json', deps.jwks()) })
  app.get('/openapi.json', (res) => { send(res, 200, 'application/json', openApi) })
  app.get('/errors', (res) => { send(res, 200, 'application/json', errors) })
  // Registered last: uWS prefers method-specific handlers, so these catch only the other methods.
  for (const [path, allow] of ROUTES) {
    app.any(path, (res, req) => {
      // Wrong methods and unknown paths count as route "other" (probes and documents are not counted).
      deps.lifecycle.track(res, Route.other)
      // A HEAD answer carries no body (RFC 9110 §9.3.2).
      if (req.getMethod() === 'head') { noteResponse(res, 405, 'IDV_ERR_METHOD_NOT_ALLOWED'); res.writeStatus(statusLine(405)).writeHeader('allow', allow); res.endWithoutBody(0, true); return }
      sendProblem(res, problemFor('IDV_ERR_METHOD_NOT_ALLOWED', `${path} allows ${allow}`), true, { allow })
    })
  }
  app.any('/*', (res, req) => {
    deps.lifecycle.track(res, Route.other)
    sendError(res, 'IDV_ERR_NOT_FOUND', `no route for ${req.getMethod().toUpperCase()} ${req.getUrl().slice(0, 200)}`, undefined, true)
  })
}

function head (res: HttpResponse, status: number): void {
  res.writeStatus(statusLine(status)).writeHeader('content-type', 'application/json').writeHeader('cache-control', 'no-store')
  res.endWithoutBody(0)
}
