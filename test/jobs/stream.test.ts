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
// The audit log off here: these tests measure the stream's own flow control and memory, and the audit log in the
// same test process (its index writer thread and LMDB map grow with the log: about +150 MB anonymous and +65 MB
// mapped over 200,000 entries here) and its ~10k entries/s on this 2-core machine would be measured with them.
// Streamed rows in the audit log (one entry each, before the row is sent) are tested in test/audit/answers.test.ts.
beforeAll(async () => { server = await startTestServer({ citizens: 2000, config: { streamIdleSeconds: 2, audit: false } }) })
afterAll(async () => { await server.close() })

/** 10,000 distinct items: full matches, wrong birth dates, unknown PINs, invalid items. */
function distinctItems (): Array<Record<string, unknown>> {
  const items: Array<Record<string, unknown>> = []
  const cs = server.citizens
  for (let i = 0; i < 10_000; i++) {
    const c = cs[i % cs.length]!
    const kind = i % 10
    if (kind < 6) items.push({ pin: c.pin, attributes: { fullName: c.fullName, dateOfBirth: c.dateOfBirth, gender: c.gender } })
    else if (kind < 8) items.push({ pin: c.pin, attributes: { fullName: c.fullName.toUpperCase(), dateOfBirth: '1900-01-01' } })
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
    const res = await fetch(`${server.url}/v1/verify/stream`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: Readable.from(body()) as unknown as ReadableStream, duplex: 'half' } as RequestInit)
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

  it('answers a malformed item with its own error record and goes on', async () => {
    const c = server.citizens.find((x) => x.status === 'active')!
    const good = JSON.stringify({ ref: 'ok', pin: c.pin, attributes: { fullName: c.fullName } })
    const body = [
      good,
      '{"ref": "broken", "pin": ',
      JSON.stringify({ ref: 'badpin', pin: '12', attributes: { gender: 'male' } }),
      JSON.stringify({ ref: 'unknown-attr', pin: c.pin, attributes: { salary: '1' } }),
      `{"ref":"dup","pin":"${c.pin}","pin":"${c.pin}","attributes":{"gender":"male"}}`,
      JSON.stringify({ ref: { nested: true }, pin: c.pin, attributes: { gender: 'male' } }),
      '',
      good
    ].join('\r\n')
    const { status, text } = await streamText(body)
    expect(status).toBe(200)
    const records: any[] = text.trim().split('\n').map((l) => JSON.parse(l))
    // A body with a duplicate key is not read at all, ref included.
    expect(records.map((r) => r.ref ?? null)).toEqual(['ok', null, 'badpin', 'unknown-attr', null, null, 'ok', null])
    expect(records[0]).toMatchObject({ match: true })
    expect(records[1].error.code).toBe('IDV_ERR_MALFORMED_BODY')
    expect(records[2].error.code).toBe('IDV_ERR_INVALID_PIN')
    expect(records[3].error.code).toBe('IDV_ERR_UNKNOWN_ATTRIBUTE')
    expect(records[4].error.code).toBe('IDV_ERR_DUPLICATE_KEY')
    expect(records[5].error.code).toBe('IDV_ERR_INVALID_FIELD')
    expect(records[6]).toMatchObject({ match: true })
    expect(records[7]).toEqual({ end: { rows: 7, matches: 2, errors: 5 } })
  })

  it('ends the stream at a line over the limit with a final record naming the item; the items before it stand', async () => {
    const c = server.citizens[0]!
    const good = JSON.stringify({ pin: c.pin, attributes: { gender: c.gender } })
    const { status, text } = await streamText([good, good, `{"pin":"${'x'.repeat(70_000)}"}`, good].join('\n'))
    expect(status).toBe(200)
    const records: any[] = text.trim().split('\n').map((l) => JSON.parse(l))
    expect(records).toHaveLength(3)
    expect(records[0]).toHaveProperty('match')
    expect(records[2]).toMatchObject({ index: 2, error: { code: 'IDV_ERR_STREAM_FRAMING' } })
    expect(records[2].error.detail).toMatch(/^item 2: a line is longer than 65536 bytes/)
  })

  it('takes a MessagePack sequence and answers one MessagePack value per item', async () => {
    const c = server.citizens.find((x) => x.status === 'active')!
    const items = [
      pack({ ref: 1, pin: c.pin, attributes: { fullName: c.fullName, gender: c.gender } }),
      pack({ ref: 2, pin: c.pin, attributes: 'nope' }),
      pack({ ref: 3, pin: c.pin, attributes: { dateOfBirth: '1900-01-01' } })
    ]
    const res = await fetch(`${server.url}/v1/verify/stream`, { method: 'POST', headers: { 'content-type': 'application/vnd.msgpack-seq' }, body: Buffer.concat(items) })
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('application/vnd.msgpack-seq')
    const values = new Unpackr({ useRecords: false }).unpackMultiple(Buffer.from(await res.arrayBuffer())) as any[]
    expect(values.map((v) => v.ref ?? null)).toEqual([1, 2, 3, null])
    expect(values[0]).toMatchObject({ match: true, attributes: { fullName: 'match', gender: 'match' } })
    expect(values[1].error.code).toBe('IDV_ERR_INVALID_FIELD')
    expect(values[2]).toMatchObject({ match: false, attributes: { dateOfBirth: 'mismatch' } })
    expect(values[3]).toEqual({ end: { rows: 3, matches: 1, errors: 1 } })
  })

  it('ends a MessagePack sequence at bytes that are no MessagePack value, or at a value cut off by the end', async () => {
    const c = server.citizens[0]!
    const one = pack({ pin: c.pin, attributes: { gender: c.gender } })
    for (const [tail, detail] of [[Buffer.from([0xc1, 0x00]), /^item 1: the bytes are not a MessagePack value/], [one.subarray(0, 10), /^item 1: the stream ends inside a MessagePack value/]] as const) {
      const res = await fetch(`${server.url}/v1/verify/stream`, { method: 'POST', headers: { 'content-type': 'application/vnd.msgpack-seq' }, body: Buffer.concat([one, tail]) })
      const values = new Unpackr({ useRecords: false }).unpackMultiple(Buffer.from(await res.arrayBuffer())) as any[]
      expect(values).toHaveLength(2)
      expect(values[1]).toMatchObject({ index: 1, error: { code: 'IDV_ERR_STREAM_FRAMING' } })
      expect(values[1].error.detail).toMatch(detail)
    }
    expect(unpack(pack(1))).toBe(1)
  })

  it('refuses a body that is neither NDJSON nor a MessagePack sequence with 415', async () => {
    const { status, type, text } = await streamText('{"items":[]}', 'application/json')
    expect(status).toBe(415)
    expect(type).toBe('application/problem+json')
    expect(JSON.parse(text).code).toBe('IDV_ERR_UNSUPPORTED_MEDIA_TYPE')
  })

  it('stops reading from a client that stops reading, holds memory bounded, and closes it after the idle time', async () => {
    const c = server.citizens[0]!
    const line = `${JSON.stringify({ pin: c.pin, attributes: { fullName: c.fullName, dateOfBirth: c.dateOfBirth, gender: c.gender } })}\n`
    const block = Buffer.from(line.repeat(Math.ceil(65_536 / line.length)))
    const chunk = Buffer.concat([Buffer.from(`${block.length.toString(16)}\r\n`), block, Buffer.from('\r\n')])
    const socket: Socket = connect(server.port, '127.0.0.1')
    await new Promise((resolve) => socket.once('connect', resolve))
    socket.pause() // never reads an answer
    const closed = new Promise<number>((resolve) => socket.once('close', () => { resolve(Date.now()) }))
    socket.on('error', () => {})
    socket.write('POST /v1/verify/stream HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-ndjson\r\nTransfer-Encoding: chunked\r\n\r\n')
    const rssBefore = process.memoryUsage().rss
    let rssPeak = rssBefore
    let lastDrain = Date.now()
    let open = true
    void closed.then(() => { open = false })
    // Write whenever the socket takes more, until it has taken nothing for a second: the server stopped reading.
    for (;;) {
      while (open && socket.write(chunk)) { /* the kernel took it */ }
      if (!open) break
      const drained = await Promise.race([new Promise((resolve) => socket.once('drain', () => { resolve(true) })), new Promise((resolve) => setTimeout(() => { resolve(false) }, 1000))])
      rssPeak = Math.max(rssPeak, process.memoryUsage().rss)
      if (drained === true) lastDrain = Date.now()
      else break
    }
    const stalledAt = Date.now()
    const sent = socket.bytesWritten
    // The server paused: what it took is bounded by its input buffer (4 MiB at most) plus the kernel's socket buffers.
    expect(sent).toBeLessThan(64 * 1024 * 1024)
    expect(rssPeak - rssBefore).toBeLessThan(100 * 1024 * 1024)
    // Closed by the server once nothing moved for streamIdleSeconds (2 s here).
    const closedAt = await closed
    expect(closedAt - lastDrain).toBeGreaterThanOrEqual(1500)
    expect(closedAt - stalledAt).toBeLessThan(8000)
    socket.destroy()
  }, 30_000)
})
