/**
 * Server threads other than the main one reach the process's one log writer
 * over a MessagePort. Records of one event-loop turn travel as one message,
 * and the writer's verdicts come back the same way, so a busy thread costs two
 * messages per turn, not two per answer.
 */
import type { MessagePort } from 'node:worker_threads'
import type { AuditRecord } from './entry.js'

/** Where a thread's records go: the writer itself (main thread) or the relay to it. */
export interface AuditSink {
  append: (records: readonly AuditRecord[], done: () => void, fail: (reason: string) => void) => void
}

interface Request { readonly id: number, readonly records: readonly AuditRecord[] }
interface Verdict { readonly id: number, readonly failure?: string }

/** In the main thread: appends what a thread sends and answers with the verdicts. */
export function serveAuditRelay (sink: AuditSink, port: MessagePort): void {
  let out: Verdict[] = []
  const reply = (v: Verdict): void => {
    if (out.length === 0) setImmediate(() => { const batch = out; out = []; port.postMessage(batch) })
    out.push(v)
  }
  port.on('message', (requests: Request[]) => {
    for (const r of requests) sink.append(r.records, () => { reply({ id: r.id }) }, (failure) => { reply({ id: r.id, failure }) })
  })
}

export class AuditRelayClient implements AuditSink {
  readonly #port: MessagePort
  readonly #waiting = new Map<number, { done: () => void, fail: (reason: string) => void }>()
  #out: Request[] = []
  #next = 0

  constructor (port: MessagePort) {
    this.#port = port
    port.on('message', (verdicts: Verdict[]) => {
      for (const v of verdicts) {
        const w = this.#waiting.get(v.id)
        this.#waiting.delete(v.id)
        if (w === undefined) continue
        if (v.failure === undefined) w.done()
        else w.fail(v.failure)
      }
      if (this.#waiting.size === 0) port.unref()
    })
  }

  append (records: readonly AuditRecord[], done: () => void, fail: (reason: string) => void): void {
    const id = this.#next++
    this.#waiting.set(id, { done, fail })
    this.#port.ref()
    if (this.#out.length === 0) setImmediate(() => { const batch = this.#out; this.#out = []; this.#port.postMessage(batch) })
    this.#out.push({ id, records })
  }

  close (): void {
    for (const w of this.#waiting.values()) w.fail('the service is shutting down')
    this.#waiting.clear()
    this.#port.close()
  }
}
