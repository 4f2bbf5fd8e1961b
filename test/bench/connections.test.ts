/**
 * The kernel's connection count: real `ss` listings of real sockets, and which
 * samples count as taken inside a measured window.
 */
import { createServer, connect, type Server, type Socket } from 'node:net'
import { afterAll, describe, expect, it } from 'vitest'
import { sampleConnections, samplesWithin, type ConnectionSample } from '../../bench/src/lib/connections.js'

describe('sampleConnections', () => {
  const servers: Server[] = []
  const sockets: Socket[] = []
  afterAll(() => { for (const s of sockets) s.destroy(); for (const s of servers) s.close() })

  it('counts the server side of each established connection, per local address, between its start and end times', async () => {
    const server = createServer(() => {})
    servers.push(server)
    await new Promise<void>((resolve) => server.listen(0, '0.0.0.0', resolve))
    const port = (server.address() as { port: number }).port
    const open = async (host: string): Promise<void> => await new Promise((resolve) => { sockets.push(connect(port, host, resolve)) })
    for (let i = 0; i < 3; i++) await open('127.0.0.1')
    for (let i = 0; i < 2; i++) await open('127.0.0.2')
    const before = Date.now()
    const sample = await sampleConnections(port)
    expect(sample).toMatchObject({ total: 5, byAddress: { '127.0.0.1': 3, '127.0.0.2': 2 } })
    expect(sample.startedAt).toBeGreaterThanOrEqual(before)
    expect(sample.endedAt).toBeGreaterThanOrEqual(sample.startedAt)
    expect(sample.endedAt).toBeLessThanOrEqual(Date.now())
  })
})

describe('samplesWithin', () => {
  const at = (startedAt: number, endedAt: number, total: number): ConnectionSample => ({ startedAt, endedAt, total, byAddress: {} })

  it('keeps only listings begun and read inside the window', () => {
    const samples = [at(900, 1010, 10), at(1000, 1050, 50), at(1500, 1600, 50), at(1950, 2000, 50), at(1960, 2040, 31), at(2100, 2150, 0)]
    expect(samplesWithin(samples, 1000, 2000).map((s) => s.total)).toEqual([50, 50, 50])
  })

  it('is empty when no listing fits the window', () => {
    expect(samplesWithin([at(900, 2100, 50)], 1000, 2000)).toEqual([])
  })
})
