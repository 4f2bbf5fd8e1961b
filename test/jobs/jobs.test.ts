/**
 * /v1/jobs against the real signed service: a job through a restart (with
 * bytes past the last checkpoint left behind, as a crash leaves them), every
 * row answered exactly once and signed for; another party's job id is 404;
 * a chunk whose body does not match its digest, a chunk that skips an
 * offset, an Idempotency-Key reused with another body; a results download
 * cut and resumed with Range; DELETE.
 */
import { appendFileSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { ReceiptKeyRing } from '../../src/receipts/keys.js'
import { rowsReceiptVerify } from '../../src/receipts/receipt-cli.js'
import { writeFileSync } from 'node:fs'
import { tempDir } from '../helpers/temp.js'
import { signedFetch, startSignedWorld, type SignedWorld } from './signed-world.js'

const dir = tempDir('idv-jobs-api')
const jobsDir = join(dir, 'jobs')
let world: SignedWorld
afterAll(async () => { await world.server.close() })

function items (n: number, w: SignedWorld): string {
  const cs = w.server.citizens
  let text = ''
  for (let i = 0; i < n; i++) {
    const c = cs[i % cs.length]!
    text += `${JSON.stringify({ ref: i, pin: c.pin, attributes: { fullName: c.fullName, gender: i % 5 === 0 ? 'female' : c.gender } })}\n`
  }
  return text
}

async function json (res: Response): Promise<any> {
  return await res.json()
}

async function createJob (w: SignedWorld, party: string, key: string, body = '{"format":"ndjson"}'): Promise<Response> {
  return await signedFetch(w, party, 'POST', '/v1/jobs', { 'content-type': 'application/json', 'idempotency-key': key }, Buffer.from(body))
}

async function put (w: SignedWorld, party: string, id: string, offset: number, chunk: Buffer, complete: boolean): Promise<Response> {
  return await signedFetch(w, party, 'PUT', `/v1/jobs/${id}/input`, { 'content-type': 'application/x-ndjson', 'upload-offset': String(offset), 'upload-complete': complete ? '?1' : '?0' }, chunk)
}

async function waitFor (w: SignedWorld, id: string, done: (s: any) => boolean): Promise<any> {
  for (let i = 0; i < 600; i++) {
    const s = await json(await signedFetch(w, 'telco-a', 'GET', `/v1/jobs/${id}`))
    if (done(s)) return s
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  throw new Error('the job did not get there in time')
}

describe('/v1/jobs', () => {
  it('survives a restart mid-job: every row answered exactly once, in order, every answer signed for', async () => {
    // 4,000 rows/s for the party, so the job is still running when the service stops.
    world = await startSignedWorld({ jobsDir, receiptRows: 500 }, 4000, dir)
    const ROWS = 12_000
    const text = Buffer.from(items(ROWS, world))
    const created = await createJob(world, 'telco-a', 'restart-1')
    expect(created.status).toBe(201)
    const job = await json(created)
    expect(created.headers.get('location')).toBe(`/v1/jobs/${job.id as string}`)
    const half = text.indexOf('\n', text.length >> 1) + 1
    expect((await put(world, 'telco-a', job.id, 0, text.subarray(0, half), false)).status).toBe(200)
    expect((await put(world, 'telco-a', job.id, half, text.subarray(half), true)).status).toBe(200)
    const mid = await waitFor(world, job.id, (s) => s.rows >= 1500)
    expect(mid.state).toBe('running')
    expect(mid.rows).toBeLessThan(ROWS)
    expect(mid.rowsPerSecond).toBeGreaterThan(0)
    expect(mid.etaSeconds).toBeGreaterThan(0)
    await world.server.close()
    // What a crash leaves: answers written past the last checkpoint.
    appendFileSync(join(jobsDir, job.id, 'results.ndjson'), '{"ref":999999,"match":true}\n{"ref":')

    world = await startSignedWorld({ jobsDir, receiptRows: 500 }, 1_000_000, dir)
    const done = await waitFor(world, job.id, (s) => s.state === 'done')
    expect(done).toMatchObject({ rows: ROWS, errors: 0, etaSeconds: 0, upload: { bytes: text.length, complete: true } })
    expect(done.matchRatio).toBeCloseTo(done.matches / ROWS)
    const res = await signedFetch(world, 'telco-a', 'GET', `/v1/jobs/${job.id as string}/results`)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('application/x-ndjson')
    const body = await res.text()
    const refs = body.trim().split('\n').map((l) => (JSON.parse(l) as { ref: number }).ref)
    expect(refs).toEqual(Array.from({ length: ROWS }, (_, i) => i))
    const out = join(dir, 'results.ndjson')
    writeFileSync(out, body)
    const receipts = join(dir, 'receipts.ndjson')
    writeFileSync(receipts, await (await signedFetch(world, 'telco-a', 'GET', `/v1/jobs/${job.id as string}/receipts`)).text())
    const verified = await rowsReceiptVerify({ file: receipts, rowsFile: out, jwks: ReceiptKeyRing.load(join(dir, 'receipt-keys.json')).jwks() })
    expect(verified.message).toMatch(/^verified: 12000 rows under \d+ receipts$/)

    // A cut download resumes with Range.
    const part = await signedFetch(world, 'telco-a', 'GET', `/v1/jobs/${job.id as string}/results`, { range: 'bytes=1000-' })
    expect(part.status).toBe(206)
    expect(part.headers.get('content-range')).toBe(`bytes 1000-${body.length - 1}/${body.length}`)
    expect(await part.text()).toBe(body.slice(1000))
    const beyond = await signedFetch(world, 'telco-a', 'GET', `/v1/jobs/${job.id as string}/results`, { range: `bytes=${body.length}-` })
    expect(beyond.status).toBe(416)
    expect(beyond.headers.get('content-range')).toBe(`bytes */${body.length}`)
  }, 60_000)

  it('answers 404 for another party\'s job, exactly as for an id that never existed', async () => {
    const job = await json(await createJob(world, 'telco-a', 'mine-1'))
    const theirs = await signedFetch(world, 'telco-b', 'GET', `/v1/jobs/${job.id as string}`)
    const none = await signedFetch(world, 'telco-b', 'GET', '/v1/jobs/AAAAAAAAAAAAAAAAAAAAAA')
    expect(theirs.status).toBe(404)
    expect(none.status).toBe(404)
    const [a, b] = [await json(theirs), await json(none)]
    expect(a.code).toBe('IDV_ERR_JOB_NOT_FOUND')
    expect({ ...a, requestId: '' }).toEqual({ ...b, requestId: '' })
    for (const [method, path] of [['GET', `/v1/jobs/${job.id as string}/results`], ['DELETE', `/v1/jobs/${job.id as string}`]] as const) {
      expect((await signedFetch(world, 'telco-b', method, path)).status).toBe(404)
    }
    expect((await put(world, 'telco-b', job.id, 0, Buffer.from('{}\n'), false)).status).toBe(404)
    // The owner still sees it, and may delete it.
    expect((await signedFetch(world, 'telco-a', 'DELETE', `/v1/jobs/${job.id as string}`)).status).toBe(204)
    expect((await signedFetch(world, 'telco-a', 'GET', `/v1/jobs/${job.id as string}`)).status).toBe(404)
  })

  it('refuses a chunk whose body does not match its digest, and one that skips an offset, storing neither', async () => {
    const job = await json(await createJob(world, 'telco-a', 'chunks-1'))
    const chunk = Buffer.from(items(10, world))
    // Signed over one body, another sent: the Content-Digest no longer matches.
    const url = new URL(world.server.url)
    const { signRequest } = await import('../../src/signatures/request-signer.js')
    const headers = signRequest({ method: 'PUT', path: `/v1/jobs/${job.id as string}/input`, authority: url.host, scheme: 'http', headers: { 'upload-offset': '0' }, body: chunk }, world.parties['telco-a']!.signer)
    const tampered = Buffer.from(chunk)
    tampered[5] = tampered[5]! ^ 1
    const bad = await fetch(`${world.server.url}/v1/jobs/${job.id as string}/input`, { method: 'PUT', headers, body: tampered })
    expect(bad.status).toBe(401) // the digest is part of what was signed
    expect((await json(bad)).code).toBe('IDV_ERR_DIGEST_MISMATCH')
    const skip = await put(world, 'telco-a', job.id, 100, chunk, false)
    expect(skip.status).toBe(409)
    expect(skip.headers.get('upload-offset')).toBe('0')
    expect((await json(skip)).code).toBe('IDV_ERR_UPLOAD_OFFSET')
    const s = await json(await signedFetch(world, 'telco-a', 'GET', `/v1/jobs/${job.id as string}`))
    expect(s.upload).toEqual({ bytes: 0, complete: false, declaredBytes: null })
    expect(readFileSync(join(jobsDir, job.id, 'input')).length).toBe(0)
    // The right chunk at the right offset goes in; the same one again is now a skip backwards.
    expect((await put(world, 'telco-a', job.id, 0, chunk, false)).status).toBe(200)
    expect((await put(world, 'telco-a', job.id, 0, chunk, false)).headers.get('upload-offset')).toBe(String(chunk.length))
  })

  it('gives the same job for a repeated Idempotency-Key, 422 for the key with another body, 400 without one', async () => {
    const first = await createJob(world, 'telco-a', 'idem-1')
    const again = await createJob(world, 'telco-a', 'idem-1')
    expect(first.status).toBe(201)
    expect(again.status).toBe(200)
    expect((await json(again)).id).toBe((await json(first)).id)
    const other = await createJob(world, 'telco-a', 'idem-1', '{"format":"msgpack-seq"}')
    expect(other.status).toBe(422)
    expect(other.headers.get('content-type')).toBe('application/problem+json')
    expect((await json(other)).code).toBe('IDV_ERR_IDEMPOTENCY_KEY_REUSED')
    // Keys are the party's own: another party's same key makes its own job.
    expect((await createJob(world, 'telco-b', 'idem-1', '{"format":"msgpack-seq"}')).status).toBe(201)
    const none = await signedFetch(world, 'telco-a', 'POST', '/v1/jobs', { 'content-type': 'application/json' }, Buffer.from('{}'))
    expect(none.status).toBe(400)
    expect((await json(none)).code).toBe('IDV_ERR_IDEMPOTENCY_KEY_MISSING')
  })

  it('ends a job whose upload is not NDJSON framing with the row named, its answers before it kept', async () => {
    const job = await json(await createJob(world, 'telco-a', 'framing-1'))
    const good = items(3, world)
    expect((await put(world, 'telco-a', job.id, 0, Buffer.from(`${good}{"ref": 3, "pin": "${'9'.repeat(70_000)}"}\n`), true)).status).toBe(200)
    const s = await waitFor(world, job.id, (x) => x.state !== 'running' && x.state !== 'uploading')
    expect(s).toMatchObject({ state: 'failed', rows: 3, error: { code: 'IDV_ERR_STREAM_FRAMING' } })
    expect(s.error.detail).toMatch(/^item 3: a line is longer than/)
  })
})
