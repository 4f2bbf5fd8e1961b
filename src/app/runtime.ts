/**
 * Runs a capability list (src/capability.ts): the process parts on the main
 * thread, the thread parts in every server thread, and their teardown in
 * reverse order. Nothing here knows what any capability does.
 */
import {
  COUNTERS, NO_COUNTER, type AnyCapability, type Capability, type Catalogue, type ProcessContext, type ProcessPart, type ServiceKey, type Services,
  type ServingInfo, type Share, type ThreadContext, type ThreadPart
} from '../capability.js'
import type { TransferListItem } from 'node:worker_threads'

/** The catalogue of a list: its labelled routes (then `other`) and its declared counter families. */
export function catalogueOf (capabilities: readonly AnyCapability[]): Catalogue {
  const routes: string[] = []
  for (const c of capabilities) for (const r of c.routes ?? []) if (r.labelled === true && !routes.includes(r.path)) routes.push(r.path)
  return { routes: [...routes, 'other'], families: capabilities.flatMap((c) => c.metrics ?? []) }
}

/** Every route the list declares, with the methods each allows (for 405 answers with an Allow header). */
export function declaredRoutes (capabilities: readonly AnyCapability[]): Map<string, string[]> {
  const routes = new Map<string, string[]>()
  for (const c of capabilities) {
    for (const r of c.routes ?? []) routes.set(r.path, [...(routes.get(r.path) ?? []), r.method])
  }
  return routes
}

export function serviceRegistry (): Services {
  const services = new Map<string, unknown>()
  return {
    provide: <T>(key: ServiceKey<T>, value: T): void => {
      if (services.has(key.name)) throw new Error(`two capabilities offer the service ${key.name}`)
      services.set(key.name, value)
    },
    use: <T>(key: ServiceKey<T>): T | undefined => services.get(key.name) as T | undefined
  }
}

/** The process parts of a list, once per process on the main thread. */
export class ProcessRuntime {
  readonly #parts: ReadonlyArray<ProcessPart<unknown>>

  private constructor (parts: ReadonlyArray<ProcessPart<unknown>>) {
    this.#parts = parts
  }

  /** Runs every process part in list order; if one fails, closes those already made. */
  static async start (capabilities: readonly AnyCapability[], base: Omit<ProcessContext, keyof Services>): Promise<ProcessRuntime> {
    const ctx: ProcessContext = { ...base, ...serviceRegistry() }
    const parts: Array<ProcessPart<unknown>> = []
    try {
      for (const c of capabilities as ReadonlyArray<Capability<unknown>>) parts.push(c.process === undefined ? {} : await c.process(ctx))
    } catch (err) {
      await new ProcessRuntime(parts).close()
      throw err
    }
    return new ProcessRuntime(parts)
  }

  /** What the main thread's server gets, one per capability. */
  localShares (): unknown[] {
    return this.#parts.map((p) => p.local)
  }

  /** What one more server thread gets (structured-cloneable), with the ports to transfer. */
  threadShares (): { values: unknown[], transfer: TransferListItem[] } {
    const values: unknown[] = []
    const transfer: TransferListItem[] = []
    for (const p of this.#parts) {
      const share: Share<unknown> | undefined = p.share?.()
      values.push(share?.value)
      transfer.push(...(share?.transfer ?? []))
    }
    return { values, transfer }
  }

  /** Once the public port listens; resolves with what the parts report for the `serving` log line. */
  async serving (info: ServingInfo): Promise<Record<string, unknown>> {
    const details: Record<string, unknown> = {}
    for (const p of this.#parts) Object.assign(details, await p.serving?.(info))
    return details
  }

  reload (): void {
    for (const p of this.#parts) p.reload?.()
  }

  /** Reverse list order, each part once, even when one fails (the first failure is rethrown). */
  async close (): Promise<void> {
    await closeInReverse(this.#parts)
  }
}

/** The thread parts of a list in one server thread. */
export class ThreadRuntime {
  readonly #parts: ReadonlyArray<ThreadPart | undefined>

  private constructor (parts: ReadonlyArray<ThreadPart | undefined>) {
    this.#parts = parts
  }

  static async start (capabilities: readonly AnyCapability[], base: Omit<ThreadContext, keyof Services | 'counter'>, shares: readonly unknown[]): Promise<ThreadRuntime> {
    const services = serviceRegistry()
    // Counters come from whichever capability offers COUNTERS (metrics, first in the list); none: a no-op.
    const ctx: ThreadContext = { ...base, ...services, counter: (family) => services.use(COUNTERS)?.counter(family) ?? NO_COUNTER }
    const parts: Array<ThreadPart | undefined> = []
    try {
      for (const [i, c] of (capabilities as ReadonlyArray<Capability<unknown>>).entries()) parts.push(await c.thread?.(ctx, shares[i]))
    } catch (err) {
      await new ThreadRuntime(parts).close()
      throw err
    }
    return new ThreadRuntime(parts)
  }

  reload (): void {
    for (const p of this.#parts) p?.reload?.()
  }

  async close (): Promise<void> {
    await closeInReverse(this.#parts)
  }
}

async function closeInReverse (parts: ReadonlyArray<{ close?: () => Promise<void> | void } | undefined>): Promise<void> {
  let first: unknown
  for (const p of [...parts].reverse()) {
    try {
      await p?.close?.()
    } catch (err) {
      first ??= err
    }
  }
  if (first !== undefined) throw first
}
