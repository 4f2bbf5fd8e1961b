/**
 * kill -9 under traffic (answers waiting for the fdatasync, and for the write
 * only): a real `idv serve` (two server threads, so answers
 * of both the writer's thread and the relayed one) is killed while clients
 * keep asking; every answer a client received must have its entry in the
 * log, and the log must recover (torn tail cut, index replayed) to a state
 * `idv audit verify` accepts and a restarted service extends.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { auditVerifyCommand } from '../../src/audit/audit-cli.js'
import { RecordCodec } from '../../src/domain/record.js'
import { packageRoot } from '../../src/paths.js'
import { generateCitizens } from '../../src/population/generate.js'
import { bindHashKey, openStore } from '../../src/store/open.js'
import { fillStore } from '../helpers/server.js'
import { tempDir } from '../helpers/temp.js'
import { loggedRequestIds } from './segment-entries.js'

const CLI = join(packageRoot(), 'dist', 'src', 'app', 'cli.js')
const children: ChildProcess[] = []
afterAll(() => { for (const c of children) if (c.exitCode === null) c.kill('SIGKILL') })

async function serve (args: string[]): Promise<{ child: ChildProcess, url: string }> {
  const child = spawn(process.execPath, [CLI, 'serve', ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  children.push(child)
  let out = ''
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (b: Buffer) => { out += b.toString(); const m = /"url":"(http[^"]+)"/.exec(out); if (m !== null) resolve(m[1]!) })
    child.stderr!.on('data', (b: Buffer) => { out += b.toString() })
    child.once('exit', (code) => { reject(new Error(`serve exited ${String(code)}: ${out}`)) })
  })
  return { child, url }
}

async function exited (child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  await new Promise((resolve) => child.once('exit', resolve))
}

describe.each(['on', 'off'])('kill -9 under traffic, --audit-sync %s', (sync) => {
  it('loses no entry of an answer a client received, and recovers', async () => {
    const dir = tempDir('idv-audit-crash')
    const dataDir = join(dir, 'data')
    const hashKey = randomBytes(32)
    writeFileSync(join(dir, 'hash.key'), hashKey.toString('hex'), { mode: 0o600 })
    const citizens = [...generateCitizens(500, 7)]
    const store = await openStore('lmdb', dataDir)
    const codec = new RecordCodec(hashKey)
    await bindHashKey(store, codec)
    await fillStore(store, codec, citizens)
    await store.close()
    const args = ['--data-dir', dataDir, '--hash-key-file', join(dir, 'hash.key'), '--port', '0', '--auth', 'none', '--threads', '2',
      '--audit-dir', join(dir, 'audit'), '--audit-node', 'n1', '--audit-key-file', join(dir, 'audit.key'), '--audit-checkpoint-ms', '100', '--audit-sync', sync]
    const { child, url } = await serve(args)

    const received: string[] = []
    let stop = false
    const client = async (c: number): Promise<void> => {
      for (let i = 0; !stop; i++) {
        const who = citizens[(c * 31 + i) % citizens.length]!
        try {
          const res = await fetch(`${url}/v1/verify`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ pin: who.pin, attributes: { fullName: who.fullName } }) })
          const body = await res.json() as { requestId?: string }
          if (res.status === 200 && body.requestId !== undefined) received.push(body.requestId)
        } catch { return } // the server died under this request
      }
    }
    const clients = Array.from({ length: 24 }, async (_, c) => { await client(c) })
    await new Promise((resolve) => setTimeout(resolve, 1500))
    child.kill('SIGKILL')
    stop = true
    await Promise.all(clients)
    await exited(child)

    const logDir = join(dir, 'audit', 'n1')
    const logged = loggedRequestIds(logDir)
    expect(received.length).toBeGreaterThan(200)
    expect(received.filter((id) => !logged.has(id))).toEqual([])

    // Restarted, the service cuts any torn record, replays what the index missed, and goes on.
    const again = await serve(args)
    const who = citizens[0]!
    const res = await fetch(`${again.url}/v1/verify`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ pin: who.pin, attributes: { fullName: who.fullName } }) })
    expect(res.status).toBe(200)
    const last = (await res.json() as { requestId: string }).requestId
    await new Promise((resolve) => setTimeout(resolve, 300))
    again.child.kill('SIGTERM')
    await exited(again.child)
    expect(loggedRequestIds(logDir).has(last)).toBe(true)
    const verified = auditVerifyCommand({ dir: logDir })
    expect(verified.message).toMatch(/^OK/)
  }, 30_000)
})
