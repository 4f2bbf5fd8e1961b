/**
 * Serving state shared by the routes: ready (accepting), draining (finishing
 * what was accepted), stopped. Counts requests from the handler to their answer
 * or abort, so shutdown can wait for them instead of cutting them off.
 */
export class Lifecycle {
  /** New requests are accepted only while ready. */
  ready = false
  /** Past the drain deadline: accepted requests still unanswered get 503. */
  stopped = false
  #inFlight = 0
  #idle: (() => void) | undefined

  get inFlight (): number {
    return this.#inFlight
  }

  /** Marks a request accepted; returns its `end`, which is safe to call more than once. */
  begin (): () => void {
    this.#inFlight++
    let ended = false
    return () => {
      if (ended) return
      ended = true
      if (--this.#inFlight === 0) this.#idle?.()
    }
  }

  /** Stops accepting and waits (at most timeoutMs) for accepted requests; true when all finished. */
  async drain (timeoutMs: number): Promise<boolean> {
    this.ready = false
    if (this.#inFlight > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, timeoutMs)
        this.#idle = () => { clearTimeout(timer); resolve() }
      })
    }
    this.#idle = undefined
    this.stopped = true
    return this.#inFlight === 0
  }
}
