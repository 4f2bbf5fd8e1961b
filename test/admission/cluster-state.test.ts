/**
 * Nonce memory and rate buckets shared by the processes of a cluster
 * (src/admission/cluster-state.ts): the same answers as the SharedArrayBuffer
 * versions, and atomic across real processes (test/fixtures/admission/
 * cluster-state-child.mjs imports the built dist/ library; `npm test` builds first).
 */
import { fork, type ChildProcess } from 'node:child_process'
import { join } from 'node:path'
import { tempDir } from '../helpers/temp.js'
import { describe, expect, it } from 'vitest'
import { ClusterState } from '../../src/admission/cluster-state.js'
import { NOW_MS, NOW_S } from '../signatures/support.js'

const CHILD = join(import.meta.dirname, '..', 'fixtures', 'admission', 'cluster-state-child.mjs')
const dir = tempDir('idv-node-state')
let n = 0
const freshPath = (): string => join(dir, `state-${n++}`)

/** Forks one process per message, releases them together once all have opened the state, and collects one answer from each. */
async function runProcesses<T> (path: string, task: string, messages: Array<Record<string, unknown>>): Promise<T[]> {
  const children: ChildProcess[] = messages.map(() => fork(CHILD, [path, task, String(NOW_S), String(NOW_S + 61)], { stdio: 'inherit' }))
  await Promise.all(children.map(async (c) => await new Promise((resolve, reject) => { c.once('message', resolve); c.once('exit', reject) })))
  const answers = children.map(async (c) => await new Promise<T>((resolve, reject) => {
    c.once('message', (m) => { resolve(m as T) })
    c.once('exit', (code) => { reject(new Error(`child exited with ${code}`)) })
  }))
  children.forEach((c, i) => c.send(messages[i]!))
  return await Promise.all(answers)
}

describe('ClusterState nonces', () => {
  it('remembers a nonce until it expires, per party', async () => {
    const s = ClusterState.open(freshPath(), { slots: 1024 })
    expect(s.remember('p', 'n1', NOW_S + 61, NOW_S)).toBe('fresh')
    expect(s.remember('p', 'n1', NOW_S + 61, NOW_S + 30)).toBe('replay')
    expect(s.remember('q', 'n1', NOW_S + 61, NOW_S)).toBe('fresh')
    expect(s.remember('p', 'n1', NOW_S + 200, NOW_S + 61)).toBe('fresh') // expired at +61: remembered anew
    expect(s.remember('p', 'n1', NOW_S + 200, NOW_S + 100)).toBe('replay')
    await s.close()
  })

  it('sweeps expired nonces slice by slice and keeps live ones', async () => {
    const s = ClusterState.open(freshPath(), { slots: 1 << 16 })
    for (let i = 0; i < 2000; i++) expect(s.remember('p', `n${i}`, i % 2 === 0 ? NOW_S + 10 : NOW_S + 100, NOW_S)).toBe('fresh')
    expect(s.nonceCount()).toBe(2000)
    let swept = 0
    for (let i = 0; i < 8; i++) swept += s.sweep(NOW_S + 50, 8) // one full pass
    expect(swept).toBe(1000)
    expect(s.nonceCount()).toBe(1000)
    for (let i = 1; i < 2000; i += 2) expect(s.remember('p', `n${i}`, NOW_S + 111, NOW_S + 50)).toBe('replay')
    await s.close()
  })

  it('once a sweep finds its slots taken, answers full rather than forgetting a live nonce; room again once swept', async () => {
    const s = ClusterState.open(freshPath(), { slots: 1024 })
    for (let i = 0; i < 1030; i++) expect(s.remember('p', `n${i}`, NOW_S + 10, NOW_S)).toBe('fresh') // the sweep has not counted yet
    s.sweep(NOW_S, 4) // nothing expired; 1030 ≥ 1024 raises the flag
    expect(s.remember('p', 'new', NOW_S + 61, NOW_S)).toBe('full')
    expect(s.remember('p', 'n0', NOW_S + 61, NOW_S)).toBe('replay')
    expect(s.remember('p', 'n0', NOW_S + 70, NOW_S + 10)).toBe('fresh') // an expired entry is reused in place
    for (let i = 0; i < 4; i++) s.sweep(NOW_S + 10, 4)
    expect(s.nonceCount()).toBe(1) // only n0, remembered anew
    expect(s.remember('p', 'new', NOW_S + 71, NOW_S + 10)).toBe('fresh')
    await s.close()
  })

  it('a nonce is fresh exactly once across four processes racing over the same nonces', async () => {
    const path = freshPath()
    ClusterState.open(path, { slots: 1 << 16 }) // created before the race; closed with the process
    const nonces = Array.from({ length: 3000 }, (_, i) => `race-${i}`)
    const answers = await runProcesses<{ fresh: string[] }>(path, 'nonces', [0, 1, 2, 3].map(() => ({ nonces })))
    const all = answers.flatMap((a) => a.fresh)
    expect(all).toHaveLength(nonces.length)
    expect(new Set(all).size).toBe(nonces.length)
    expect(answers.filter((a) => a.fresh.length > 0).length).toBeGreaterThan(1) // they did race
  })
})

describe('ClusterState rate buckets', () => {
  it('grants the burst, refills at the rate and keeps the daily quota, as RateLimiter does', async () => {
    const s = ClusterState.open(freshPath(), { slots: 1024 })
    const limits = { perSecond: 2, burst: 3, dailyQuota: 5 }
    for (let i = 0; i < 3; i++) expect(s.consume('p', limits, { nowMs: NOW_MS }).ok).toBe(true)
    expect(s.consume('p', limits, { nowMs: NOW_MS })).toMatchObject({ ok: false, code: 'IDV_ERR_RATE_LIMITED', retryAfterSeconds: 1 })
    expect(s.consume('q', limits, { nowMs: NOW_MS }).ok).toBe(true) // another party's bucket
    expect(s.consume('p', limits, { nowMs: NOW_MS + 1000 })).toMatchObject({ ok: true, remainingQuota: 1 })
    expect(s.consume('p', limits, { nowMs: NOW_MS + 1000 })).toMatchObject({ ok: true, remainingQuota: 0 })
    expect(s.consume('p', limits, { nowMs: NOW_MS + 60_000 })).toMatchObject({ ok: false, code: 'IDV_ERR_QUOTA_EXCEEDED' })
    await s.close()
  })

  it('remembers the nonce and takes from the bucket in one transaction; a replay takes nothing', async () => {
    const s = ClusterState.open(freshPath(), { slots: 1024 })
    const limits = { perSecond: 1, burst: 2, dailyQuota: 10 }
    expect(s.rememberAndConsume('p', 'a', NOW_S + 61, limits, { nowMs: NOW_MS })).toMatchObject({ ok: true, remainingTokens: 1 })
    expect(s.rememberAndConsume('p', 'a', NOW_S + 61, limits, { nowMs: NOW_MS })).toBe('replay')
    expect(s.rememberAndConsume('p', 'b', NOW_S + 61, limits, { nowMs: NOW_MS })).toMatchObject({ ok: true, remainingTokens: 0 }) // the replay took no token
    expect(s.rememberAndConsume('p', 'c', NOW_S + 61, limits, { nowMs: NOW_MS })).toMatchObject({ ok: false, code: 'IDV_ERR_RATE_LIMITED' })
    expect(s.remember('p', 'c', NOW_S + 61, NOW_S)).toBe('replay') // refused by rate, yet its nonce is spent, as with threads
    await s.close()
  })

  it('four processes drawing on one quota get exactly the quota between them', async () => {
    const path = freshPath()
    const answers = await runProcesses<{ granted: number }>(path, 'rate', [0, 1, 2, 3].map(() => ({ tries: 400 })))
    expect(answers.reduce((sum, a) => sum + a.granted, 0)).toBe(500)
  })
})
