/**
 * Nonce memory and rate limits shared by server threads through
 * SharedArrayBuffers. The cross-thread cases run real worker_threads
 * (test/fixtures/admission/shared-state-worker.mjs) that import the built dist/
 * library, so `npm run build` must have run (`npm test` does).
 */
import { join } from 'node:path'
import { Worker } from 'node:worker_threads'
import { describe, expect, it } from 'vitest'
import { RequestVerifier, SIGNATURE_ALGORITHMS } from '../../src/signatures/message-signature.js'
import { RateLimiter } from '../../src/admission/rate-limiter.js'
import { ReplayGuard } from '../../src/admission/replay-guard.js'
import { input, makeKey, NOW_MS, NOW_S, signed } from '../signatures/support.js'

const WORKER = join(import.meta.dirname, '..', 'fixtures', 'admission', 'shared-state-worker.mjs')

/** Starts the workers, releases them at once through a shared barrier, and collects one message from each. */
async function runTogether<T> (datas: Array<Record<string, unknown>>): Promise<T[]> {
  const barrier = new SharedArrayBuffer(8)
  const cells = new Int32Array(barrier)
  const workers = datas.map((d) => new Worker(WORKER, { workerData: { ...d, barrier } }))
  const results = workers.map(async (w) => await new Promise<T>((resolve, reject) => {
    w.once('message', resolve)
    w.once('error', reject)
    w.once('exit', (code) => { if (code !== 0) reject(new Error(`worker exited with ${code}`)) })
  }))
  while (Atomics.load(cells, 1) < workers.length) await new Promise((resolve) => setTimeout(resolve, 5))
  Atomics.store(cells, 0, 1)
  Atomics.notify(cells, 0)
  const out = await Promise.all(results)
  await Promise.all(workers.map(async (w) => await w.terminate()))
  return out
}

async function runOne<T> (data: Record<string, unknown>): Promise<T> {
  const [r] = await runTogether<T>([data])
  return r as T
}

describe('ReplayGuard', () => {
  it('remembers a nonce until it expires, then reuses the slot', () => {
    const g = ReplayGuard.create({ slots: 256 })
    expect(g.remember('p', 'n1', NOW_S + 61, NOW_S)).toBe('fresh')
    expect(g.remember('p', 'n1', NOW_S + 61, NOW_S + 30)).toBe('replay')
    expect(g.remember('q', 'n1', NOW_S + 61, NOW_S)).toBe('fresh') // nonces are per party
    expect(g.liveCount(NOW_S)).toBe(2)
    expect(g.remember('p', 'n1', NOW_S + 200, NOW_S + 61)).toBe('fresh')
    expect(g.liveCount(NOW_S + 100)).toBe(1)
  })

  it('answers full rather than evicting a live nonce, and recovers as entries expire', () => {
    const g = ReplayGuard.create({ slots: 4, slotsPerBucket: 4 })
    for (let i = 0; i < 4; i++) expect(g.remember('p', `n${i}`, NOW_S + 10 + i, NOW_S)).toBe('fresh')
    expect(g.remember('p', 'n4', NOW_S + 10, NOW_S)).toBe('full')
    expect(g.remember('p', 'n0', NOW_S + 10, NOW_S)).toBe('replay')
    expect(g.remember('p', 'n4', NOW_S + 20, NOW_S + 10)).toBe('fresh') // n0 expired at +10
    expect(g.remember('p', 'n1', NOW_S + 20, NOW_S + 10)).toBe('replay')
  })

  it('a nonce remembered by one thread is refused in another', async () => {
    const g = ReplayGuard.create({ slots: 4096 })
    expect(g.remember('party', 'seen-here', NOW_S + 60, NOW_S)).toBe('fresh')
    const { fresh } = await runOne<{ fresh: string[] }>({ task: 'nonces', guard: g.shareHandle(), nonces: ['seen-here', 'new-there'], expires: NOW_S + 60, now: NOW_S })
    expect(fresh).toEqual(['new-there'])
    expect(g.remember('party', 'new-there', NOW_S + 60, NOW_S)).toBe('replay')
  })

  it('two threads racing on the same 20,000 nonces accept each exactly once', async () => {
    const g = ReplayGuard.create({ slots: 1 << 16 })
    const nonces = Array.from({ length: 20_000 }, (_, i) => `race-${i}`)
    const data = { task: 'nonces', guard: g.shareHandle(), nonces, expires: NOW_S + 60, now: NOW_S }
    // Same order in both threads, so they contend on the same nonce at the same moment.
    const [a, b] = await runTogether<{ fresh: string[] }>([data, data])
    const fa = new Set(a?.fresh)
    const fb = new Set(b?.fresh)
    expect(fa.size + fb.size).toBe(nonces.length)
    for (const n of fa) expect(fb.has(n)).toBe(false)
    expect(g.liveCount(NOW_S)).toBe(nonces.length)
  })

  describe.each(SIGNATURE_ALGORITHMS)('%s request replayed to another thread', (algorithm) => {
    it('is refused there as IDV_ERR_REPLAY', async () => {
      const key = makeKey(algorithm)
      const guard = ReplayGuard.create({ slots: 1024 })
      const req = signed(key, { nonce: `cross-thread-${algorithm}` })
      const local = new RequestVerifier({
        resolveKey: (keyId) => ({ ok: true, key: { keyId, partyId: 'p', algorithm, key: key.verifyKey, partyActive: true } }),
        nonces: guard,
        now: () => NOW_MS
      })
      expect(local.verify(input(req)).ok).toBe(true)
      const there = await runOne<{ ok: boolean, code?: string }>({
        task: 'verify',
        guard: guard.shareHandle(),
        algorithm,
        nowMs: NOW_MS,
        publicKeyPem: algorithm === 'hmac-sha256' ? undefined : key.verifyKey.export({ type: 'spki', format: 'pem' }),
        secretHex: key.secret?.toString('hex'),
        request: { ...req, body: Buffer.from(req.body) }
      })
      expect(there).toMatchObject({ ok: false, code: 'IDV_ERR_REPLAY' })
      // and a fresh nonce verifies in that thread (the worker's verifier is sound)
      const fresh = signed(key, { nonce: `fresh-${algorithm}` })
      const ok = await runOne<{ ok: boolean }>({
        task: 'verify', guard: guard.shareHandle(), algorithm, nowMs: NOW_MS,
        publicKeyPem: algorithm === 'hmac-sha256' ? undefined : key.verifyKey.export({ type: 'spki', format: 'pem' }),
        secretHex: key.secret?.toString('hex'),
        request: { ...fresh, body: Buffer.from(fresh.body) }
      })
      expect(ok).toMatchObject({ ok: true })
    })
  })
})

describe('RateLimiter', () => {
  const limits = { perSecond: 10, burst: 20 }

  it('grants the burst, refuses with Retry-After, refills at the sustained rate', () => {
    const l = RateLimiter.create({ maxParties: 8 })
    for (let i = 0; i < 20; i++) expect(l.consume('p', limits, { nowMs: NOW_MS }).ok).toBe(true)
    expect(l.consume('p', limits, { nowMs: NOW_MS })).toMatchObject({ ok: false, code: 'IDV_ERR_RATE_LIMITED', retryAfterSeconds: 1 })
    // 0.5 s later: 5 tokens
    let granted = 0
    for (let i = 0; i < 10; i++) if (l.consume('p', limits, { nowMs: NOW_MS + 500 }).ok) granted++
    expect(granted).toBe(5)
    // another party is unaffected
    expect(l.consume('q', limits, { nowMs: NOW_MS }).ok).toBe(true)
    // a clock stepping back neither refills nor breaks
    expect(l.consume('p', limits, { nowMs: NOW_MS - 10_000 }).ok).toBe(false)
    // recovers after a quiet period, capped at the burst
    granted = 0
    for (let i = 0; i < 30; i++) if (l.consume('p', limits, { nowMs: NOW_MS + 60_000 }).ok) granted++
    expect(granted).toBe(20)
  })

  it('counts a daily quota that resets at midnight in Vietnam (UTC+7) and takes both budgets or neither', () => {
    const l = RateLimiter.create()
    const q = { perSecond: 1000, burst: 1000, dailyQuota: 3 }
    const evening = Date.UTC(2026, 2, 1, 16, 59, 0) // 23:59 in Hanoi
    expect(l.consume('p', q, { nowMs: evening, quota: 2 }).ok).toBe(true)
    const over = l.consume('p', q, { nowMs: evening, quota: 2 })
    expect(over).toMatchObject({ ok: false, code: 'IDV_ERR_QUOTA_EXCEEDED', retryAfterSeconds: 60 })
    expect(l.consume('p', q, { nowMs: evening }).ok).toBe(true) // the refused request took nothing
    expect(l.consume('p', q, { nowMs: evening }).ok).toBe(false)
    expect(l.consume('p', q, { nowMs: Date.UTC(2026, 2, 1, 17, 0, 0) })).toMatchObject({ ok: true, remainingQuota: 2 })
  })

  it('takes new limits at once (a reloaded registry)', () => {
    const l = RateLimiter.create()
    for (let i = 0; i < 20; i++) l.consume('p', limits, { nowMs: NOW_MS })
    expect(l.consume('p', limits, { nowMs: NOW_MS }).ok).toBe(false)
    expect(l.consume('p', { perSecond: 1000, burst: 2000 }, { nowMs: NOW_MS + 100 }).ok).toBe(true)
  })

  it('two threads and the main thread together never exceed the budget', async () => {
    const l = RateLimiter.create({ maxParties: 16 })
    // No refill during the test (fixed clock): exactly `burst` grants in all, however the threads interleave.
    // A budget large enough (tens of ms of grants) that both threads are surely taking from it at once,
    // even when one wakes from the start barrier milliseconds after the other on a loaded machine.
    const budget = { perSecond: 1, burst: 200_000 }
    const data = { task: 'rate', limiter: l.shareHandle(), party: 'operator-1', limits: budget, attempts: 250_000, nowMs: NOW_MS }
    const pending = runTogether<{ granted: number, refused: number }>([data, data])
    let mainGranted = 0
    for (let i = 0; i < 2000; i++) if (l.consume('operator-1', budget, { nowMs: NOW_MS }).ok) mainGranted++
    const results = await pending
    const total = results.reduce((s, r) => s + r.granted, mainGranted)
    expect(total).toBe(200_000)
    expect(results.every((r) => r.granted > 0)).toBe(true)
  })

  it('two threads share one daily quota', async () => {
    const l = RateLimiter.create()
    const budget = { perSecond: 1e9, burst: 1e9, dailyQuota: 3000 }
    const data = { task: 'rate', limiter: l.shareHandle(), party: 'bank-7', limits: budget, attempts: 4000, nowMs: NOW_MS }
    const results = await runTogether<{ granted: number }>([data, data])
    expect(results.reduce((s, r) => s + r.granted, 0)).toBe(3000)
  })
})
