/**
 * Point-in-time readings for the registry: the build (package version, git
 * commit, Node version) and the open connections on the public port.
 *
 * uWS has no per-connection hook for HTTP, so open connections are counted
 * where the kernel keeps them: established sockets whose local port is the
 * service's, from /proc/net/tcp{,6}, read on scrape only (Linux; elsewhere the
 * gauge is absent rather than wrong).
 */
import { readFileSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { packageRoot } from '../paths.js'

export interface BuildInfo {
  readonly version: string
  readonly commit: string
  readonly nodeVersion: string
  readonly store: string
}

export function readBuildInfo (store: string): BuildInfo {
  const root = packageRoot()
  let version = 'unknown'
  try { version = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version?: string }).version ?? version } catch { /* keep unknown */ }
  return { version, commit: gitCommit(root), nodeVersion: process.version, store }
}

/** The commit of a git checkout, read from .git without running git; `unknown` for an installed package. */
function gitCommit (root: string): string {
  try {
    const head = readFileSync(join(root, '.git', 'HEAD'), 'utf8').trim()
    if (!head.startsWith('ref: ')) return head.slice(0, 12)
    const ref = head.slice(5)
    try {
      return readFileSync(join(root, '.git', ref), 'utf8').trim().slice(0, 12)
    } catch {
      const packed = readFileSync(join(root, '.git', 'packed-refs'), 'utf8')
      const line = packed.split('\n').find((l) => l.endsWith(` ${ref}`))
      return line?.slice(0, 12) ?? 'unknown'
    }
  } catch {
    return 'unknown'
  }
}

/**
 * Established TCP connections with local port `port`, or undefined where
 * /proc/net is not there. The kernel's tables list every socket of the host
 * (~150 bytes each: 6 MB at 40,000 connections). Each is read whole (procfs
 * re-walks the table for every read(), so small chunks cost far more) off the
 * main thread, then scanned by offsets rather than split into fields; callers
 * rate-limit it with `cached`.
 */
export async function countEstablished (port: number): Promise<number | undefined> {
  const want = port.toString(16).toUpperCase().padStart(4, '0')
  let found = false
  let n = 0
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string
    try { text = await readFile(file, 'latin1') } catch { continue }
    found = true
    for (let at = text.indexOf('\n') + 1, nl = text.indexOf('\n', at); nl >= 0; at = nl + 1, nl = text.indexOf('\n', at)) {
      if (isEstablishedOn(text, at, want)) n++
    }
  }
  return found ? n : undefined
}

/** One line "%4d: LOCALADDR:PORT REMADDR:PORT ST ..." (hex) starting at `at`; state 01 is ESTABLISHED. */
function isEstablishedOn (text: string, at: number, port: string): boolean {
  const slEnd = text.indexOf(':', at)
  const localPort = text.indexOf(':', slEnd + 2) + 1
  const remotePort = text.indexOf(':', localPort + 5) + 1
  return slEnd >= 0 && localPort > 0 && remotePort > 0 && text.startsWith(port, localPort) && text.startsWith('01', remotePort + 5)
}

/**
 * Caches an async reading for `maxAgeMs`, so frequent scrapes (or several
 * scrapers) do not repeat an expensive one.
 */
export function cached<T> (read: () => Promise<T>, maxAgeMs: number): () => Promise<T> {
  let at = -Infinity
  let last: Promise<T> | undefined
  return async () => {
    const now = performance.now()
    if (last === undefined || now - at > maxAgeMs) { at = now; last = read() }
    return await last
  }
}
