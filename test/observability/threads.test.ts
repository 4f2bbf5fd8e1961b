/**
 * The shared metrics block across real worker threads: N threads recording M
 * requests each scrape as N×M from the main thread, parties seen by several
 * threads share one label, and label values stay bounded however many party
 * ids arrive (256 named slots, then `other`).
 */
import { join } from 'node:path'
import { Worker } from 'node:worker_threads'
import { describe, expect, it } from 'vitest'
import { createMetrics, createMetricsRegistry, Layout, MetricsRecorder, PARTY_SLOTS, SharedBlock } from '../../src/metrics/index.js'
import { CATALOGUE } from '../../src/app/capabilities.js'
import { packageRoot } from '../../src/paths.js'
import { parseScrape, total } from './scrape.js'

const BUILD = { version: 't', commit: 't', nodeVersion: process.version, store: 'lmdb' }
const VERIFY = CATALOGUE.routes.indexOf('/v1/verify')

async function runWorkers (buffer: SharedArrayBuffer, threads: number, requests: number, parties: string[]): Promise<void> {
  const gate = new SharedArrayBuffer(4)
  const file = join(packageRoot(), 'test', 'fixtures', 'metrics-worker.mjs')
  await Promise.all(Array.from({ length: threads }, async (_, thread) => {
    const w = new Worker(file, { workerData: { buffer, requests, parties, thread, threads, gate } })
    try {
      await new Promise<void>((resolve, reject) => {
        w.once('message', () => { resolve() })
        w.once('error', reject)
        w.once('exit', (code) => { reject(new Error(`worker exited with ${code}`)) })
      })
    } finally {
      await w.terminate()
    }
  }))
}

describe('metrics across worker threads', () => {
  it('N threads × M requests scrape as N×M, with one series per party', async () => {
    const N = 4
    const M = 25_000
    const { block } = createMetrics(CATALOGUE, N + 1)
    await runWorkers(block.buffer, N, M, ['bank-a', 'telco-b', 'portal-c'])
    const series = parseScrape(await createMetricsRegistry(block, { build: BUILD }).metrics())
    expect(total(series, 'idv_http_requests_total')).toBe(N * M)
    expect(total(series, 'idv_http_request_duration_seconds_count')).toBe(N * M)
    expect(total(series, 'idv_http_request_duration_seconds_bucket', { le: '+Inf' })).toBe(N * M)
    expect(total(series, 'idv_http_requests_total', { status: '400', outcome: 'client_error' })).toBe(N * (M / 10))
    expect(total(series, 'idv_http_rejected_requests_total', { code: 'IDV_ERR_INVALID_PIN', status: '400' })).toBe(N * (M / 10))
    expect(total(series, 'idv_verify_outcomes_total')).toBe(N * M * 9 / 10)
    expect(total(series, 'idv_http_requests_in_flight')).toBe(0)
    // Every thread mapped the same three ids to the same three slots.
    const parties = new Set(series.filter((s) => s.name === 'idv_http_requests_total').map((s) => s.labels.party))
    expect([...parties].sort()).toEqual(['bank-a', 'portal-c', 'telco-b'])
    expect(total(series, 'idv_http_requests_total', { party: 'bank-a' })).toBe(N * Math.ceil(M / 3))
    // Sum of latencies: each thread recorded (i % 100) * 0.1 ms for i < M.
    expect(total(series, 'idv_http_request_duration_seconds_sum')).toBeCloseTo(N * (M / 100) * 4950 * 0.0001, 6)
  }, 30_000)

  it('bounds party labels: 256 named slots, every further party counts as other', () => {
    const { block, recorder } = createMetrics(CATALOGUE, 1)
    const ids = Array.from({ length: PARTY_SLOTS + 50 }, (_, i) => `party-${i}`)
    for (const id of ids) recorder.request(VERIFY, recorder.party(id), 200, 0.0002)
    recorder.request(VERIFY, recorder.party(undefined), 200, 0.0002)
    return createMetricsRegistry(block, { build: BUILD }).metrics().then((text) => {
      const series = parseScrape(text)
      const values = new Set(series.filter((s) => s.name === 'idv_http_requests_total').map((s) => s.labels.party))
      expect(values.size).toBe(PARTY_SLOTS + 2)
      expect(values.has('other')).toBe(true)
      expect(values.has('none')).toBe(true)
      expect(total(series, 'idv_http_requests_total', { party: 'other' })).toBe(50)
      expect(total(series, 'idv_metrics_party_slots_used')).toBe(PARTY_SLOTS)
    })
  })

  it('refuses a block made by a different layout and a thread beyond its stripes', () => {
    const block = SharedBlock.create(new Layout(CATALOGUE), 1)
    expect(() => new MetricsRecorder(SharedBlock.attach(block.buffer, new Layout(CATALOGUE)))).not.toThrow()
    expect(() => new MetricsRecorder(block)).toThrow(/room for 1 threads/)
    expect(() => SharedBlock.attach(new SharedArrayBuffer(1 << 20), new Layout(CATALOGUE))).toThrow(/layout mismatch/)
    // A thread whose capability list differs lays the block out differently: refused too.
    expect(() => SharedBlock.attach(block.buffer, new Layout({ routes: ['other'], families: [] }))).toThrow(/layout mismatch/)
  })

  it('shows a stalled event loop in its own thread\'s delay histogram only', async () => {
    const { block, recorder } = createMetrics(CATALOGUE, 2)
    MetricsRecorder.attach(block.buffer, CATALOGUE) // a second thread's stripe, never stalled
    const stop = recorder.watchEventLoop(10)
    await new Promise((resolve) => setTimeout(resolve, 60))
    const until = performance.now() + 150
    while (performance.now() < until) { /* the stall: nothing else runs on this thread */ }
    await new Promise((resolve) => setTimeout(resolve, 40))
    stop()
    const series = parseScrape(await createMetricsRegistry(block, { build: BUILD }).metrics())
    const count = total(series, 'idv_event_loop_delay_seconds_count', { thread: '0' })
    expect(count).toBeGreaterThanOrEqual(4)
    // Exactly the one sample taken after the stall was over 100 ms late; the idle ones were not.
    expect(count - total(series, 'idv_event_loop_delay_seconds_bucket', { thread: '0', le: '0.1' })).toBe(1)
    expect(total(series, 'idv_event_loop_delay_seconds_sum', { thread: '0' })).toBeGreaterThanOrEqual(0.13)
    expect(series.some((s) => s.name.startsWith('idv_event_loop_delay_seconds') && s.labels.thread === '1')).toBe(false)
  })
})
