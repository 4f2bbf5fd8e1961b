/**
 * Operational behaviour of the real server: shutdown drains accepted requests,
 * a big batch does not stall other clients, HEAD probes, and a loader whose
 * store fails rejects instead of crashing the process.
 */
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { tempDir } from '../helpers/temp.js'
import { request } from 'node:http'
import { describe, expect, it } from 'vitest'
import { loadFile } from '../../src/bulk-load/loader.js'
import { generateCitizens, toJsonLine } from '../../src/population/generate.js'
import { MemoryStore } from '../helpers/memory-store.js'
import { sleep } from '../helpers/raw-http.js'
import { postJson, startTestServer } from '../helpers/server.js'
import { connect } from 'node:net'

describe('lifecycle', () => {
  it('answers a request accepted before shutdown, refuses new ones, then stops', async () => {
    const s = await startTestServer({ citizens: 50 })
    const c = s.citizens[0]!
    const body = JSON.stringify({ pin: c.pin, attributes: { fullName: c.fullName } })
    const socket = connect(s.port, '127.0.0.1')
    let reply = ''
    socket.on('data', (d) => { reply += d.toString() })
    await new Promise((resolve) => socket.once('connect', resolve))
    const other = connect(s.port, '127.0.0.1')
    let otherReply = ''
    other.on('data', (d) => { otherReply += d.toString() })
    other.on('error', () => {})
    await new Promise((resolve) => other.once('connect', resolve))
    socket.write(`POST /v1/verify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n`)
    await sleep(50)
    const closing = s.close()
    await sleep(50)
    // New connections are refused; a new request on an already open one is told the service is going away.
    other.write(`POST /v1/verify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`)
    for (let i = 0; i < 50 && otherReply === ''; i++) await sleep(10)
    expect(otherReply).toMatch(/^HTTP\/1\.1 503 /)
    expect(otherReply).toContain('IDV_ERR_NOT_READY')
    socket.write(body)
    await closing
    for (let i = 0; i < 50 && !reply.includes('"match"'); i++) await sleep(10)
    expect(reply).toMatch(/^HTTP\/1\.1 200 /)
    expect(reply).toContain('"fullName":"match"')
    socket.destroy()
    other.destroy()
  })

  it('answers health probes while a 10,000-item batch is being verified', async () => {
    const s = await startTestServer({ citizens: 500 })
    try {
      const items = Array.from({ length: 10_000 }, (_, i) => {
        const c = s.citizens[i % s.citizens.length]!
        return { pin: c.pin, attributes: { fullName: c.fullName, dateOfBirth: c.dateOfBirth, gender: c.gender, placeOfResidence: c.placeOfResidence ?? 'x' } }
      })
      let batchDone = false
      const batch = postJson(`${s.url}/v1/verify/batch`, { items }).then((r) => { batchDone = true; return r })
      // Wait until the server has the batch (it answers a probe only between slices once it started).
      await sleep(100)
      const probeDoneBeforeBatch: boolean[] = []
      for (let i = 0; i < 3; i++) {
        const res = await fetch(`${s.url}/livez`)
        expect(res.status).toBe(200)
        probeDoneBeforeBatch.push(!batchDone)
      }
      const r = await batch
      expect(r.status).toBe(200)
      expect(r.body.results).toHaveLength(10_000)
      expect(probeDoneBeforeBatch).toContain(true)
    } finally {
      await s.close()
    }
  }, 60_000)

  it('answers HEAD probes without a body', async () => {
    const s = await startTestServer({ citizens: 10 })
    try {
      const head = async (path: string): Promise<{ status: number, body: string }> => await new Promise((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port: s.port, path, method: 'HEAD' }, (res) => {
          let body = ''
          res.on('data', (d) => { body += d })
          res.on('end', () => { resolve({ status: res.statusCode!, body }) })
        })
        req.on('error', reject)
        req.end()
      })
      expect(await head('/livez')).toEqual({ status: 200, body: '' })
      expect(await head('/readyz')).toEqual({ status: 200, body: '' })
      expect(await head('/v1/verify')).toEqual({ status: 405, body: '' })
    } finally {
      await s.close()
    }
  })
})

describe('loader failures', () => {
  it('rejects (and cleans up) when the store fails mid-load, without crashing the process', async () => {
    const dir = tempDir('idv-loadfail')
    const file = join(dir, 'p.ndjson')
    await writeFile(file, [...generateCitizens(5000, 3)].map(toJsonLine).join('\n') + '\n')
    class FailingStore extends MemoryStore {
      writes = 0
      override async writeBatch (): Promise<void> {
        if (++this.writes >= 2) throw new Error('MDB_MAP_FULL: simulated')
      }
    }
    await expect(loadFile({ file, store: new FailingStore(), hashKey: Buffer.alloc(32, 1), rejectFile: join(dir, 'r'), workDir: join(dir, 'work'), chunkBytes: 64 * 1024, commitRecords: 1000, threads: 2 })).rejects.toThrow(/MDB_MAP_FULL/)
  })
})
