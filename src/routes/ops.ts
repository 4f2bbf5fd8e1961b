/**
 * Operational routes: liveness, readiness, the API description, the error
 * catalogue, and the 404/405 fallbacks so every unknown request gets a problem.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { TemplatedApp } from 'uWebSockets.js'
import { parse as parseYaml } from 'yaml'
import { packageRoot } from '../paths.js'
import { errorCatalogue, send, sendError, sendProblem } from '../http/respond.js'
import { problemFor } from '../problem.js'

export interface OpsDeps {
  isReady (): boolean
}

/** The OpenAPI document, parsed once from docs/openapi.yaml. */
export function loadOpenApi (): unknown {
  return parseYaml(readFileSync(join(packageRoot(), 'docs', 'openapi.yaml'), 'utf8'))
}

/** Routes and the methods each allows, for 405 answers with an Allow header. */
const ROUTES: ReadonlyArray<readonly [string, string]> = [
  ['/v1/verify', 'POST'], ['/v1/verify/batch', 'POST'], ['/v1/chip/verify', 'POST'],
  ['/livez', 'GET'], ['/healthz', 'GET'], ['/readyz', 'GET'], ['/openapi.json', 'GET'], ['/errors', 'GET']
]

export function registerOpsRoutes (app: TemplatedApp, deps: OpsDeps): void {
  const openApi = JSON.stringify(loadOpenApi())
  const errors = errorCatalogue()
  const alive = '{"status":"alive"}'
  app.get('/livez', (res) => { send(res, 200, 'application/json', alive) })
  app.get('/healthz', (res) => { send(res, 200, 'application/json', alive) })
  app.get('/readyz', (res) => {
    if (deps.isReady()) send(res, 200, 'application/json', '{"status":"ready"}')
    else sendError(res, 'IDV_ERR_NOT_READY', 'the store is not open or the service is draining')
  })
  app.get('/openapi.json', (res) => { send(res, 200, 'application/json', openApi) })
  app.get('/errors', (res) => { send(res, 200, 'application/json', errors) })
  // Registered last: uWS prefers method-specific handlers, so these catch only the other methods.
  for (const [path, allow] of ROUTES) {
    app.any(path, (res) => {
      sendProblem(res, problemFor('IDV_ERR_METHOD_NOT_ALLOWED', `${path} allows ${allow}`), true, { allow })
    })
  }
  app.any('/*', (res, req) => {
    sendError(res, 'IDV_ERR_NOT_FOUND', `no route for ${req.getMethod().toUpperCase()} ${req.getUrl().slice(0, 200)}`, undefined, true)
  })
}
