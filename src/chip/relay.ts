/**
 * Chip verification from every server thread through the one crypto pool.
 *
 * The Piscina pool lives in the main thread (one pool sized to the machine, as
 * the HTTP threads and the crypto workers share the cores); a server thread
 * holds a ChipRelayClient that forwards each chip over a MessagePort and gets
 * the verdict back. Admission stays in one place: when the pool is full the
 * main thread answers `overloaded` and the client's promise rejects with
 * IDV_ERR_OVERLOADED, which the route turns into 503 with Retry-After.
 */
import './codes.js'
import type { MessagePort } from 'node:worker_threads'
import type { ChipResult } from './passive-auth/types.js'
import type { ChipTaskItem } from './worker.js'
import { ChipPoolError, type ChipPool } from './pool.js'

/** What the chip route needs: ChipPool in the main thread, ChipRelayClient elsewhere. */
export interface ChipSubmitter {
  /** The verdict, or undefined when the pool is full (answer 503); may also reject with a ChipPoolError. */
  submit (item: ChipTaskItem): Promise<ChipResult> | undefined
}

type Request = { readonly id: number, readonly item: ChipTaskItem }
type Reply =
  | { readonly id: number, readonly result: ChipResult }
  | { readonly id: number, readonly error: { readonly code: string, readonly message: string } }

/** Main thread: answers one server thread's chips from the pool. */
export function serveChipRelay (pool: ChipPool, port: MessagePort): void {
  port.on('message', ({ id, item }: Request) => {
    const pending = pool.submit(item)
    if (pending === undefined) {
      port.postMessage({ id, error: { code: 'IDV_ERR_OVERLOADED', message: 'chip verification is at capacity' } } satisfies Reply)
      return
    }
    pending.then(
      (result) => { port.postMessage({ id, result } satisfies Reply) },
      (err: unknown) => {
        const code = err instanceof ChipPoolError ? err.code : 'IDV_ERR_INTERNAL'
        port.postMessage({ id, error: { code, message: err instanceof Error ? err.message : String(err) } } satisfies Reply)
      }
    )
  })
}

/** Server thread: forwards chips to the main thread's pool. */
export class ChipRelayClient implements ChipSubmitter {
  readonly #port: MessagePort
  readonly #pending = new Map<number, { resolve: (r: ChipResult) => void, reject: (e: Error) => void }>()
  #next = 0

  constructor (port: MessagePort) {
    this.#port = port
    port.on('message', (reply: Reply) => {
      const p = this.#pending.get(reply.id)
      if (p === undefined) return
      this.#pending.delete(reply.id)
      if ('result' in reply) p.resolve(reply.result)
      else p.reject(new ChipPoolError(reply.error.code, reply.error.message))
    })
    port.unref()
  }

  submit (item: ChipTaskItem): Promise<ChipResult> {
    const id = this.#next++
    return new Promise<ChipResult>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject })
      this.#port.postMessage({ id, item } satisfies Request)
    })
  }

  close (): void {
    for (const p of this.#pending.values()) p.reject(new ChipPoolError('IDV_ERR_INTERNAL', 'the server thread is closing'))
    this.#pending.clear()
    this.#port.close()
  }
}
