/**
 * Point-in-time sources of the metrics: open connections counted from the
 * kernel's tables (IPv4 and IPv6, only those on the given local port), open
 * file descriptors, and the build info.
 */
import { connect, createServer, type Server, type Socket } from 'node:net'
import { describe, expect, it } from 'vitest'
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { countEstablished, readBuildInfo } from '../../src/metrics/index.js'
import { packageRoot } from '../../src/paths.js'

async function listen (host: string): Promise<{ server: Server, port: number }> {
  const server = createServer(() => {})
  await new Promise<void>((resolve) => { server.listen(0, host, resolve) })
  return { server, port: (server.address() as { port: number }).port }
}

async function open (port: number, host: string, n: number): Promise<Socket[]> {
  return await Promise.all(Array.from({ length: n }, async () => await new Promise<Socket>((resolve) => { const s = connect(port, host, () => { resolve(s) }) })))
}

describe('metrics sources', () => {
  it('counts established connections on a local port, IPv4 and IPv6', async () => {
    const v4 = await listen('127.0.0.1')
    const v6 = await listen('::1')
    const sockets = [...await open(v4.port, '127.0.0.1', 7), ...await open(v6.port, '::1', 3)]
    try {
      await new Promise((resolve) => setTimeout(resolve, 50))
      expect(await countEstablished(v4.port)).toBe(7)
      expect(await countEstablished(v6.port)).toBe(3)
      for (const s of sockets.slice(0, 4)) s.destroy()
      await new Promise((resolve) => setTimeout(resolve, 100))
      expect(await countEstablished(v4.port)).toBe(3)
    } finally {
      for (const s of sockets) s.destroy()
      v4.server.close()
      v6.server.close()
    }
  })

  it('reads the build: package version, commit, Node version, store engine', () => {
    const b = readBuildInfo('native-free')
    expect(b.version).toMatch(/^\d+\.\d+\.\d+/)
    expect(b.commit).toMatch(/^([0-9a-f]{12}|unknown)$/)
    expect(b.nodeVersion).toBe(process.version)
    expect(b.store).toBe('native-free')
  })

  it('counts a process\'s open file descriptors as a synchronous listing does', () => {
    const r = spawnSync(process.execPath, [join(packageRoot(), 'test', 'fixtures', 'open-fds.mjs')], { encoding: 'utf8', timeout: 30_000 })
    expect(r.status, r.stderr).toBe(0)
    const n = JSON.parse(r.stdout) as { before: number, after: number, sync: number, closed: number }
    expect(n.after - n.before).toBe(50)
    expect(n.after).toBe(n.sync)
    expect(n.closed).toBe(n.before)
  })
})
