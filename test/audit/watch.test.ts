/**
 * `idv audit watch` as a witness: against the real service its successive
 * checkpoints are consistent; against a node that rewrote its history (a
 * small HTTP server here, signing with its own key a tree that does not
 * extend the one it showed before) it exits 1 and prints both checkpoints.
 */
import { createServer, type Server } from 'node:http'
import { createHash } from 'node:crypto'
import { afterAll, describe, expect, it } from 'vitest'
import { auditWatchCommand } from '../../src/audit/audit-cli.js'
import { generateSignerKey, parseSignerKey, signCheckpoint } from '../../src/audit/checkpoint.js'
import { consistencyPath } from '../../src/merkle/proofs.js'
import { postJson, startTestServer, type TestServer } from '../helpers/server.js'
import { mth } from './rfc6962-reference.js'

const servers: Array<{ close: () => unknown }> = []
afterAll(async () => { for (const s of servers) await s.close() })

describe('idv audit watch', () => {
  it('sees consistent checkpoints from the real service', async () => {
    const s: TestServer = await startTestServer({ citizens: 50, config: { auditCheckpointMs: 20 } })
    servers.push(s)
    const c = s.citizens[0]!
    const lines: string[] = []
    const ask = async (): Promise<void> => { await postJson(`${s.url}/v1/verify`, { pin: c.pin, attributes: { fullName: c.fullName } }) }
    await ask()
    await new Promise((resolve) => setTimeout(resolve, 100))
    const watching = auditWatchCommand({ urls: [s.url], intervalMs: 150, polls: 3, out: (l) => { lines.push(l) } })
    await new Promise((resolve) => setTimeout(resolve, 50))
    await ask()
    await ask()
    const r = await watching
    expect(r.exitCode).toBe(0)
    expect(lines.some((l) => / -> \d+ consistent$/.test(l))).toBe(true)
  })

  it('exits 1 with both checkpoints when a node rewrites its history', async () => {
    const signer = parseSignerKey(generateSignerKey('idv.audit/liar'))
    const leaves = (tag: string, n: number): Buffer[] => Array.from({ length: n }, (_, i) => createHash('sha256').update(`${tag}${i}`).digest())
    const honest = leaves('a', 6)
    const rewritten = [...leaves('b', 4), ...honest.slice(4)] // entries 0-3 replaced
    let calls = 0
    const notes = [signCheckpoint('idv.audit/liar', 4, mth(honest.slice(0, 4)), signer).note, signCheckpoint('idv.audit/liar', 6, mth(rewritten), signer).note]
    const http: Server = createServer((req, res) => {
      const url = new URL(req.url!, 'http://x')
      if (url.pathname === '/v1/audit/key') { res.end(`${signer.verifierKey}\n`); return }
      if (url.pathname === '/v1/audit/checkpoint') { res.end(notes[Math.min(calls++, 1)]); return }
      if (url.pathname === '/v1/audit/proof/consistency') {
        const path = consistencyPath(4, 6, (lo, hi) => mth(rewritten.slice(lo, hi)))
        res.setHeader('content-type', 'application/json')
        res.end(JSON.stringify({ first: 4, second: 6, path: path.map((h) => h.toString('base64')) }))
        return
      }
      res.statusCode = 404
      res.end()
    })
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve))
    servers.push({ close: async () => { await new Promise((resolve) => http.close(resolve)) } })
    const port = (http.address() as { port: number }).port
    const r = await auditWatchCommand({ urls: [`http://127.0.0.1:${port}`], intervalMs: 10, polls: 3, out: () => {} })
    expect(r.exitCode).toBe(1)
    expect(r.message).toMatch(/not consistent with the last one/)
    expect(r.message).toContain(notes[0])
    expect(r.message).toContain(notes[1])
  })
})
