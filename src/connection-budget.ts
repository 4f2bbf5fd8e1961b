/**
 * File descriptors: every TCP connection holds one, and all server threads of
 * a process share one open-file limit, so the limit (not the thread count)
 * caps the connections a process can hold. Linux only (/proc); elsewhere the
 * readings are undefined rather than guessed.
 */
import { readFile, readdir } from 'node:fs/promises'

/**
 * Open file descriptors of this process. Listed off the main thread (only the
 * names are counted on it): a synchronous listing (prom-client's
 * process_open_fds) takes 13 ms of the calling thread at 10,000 connections
 * (measured). The listing's own descriptor is not counted.
 */
export async function countOpenFds (): Promise<number | undefined> {
  try { return (await readdir('/proc/self/fd')).length - 1 } catch { return undefined }
}

export interface ConnectionBudget {
  /** The soft RLIMIT_NOFILE: what the process may open now (Node raises it to the hard limit at start-up). */
  readonly softLimit: number
  /** The hard limit: how far the soft one can be raised without privileges. */
  readonly hardLimit: number
  /** Descriptors already open (store, logs, pipes, listening sockets). */
  readonly open: number
  /** Connections the process can still accept: softLimit − open. */
  readonly connections: number
}

/** The open-file limit and the connections it leaves room for, from /proc/self/limits. */
export async function connectionBudget (): Promise<ConnectionBudget | undefined> {
  let limits: string
  try { limits = await readFile('/proc/self/limits', 'utf8') } catch { return undefined }
  // "Max open files            20000                20000                files"
  const m = /^Max open files\s+(\S+)\s+(\S+)/m.exec(limits)
  const open = await countOpenFds()
  if (m === null || open === undefined) return undefined
  const limit = (v: string): number => v === 'unlimited' ? Infinity : Number(v)
  const softLimit = limit(m[1]!)
  return { softLimit, hardLimit: limit(m[2]!), open, connections: Math.max(0, softLimit - open) }
}
