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
import { join } from 'node:path'
import { packageRoot } from '../paths.js'
import type { BuildInfo } from './registry.js'

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

/** Established TCP connections with local port `port`, or undefined where /proc/net is not there. */
export function countEstablished (port: number): number | undefined {
  const suffix = `:${port.toString(16).toUpperCase().padStart(4, '0')}`
  let found = false
  let n = 0
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string
    try { text = readFileSync(file, 'latin1') } catch { continue }
    found = true
    // Lines: "sl local_address rem_address st ..." (hex ip:port); state 01 is ESTABLISHED.
    for (const line of text.split('\n')) {
      const fields = line.trim().split(/\s+/)
      if (fields[3] === '01' && fields[1]!.endsWith(suffix)) n++
    }
  }
  return found ? n : undefined
}
