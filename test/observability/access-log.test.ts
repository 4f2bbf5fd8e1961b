/**
 * The access log and the request scope: one line per sampled request with
 * request id, party, route, status and latency and nothing personal; every
 * Nth request for a rate of 1/N; server errors always; and each answer
 * recorded once into the metrics, whatever the route writes afterwards.
 */
import { Writable } from 'node:stream'
import type { HttpResponse } from 'uWebSockets.js'
import { describe, expect, it } from 'vitest'
import { Lifecycle, noteResponse } from '../../src/http/lifecycle.js'
import { CATALOGUE } from '../../src/app/capabilities.js'
import { maskPin } from '../../src/domain/pin.js'
import { AccessLog, createLogger } from '../../src/log.js'
import { createMetrics, createMetricsRegistry } from '../../src/metrics/index.js'
import { parseScrape, total } from './scrape.js'

function capture (): { lines: Array<Record<string, unknown>>, stream: Writable } {
  const lines: Array<Record<string, unknown>> = []
  const stream = new Writable({ write (chunk: Buffer, _enc, done) { for (const l of chunk.toString().split('\n')) if (l !== '') lines.push(JSON.parse(l) as Record<string, unknown>); done() } })
  return { lines, stream }
}

const fakeRes = (): HttpResponse => ({}) as HttpResponse
const Route = { verify: CATALOGUE.routes.indexOf('/v1/verify'), chipVerify: CATALOGUE.routes.indexOf('/v1/chip/verify') }

describe('access log', () => {
  it('writes every Nth request, every server error, and nothing personal', () => {
    const { lines, stream } = capture()
    const lifecycle = new Lifecycle({ accessLog: new AccessLog(createLogger('info', stream), 0.25) }, CATALOGUE.routes)
    for (let i = 0; i < 41; i++) { // 40 answered 200 (every 4th logged) and one 500
      const res = fakeRes()
      const scope = lifecycle.track(res, Route.verify, `req${i}`)
      scope.setParty('bank-a')
      noteResponse(res, i === 5 ? 500 : 200)
    }
    const requests = lines.filter((l) => l.msg === 'request')
    expect(requests.filter((l) => l.status === 200)).toHaveLength(10)
    expect(requests.filter((l) => l.status === 500).map((l) => l.requestId)).toEqual(['req5'])
    for (const l of requests) {
      expect(Object.keys(l).sort()).toEqual(['level', 'ms', 'msg', 'party', 'requestId', 'route', 'service', 'status', 'time'])
      expect(l.route).toBe('/v1/verify')
      expect(l.party).toBe('bank-a')
      expect(typeof l.ms).toBe('number')
    }
  })

  it('logs nothing but server errors at rate 0, and masks PINs where code logs one', () => {
    const { lines, stream } = capture()
    const log = new AccessLog(createLogger('info', stream), 0)
    for (let i = 0; i < 10; i++) log.request(`r${i}`, undefined, '/v1/verify', 200, 0.1)
    log.request('r-err', undefined, '/v1/verify', 503, 0.1)
    expect(lines.map((l) => l.requestId)).toEqual(['r-err'])
    expect(lines[0]!.party).toBeNull()
    expect(maskPin('001099012345')).toBe('001*******45')
    expect(maskPin('12')).toBe('<invalid>')
    expect(() => new AccessLog(createLogger('silent'), 1.5)).toThrow(RangeError)
  })

  it('records each answer once, with its problem code, and an unanswered end as aborted', async () => {
    const { block, recorder } = createMetrics(CATALOGUE, 1)
    const lifecycle = new Lifecycle({ metrics: recorder }, CATALOGUE.routes)
    const res = fakeRes()
    const scope = lifecycle.track(res, Route.chipVerify, 'a1')
    scope.setParty('bank-a')
    const end = lifecycle.begin(scope)
    noteResponse(res, 429, 'IDV_ERR_RATE_LIMITED')
    noteResponse(res, 200) // a second write attempt is not a second answer
    end()
    end()
    const gone = fakeRes()
    lifecycle.begin(lifecycle.track(gone, Route.verify, 'a2'))()
    const series = parseScrape(await createMetricsRegistry(block, { build: { version: 't', commit: 't', nodeVersion: 'v', store: 'lmdb' } }).metrics())
    expect(total(series, 'idv_http_requests_total')).toBe(1)
    expect(total(series, 'idv_http_requests_total', { route: '/v1/chip/verify', party: 'bank-a', status: '429', outcome: 'client_error' })).toBe(1)
    expect(total(series, 'idv_http_rejected_requests_total', { party: 'bank-a', code: 'IDV_ERR_RATE_LIMITED', status: '429' })).toBe(1)
    expect(total(series, 'idv_http_aborted_requests_total', { route: '/v1/verify' })).toBe(1)
    expect(total(series, 'idv_http_requests_in_flight')).toBe(0)
    expect(lifecycle.inFlight).toBe(0)
  })
})
