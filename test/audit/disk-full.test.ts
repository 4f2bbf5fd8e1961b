/**
 * A full disk under the audit log: the log lives on a small tmpfs (mounting
 * one needs root, as in CI; elsewhere the test says why it cannot run). Once
 * the file system is full, verification answers are refused with 503
 * IDV_ERR_AUDIT_UNAVAILABLE and /readyz turns 503 saying why; the service
 * does not crash, no refused answer is in the log and no sent one is missing;
 * when space returns, it answers and records again by itself. A stream ends
 * with an IDV_ERR_AUDIT_UNAVAILABLE record after the rows that were recorded;
 * a job pauses (nothing appended to its results) and goes on once space returns.
 */
import { execFileSync } from 'node:child_process'
import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startTestServer, postJson, type TestServer } from '../helpers/server.js'
import { tempDir } from '../helpers/temp.js'
import { loggedRequestIds, segmentEntries } from './segment-entries.js'

const root = tempDir('idv-audit-full')
const mnt = join(root, 'mnt')
mkdirSync(mnt)
let mounted = false
try {
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', mnt], { stdio: 'ignore' })
  mounted = true
} catch { /* not root: see the skip reason below */ }

let server: TestServer
beforeAll(async () => {
  if (!mounted) return
  server = await startTestServer({ config: { auditDir: join(mnt, 'audit'), auditKeyFile: join(root, 'audit.key'), auditCheckpointMs: 50 } })
})
afterAll(async () => {
  await server?.close()
  if (mounted) execFileSync('umount', [mnt])
})

/** Fills the file system with one file until it refuses another byte. */
function fill (file: string): void {
  const chunk = Buffer.alloc(64 * 1024, 1)
  let size = 0
  for (;;) {
    try { writeFileSync(file, chunk, { flag: size === 0 ? 'w' : 'a' }); size += chunk.length } catch { break }
  }
  for (const small of [4096, 512, 1]) {
    for (;;) { try { writeFileSync(file, Buffer.alloc(small), { flag: 'a' }) } catch { break } }
  }
}

describe.skipIf(!mounted)('a full disk under the audit log (needs root to mount a 4 MB tmpfs)', () => {
  it('refuses answers with 503 and turns /readyz 503 while full, recovers once space returns', async () => {
    const c = server.citizens.find((x) => x.status === 'active')!
    const ask = { pin: c.pin, attributes: { fullName: c.fullName } }
    const sent: string[] = []
    const ok = await postJson(`${server.url}/v1/verify`, ask)
    expect(ok.status).toBe(200)
    sent.push(ok.body.requestId)

    const filler = join(mnt, 'filler')
    fill(filler)
    // The last page of the segment file may still take an entry or two: those answers go out (recorded); then refusals only.
    const refused: string[] = []
    for (let i = 0; i < 12; i++) {
      const r = await postJson(`${server.url}/v1/verify`, ask)
      if (r.status === 200 && refused.length === 0) { sent.push(r.body.requestId); continue }
      expect(r.status).toBe(503)
      expect(r.headers.get('content-type')).toBe('application/problem+json')
      expect(r.body.code).toBe('IDV_ERR_AUDIT_UNAVAILABLE')
      expect(r.body.detail).toMatch(/ENOSPC/)
      expect(r.headers.get('retry-after')).toBe('1')
      refused.push(r.headers.get('x-request-id')!)
    }
    expect(refused.length).toBeGreaterThanOrEqual(8)
    const batch = await postJson(`${server.url}/v1/verify/batch`, { items: [ask, ask] })
    expect(batch.status).toBe(503)
    const ready = await fetch(`${server.url}/readyz`)
    expect(ready.status).toBe(503)
    expect(((await ready.json()) as { detail: string }).detail).toMatch(/audit log cannot be written/)

    rmSync(filler)
    let back = false
    for (let i = 0; i < 40 && !back; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100))
      back = (await fetch(`${server.url}/readyz`)).status === 200
    }
    expect(back).toBe(true)
    const again = await postJson(`${server.url}/v1/verify`, ask)
    expect(again.status).toBe(200)
    sent.push(again.body.requestId)

    const logged = loggedRequestIds(join(mnt, 'audit', 'test'))
    for (const id of sent) expect(logged.has(id)).toBe(true)
    for (const id of refused) expect(logged.has(id)).toBe(false)
  }, 20_000)

  it('ends a stream with IDV_ERR_AUDIT_UNAVAILABLE after the rows it recorded; pauses a job until space returns', async () => {
    const cs = server.citizens.filter((x) => x.status === 'active')
    const text = cs.slice(0, 40).map((c, i) => JSON.stringify({ ref: i, pin: c.pin, attributes: { fullName: c.fullName } })).join('\n') + '\n'
    const filler = join(mnt, 'filler')
    fill(filler)
    // A stream: the rows the log still took (a page may have had room) go out, then the error record naming the first row not sent.
    const res = await fetch(`${server.url}/v1/verify/stream`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: text })
    expect(res.status).toBe(200)
    const requestId = res.headers.get('x-request-id')!
    const records = (await res.text()).trim().split('\n').map((l) => JSON.parse(l) as Record<string, any>)
    const last = records.at(-1)!
    expect(last.error.code).toBe('IDV_ERR_AUDIT_UNAVAILABLE')
    expect(last.index).toBe(records.length - 1)
    expect(last.index).toBeLessThan(40)
    const streamed = segmentEntries(join(mnt, 'audit', 'test')).filter((e) => e.requestId === requestId).map((e) => e.item as number)
    for (let row = 0; row < last.index; row++) expect(streamed).toContain(row)

    // A job: paused (no results appended) while the log cannot be written, done once it can.
    const created = await fetch(`${server.url}/v1/jobs`, { method: 'POST', headers: { 'content-type': 'application/json', 'idempotency-key': 'full-1' }, body: '{"format":"ndjson"}' })
    expect(created.status).toBe(201)
    const id = ((await created.json()) as { id: string }).id
    expect((await fetch(`${server.url}/v1/jobs/${id}/input`, { method: 'PUT', headers: { 'content-type': 'application/x-ndjson', 'upload-offset': '0', 'upload-complete': '?1' }, body: text })).status).toBe(200)
    const state = async (): Promise<Record<string, any>> => await (await fetch(`${server.url}/v1/jobs/${id}`)).json() as Record<string, any>
    let s = await state()
    for (let i = 0; i < 100 && s.state !== 'paused'; i++) { await new Promise((resolve) => setTimeout(resolve, 50)); s = await state() }
    expect(s).toMatchObject({ state: 'paused', rows: 0, resultBytes: 0, etaSeconds: null, error: { code: 'IDV_ERR_AUDIT_UNAVAILABLE' } })
    expect(s.error.detail).toMatch(/audit log cannot be written/)

    rmSync(filler)
    for (let i = 0; i < 100 && s.state !== 'done'; i++) { await new Promise((resolve) => setTimeout(resolve, 100)); s = await state() }
    expect(s).toMatchObject({ state: 'done', rows: 40 })
    expect(s.error).toBeUndefined()
    const jobRows = new Set(segmentEntries(join(mnt, 'audit', 'test')).filter((e) => e.requestId === `job/${id}`).map((e) => e.item as number))
    expect(jobRows).toEqual(new Set(Array.from({ length: 40 }, (_, i) => i)))
  }, 30_000)
})

it.skipIf(mounted)('cannot mount a tmpfs here (not root): the disk-full case is not exercised', () => {
  expect(mounted).toBe(false)
})
