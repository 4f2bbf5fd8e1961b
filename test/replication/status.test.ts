/**
 * The replica status every server thread reads: lag is computed when read,
 * from when the index was last known current and when the stream was last
 * seen, so a node that stops hearing from NATS turns not ready by the clock
 * alone (nothing needs to write to it), and never claims lag 0 on old news.
 * A second view on the same SharedArrayBuffer (as a server thread has) sees
 * the same.
 */
import { describe, expect, it } from 'vitest'
import { ReplicaState, ReplicaStatus } from '../../src/replication/index.js'

function clock (start = 1_000_000): { now: () => number, advance: (ms: number) => void } {
  let t = start
  return { now: () => t, advance: (ms) => { t += ms } }
}

describe('replica status', () => {
  it('is not ready until the feed is first measured, with the lag unknown', () => {
    const c = clock()
    const s = new ReplicaStatus(5, undefined, c.now)
    s.init(2_000)
    s.set(ReplicaState.connecting, 10, 0, Number.NaN, Number.NaN)
    expect(s.lagSeconds).toBeNaN()
    expect(s.notReadyReason()).toBe('the replica has not reached its change feed yet (it holds changes up to 10)')
    // Following but never measured (not a state the replicator publishes, but a reader must not call it current).
    s.set(ReplicaState.following, 10, 0, Number.NaN, Number.NaN)
    expect(s.notReadyReason()).toBe('the replica has not measured its lag yet (it holds changes up to 10)')
  })

  it('a current node with fresh stream info has lag 0 and is ready', () => {
    const c = clock()
    const s = new ReplicaStatus(5, undefined, c.now)
    s.init(2_000)
    s.set(ReplicaState.following, 100, 100, c.now(), c.now())
    c.advance(1_500)
    expect(s.lagSeconds).toBe(0)
    expect(s.lagChanges).toBe(0)
    expect(s.notReadyReason()).toBeUndefined()
  })

  it('cut off: with no new stream info the lag grows with the clock and the node turns not ready past the threshold, with nothing written', () => {
    const c = clock()
    const s = new ReplicaStatus(5, undefined, c.now)
    s.init(2_000)
    s.set(ReplicaState.following, 100, 100, c.now(), c.now())
    const thread = new ReplicaStatus(5, s.buffer, c.now) // a server thread's view
    c.advance(2_500)
    // The last-seen stream info is old: the node no longer claims lag 0.
    expect(thread.lagSeconds).toBe(2.5)
    expect(thread.notReadyReason()).toBeUndefined()
    c.advance(3_000)
    expect(thread.lagSeconds).toBe(5.5)
    expect(thread.notReadyReason()).toBe('the replica is 0 changes and 5.5 s behind its change feed (threshold 5 s)')
    // Back in touch and current again: ready.
    s.set(ReplicaState.following, 100, 100, c.now(), c.now())
    expect(thread.notReadyReason()).toBeUndefined()
  })

  it('behind: the lag counts from the first change not applied, even with fresh stream info', () => {
    const c = clock()
    const s = new ReplicaStatus(5, undefined, c.now)
    s.init(2_000)
    const firstUnappliedAt = c.now()
    c.advance(7_000)
    s.set(ReplicaState.following, 100, 140, firstUnappliedAt, c.now())
    expect(s.lagChanges).toBe(40)
    expect(s.lagSeconds).toBe(7)
    expect(s.notReadyReason()).toBe('the replica is 40 changes and 7.0 s behind its change feed (threshold 5 s)')
  })

  it('a gap names the sequence it stopped at and the snapshot it waits for; the stream seen never goes below what is applied', () => {
    const c = clock()
    const s = new ReplicaStatus(5, undefined, c.now)
    s.init(2_000)
    s.set(ReplicaState.gap, 41, 30, c.now(), c.now(), 42)
    expect(s.last).toBe(41)
    expect(s.notReadyReason()).toBe('gap in the change feed after seq 41: the node stopped applying; re-bootstrapping: waiting for a snapshot at seq 42 or later in the Object Store')
    s.set(ReplicaState.needsBootstrap, 41, 90, c.now(), c.now())
    expect(s.notReadyReason()).toBe('the change feed no longer holds the changes after seq 41: restart the node to bootstrap from a snapshot')
  })

  it('refuses a buffer of another size', () => {
    expect(() => new ReplicaStatus(5, new SharedArrayBuffer(32))).toThrow(/takes 56 bytes, not 32/)
  })
})
