/**
 * A mutex in one Int32 of a SharedArrayBuffer, for state shared by the server's
 * worker threads (nonce memory, token buckets). It is the three-state futex
 * mutex of Drepper's "Futexes Are Tricky" (0 free, 1 held, 2 held with
 * waiters): uncontended lock and unlock are one compare-and-swap each, and a
 * waiter sleeps in Atomics.wait instead of burning the core it shares.
 *
 * Critical sections here are a few hundred nanoseconds, so a short spin comes
 * before sleeping. Atomics.wait is allowed on Node's main thread too.
 *
 * Caveat: a thread terminated (worker.terminate()) while holding the lock leaves
 * it held; the server never terminates a worker mid-request, and the sleep
 * is bounded so a stuck lock shows up as a hang to investigate, not a crash.
 */

const SPINS = 64
const SLEEP_MS = 5

export function lock (cells: Int32Array, index: number): void {
  let c = Atomics.compareExchange(cells, index, 0, 1)
  if (c === 0) return
  for (let i = 0; i < SPINS; i++) {
    c = Atomics.compareExchange(cells, index, 0, 1)
    if (c === 0) return
  }
  if (c !== 2) c = Atomics.exchange(cells, index, 2)
  while (c !== 0) {
    Atomics.wait(cells, index, 2, SLEEP_MS)
    c = Atomics.exchange(cells, index, 2)
  }
}

export function unlock (cells: Int32Array, index: number): void {
  if (Atomics.sub(cells, index, 1) !== 1) {
    Atomics.store(cells, index, 0)
    Atomics.notify(cells, index, 1)
  }
}
