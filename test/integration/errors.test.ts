/**
 * Every bad request gets an RFC 9457 problem (or, below HTTP, a closed
 * connection), and the process stays up for everyone else.
 */
import { Packr } from 'msgpackr'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { postJson, startTestServer, type TestServer } from '../helpers/server.js'
import { abortMidBody, rawExchange } from '../helpers/raw-http.js'

let s: TestServer
let good: { pin: string, attributes: { fullName: string } }
beforeAll(async () => {
  s = await startTestServer({ citizens: 200 })
  const c = s.citizens[0]!
  good = { pin: c.pin, attributes: { fullName: c.fullName } }
})
afterAll(async () => { await s.close() })

async function expectProblem (res: Response, status: number, code: string): Promise<any> {
  expect(res.status).toBe(status)
  expect(res.headers.get('content-type')).toBe('application/problem+json')
  const body = (await res.json()) as any
  expect(body).toMatchObject({ type: `/errors#${code}`, status, code })
  expect(typeof body.title).toBe('string')
  return body
}

async function stillServing (): Promise<void> {
  const r = await postJson(`${s.url}/v1/verify`, good)
  expect(r.status).toBe(200)
  expect(r.body.attributes.fullName).toBe('match')
}

const post = async (path: string, body: string | Uint8Array, contentType = 'application/json', extra: Record<string, string> = {}) =>
  await fetch(`${s.url}${path}`, { method: 'POST', headers: { 'content-type': contentType, ...extra }, body })

describe('400 for malformed input', () => {
  it.each([
    ['truncated JSON', '{"pin": "0010990', 'IDV_ERR_MALFORMED_BODY'],
    ['empty body', '', 'IDV_ERR_MALFORMED_BODY'],
    ['JSON array', '[]', 'IDV_ERR_INVALID_FIELD'],
    ['pin as number', JSON.stringify({ pin: 1099012345, attributes: { gender: 'male' } }), 'IDV_ERR_INVALID_PIN'],
    ['pin too short', JSON.stringify({ pin: '00109901234', attributes: { gender: 'male' } }), 'IDV_ERR_INVALID_PIN'],
    ['unknown province', JSON.stringify({ pin: '003099012345', attributes: { gender: 'male' } }), 'IDV_ERR_INVALID_PIN'],
    ['attributes missing', JSON.stringify({ pin: '001099012345' }), 'IDV_ERR_INVALID_FIELD'],
    ['attributes empty', JSON.stringify({ pin: '001099012345', attributes: {} }), 'IDV_ERR_NO_ATTRIBUTES'],
    ['unknown attribute', JSON.stringify({ pin: '001099012345', attributes: { eyeColour: 'brown' } }), 'IDV_ERR_UNKNOWN_ATTRIBUTE'],
    ['__proto__ attribute', '{"pin":"001099012345","attributes":{"__proto__":{"x":1}}}', 'IDV_ERR_UNKNOWN_ATTRIBUTE'],
    ['bad date', JSON.stringify({ pin: '001099012345', attributes: { dateOfBirth: '1999-02-30' } }), 'IDV_ERR_INVALID_FIELD'],
    ['bad gender', JSON.stringify({ pin: '001099012345', attributes: { gender: 'M' } }), 'IDV_ERR_INVALID_FIELD'],
    ['name not a string', JSON.stringify({ pin: '001099012345', attributes: { fullName: ['a'] } }), 'IDV_ERR_INVALID_FIELD'],
    ['name too long', JSON.stringify({ pin: '001099012345', attributes: { fullName: 'a'.repeat(201) } }), 'IDV_ERR_INVALID_FIELD'],
    ['deep nesting', `{"pin":"001099012345","attributes":${'['.repeat(5000)}${']'.repeat(5000)}}`, 'IDV_ERR_MALFORMED_BODY']
  ])('%s', async (_name, body, code) => {
    await expectProblem(await post('/v1/verify', body), 400, code)
  })

  it('refuses invalid UTF-8', async () => {
    const bytes = Buffer.concat([Buffer.from('{"pin":"001099012345","attributes":{"fullName":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}}')])
    await expectProblem(await post('/v1/verify', bytes), 400, 'IDV_ERR_MALFORMED_BODY')
  })

  it('refuses MessagePack that decodes to anything but plain data', async () => {
    const hostile: unknown[] = [
      { pin: new Date(0), attributes: { gender: 'male' } },
      { pin: '001099012345', attributes: { fullName: /a+$/ } },
      { pin: '001099012345', attributes: new Set(['gender']) },
      { pin: '001099012345', attributes: { fullName: new Error('boom') } },
      { pin: '001099012345', attributes: { fullName: new Float64Array(4) } },
      { pin: '001099012345', attributes: { fullName: Buffer.from('An') } },
      { pin: '001099012345', attributes: { fullName: undefined } }
    ]
    const packr = new Packr({ moreTypes: true, structuredClone: true, useRecords: false })
    for (const value of hostile) {
      const res = await post('/v1/verify', packr.pack(value), 'application/vnd.msgpack')
      await expectProblem(res, 400, 'IDV_ERR_MALFORMED_BODY')
    }
    await expectProblem(await post('/v1/verify', Buffer.from([0xc1]), 'application/vnd.msgpack'), 400, 'IDV_ERR_MALFORMED_BODY')
    await expectProblem(await post('/v1/verify', Buffer.from([0xdf, 0xff, 0xff, 0xff, 0xff]), 'application/vnd.msgpack'), 400, 'IDV_ERR_MALFORMED_BODY')
  })

  it('refuses duplicate keys, JSON and MessagePack, naming the key (issue 18)', async () => {
    const c = s.citizens[1]!
    // A parser that keeps the first "pin" would read another question from the one answered.
    const json = `{"pin":"${good.pin}","attributes":{"fullName":${JSON.stringify(good.attributes.fullName)}},"pin":"${c.pin}"}`
    const body = await expectProblem(await post('/v1/verify', json), 400, 'IDV_ERR_DUPLICATE_KEY')
    expect(body.detail).toBe('duplicate key "pin" in the body')
    const batch = `{"items":[{"pin":"${good.pin}","attributes":{"gender":"male","gender":"female"}}]}`
    expect((await expectProblem(await post('/v1/verify/batch', batch), 400, 'IDV_ERR_DUPLICATE_KEY')).detail).toBe('duplicate key "gender" in items[0].attributes')
    const str = (t: string): Buffer => Buffer.concat([Buffer.from([0xa0 + Buffer.byteLength(t)]), Buffer.from(t)])
    const msgpack = Buffer.concat([Buffer.from([0x83]), str('pin'), str(good.pin), str('attributes'), Buffer.from([0x81]), str('gender'), str('male'), str('pin'), str(c.pin)])
    expect((await expectProblem(await post('/v1/verify', msgpack, 'application/vnd.msgpack'), 400, 'IDV_ERR_DUPLICATE_KEY')).detail).toBe('duplicate key "pin" in the body')
    await stillServing()
  })

  it('names a MessagePack __proto__ attribute as sent, as JSON does', async () => {
    const str = (t: string): Buffer => Buffer.concat([Buffer.from([0xa0 + Buffer.byteLength(t)]), Buffer.from(t)])
    const msgpack = Buffer.concat([Buffer.from([0x82]), str('pin'), str(good.pin), str('attributes'), Buffer.from([0x81]), str('__proto__'), Buffer.from([0x80])])
    const viaMsgpack = await expectProblem(await post('/v1/verify', msgpack, 'application/vnd.msgpack'), 400, 'IDV_ERR_UNKNOWN_ATTRIBUTE')
    const viaJson = await expectProblem(await post('/v1/verify', `{"pin":"${good.pin}","attributes":{"__proto__":{}}}`), 400, 'IDV_ERR_UNKNOWN_ATTRIBUTE')
    expect(viaMsgpack.detail).toBe('attributes.__proto__ is not a known attribute')
    expect(viaJson.detail).toBe(viaMsgpack.detail)
  })

  it('refuses a batch that is not an items array', async () => {
    await expectProblem(await post('/v1/verify/batch', '{"items": {}}'), 400, 'IDV_ERR_INVALID_FIELD')
    await expectProblem(await post('/v1/verify/batch', '{"items": []}'), 400, 'IDV_ERR_INVALID_FIELD')
  })
})

describe('413, 415, 406, 404, 405', () => {
  it('refuses a declared body over the limit before reading it, and closes', async () => {
    const head = 'POST /v1/verify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 10000000\r\n\r\n'
    const r = await rawExchange(s.port, [head, '{"pin":'], 1000)
    expect(r.data).toMatch(/^HTTP\/1\.1 413 /)
    expect(r.data).toContain('IDV_ERR_PAYLOAD_TOO_LARGE')
    expect(r.closed).toBe(true)
  })

  it('refuses a body that grows past the limit while streaming', async () => {
    const big = JSON.stringify({ pin: '001099012345', attributes: { fullName: 'a'.repeat(70_000) } })
    await expectProblem(await post('/v1/verify', big), 413, 'IDV_ERR_PAYLOAD_TOO_LARGE')
  })

  it('allows batches a larger limit than single requests', async () => {
    const items = Array.from({ length: 2000 }, () => good)
    const r = await postJson(`${s.url}/v1/verify/batch`, { items })
    expect(r.status).toBe(200)
    expect(JSON.stringify({ items }).length).toBeGreaterThan(s.config.maxBodyBytes)
  })

  it('refuses an unsupported media type', async () => {
    await expectProblem(await post('/v1/verify', JSON.stringify(good), 'text/plain'), 415, 'IDV_ERR_UNSUPPORTED_MEDIA_TYPE')
    await expectProblem(await fetch(`${s.url}/v1/verify`, { method: 'POST', body: new Uint8Array([1]) }), 415, 'IDV_ERR_UNSUPPORTED_MEDIA_TYPE')
  })

  it('refuses an Accept it cannot satisfy', async () => {
    await expectProblem(await post('/v1/verify', JSON.stringify(good), 'application/json', { accept: 'text/html' }), 406, 'IDV_ERR_NOT_ACCEPTABLE')
  })

  it('answers 404 for unknown routes and 405 with Allow for wrong methods', async () => {
    await expectProblem(await fetch(`${s.url}/v2/verify`), 404, 'IDV_ERR_NOT_FOUND')
    const res = await fetch(`${s.url}/v1/verify`)
    await expectProblem(res, 405, 'IDV_ERR_METHOD_NOT_ALLOWED')
    expect(res.headers.get('allow')).toBe('POST')
    const del = await fetch(`${s.url}/readyz`, { method: 'DELETE' })
    await expectProblem(del, 405, 'IDV_ERR_METHOD_NOT_ALLOWED')
    expect(del.headers.get('allow')).toBe('GET')
  })
})

describe('hostile clients below HTTP', () => {
  it('survives clients that abort mid-body', async () => {
    const head = 'POST /v1/verify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n'
    await Promise.all(Array.from({ length: 50 }, async () => { await abortMidBody(s.port, head, '{"pin":"0010990') }))
    await stillServing()
  })

  it('never answers a garbage request line, drops it at the idle timeout, and keeps serving', async () => {
    // uWS v20.30 does not parse it as a request at all: no response, and the
    // socket is closed when its ~10 s HTTP idle timeout fires.
    const pending = rawExchange(s.port, ['\x16\x03\x01garbage \x00\x01 nonsense\r\n\r\n'], 15_000)
    await stillServing()
    const r = await pending
    expect(r.data).toBe('')
    expect(r.closed).toBe(true)
    await stillServing()
  }, 20_000)

  it('closes a request with too many headers and keeps serving', async () => {
    const headers = Array.from({ length: 500 }, (_, i) => `X-H${i}: v\r\n`).join('')
    const r = await rawExchange(s.port, [`GET /livez HTTP/1.1\r\nHost: x\r\n${headers}\r\n`], 1000)
    expect(r.data).not.toMatch(/^HTTP\/1\.1 200/)
    expect(r.closed).toBe(true)
    await stillServing()
  })

  it('answers a body sent in many small chunks', async () => {
    const body = JSON.stringify(good)
    const head = `POST /v1/verify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n`
    const chunks = [head, ...body.match(/.{1,7}/g)!]
    const r = await rawExchange(s.port, chunks, 2000, 2)
    expect(r.data).toMatch(/^HTTP\/1\.1 200 /)
    expect(r.data).toContain('"fullName":"match"')
  })
})

describe('operations routes', () => {
  it('reports liveness and readiness', async () => {
    for (const path of ['/livez', '/healthz', '/readyz']) {
      const res = await fetch(`${s.url}${path}`)
      expect(res.status, path).toBe(200)
    }
  })

  it('serves the OpenAPI document and the error catalogue', async () => {
    const doc = (await (await fetch(`${s.url}/openapi.json`)).json()) as any
    expect(doc.openapi).toBe('3.1.0')
    const errors = (await (await fetch(`${s.url}/errors`)).json()) as any
    expect(errors.map((e: { code: string }) => e.code)).toContain('IDV_ERR_PAYLOAD_TOO_LARGE')
  })
})
