/**
 * Real responses, errors included, checked against docs/openapi.yaml: every
 * status we produce is documented for its operation, and every body validates
 * against the documented schema for its content type.
 */
import Ajv2020Module from 'ajv/dist/2020.js'
import { Unpackr, Packr } from 'msgpackr'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { loadOpenApi } from '../../src/app/ops-routes.js'
import { startTestServer, type TestServer } from '../helpers/server.js'
import { AN, createTestPki, makeChip, type TestPki } from 'chip-test-pki'
import { generateKeyPairSync } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { tempDir } from '../helpers/temp.js'
import { partyAdd } from '../../src/parties/party-cli.js'
import { signRequest, type SigningKey } from '../../src/signatures/request-signer.js'
import { ATTRIBUTES } from '../../src/domain/record.js'
import { ReceiptKeyRing } from '../../src/receipts/keys.js'

const Ajv2020 = Ajv2020Module.default ?? Ajv2020Module
const doc = loadOpenApi() as any
const ajv = new (Ajv2020 as any)({ strict: false, allErrors: true })
ajv.addSchema(doc, 'openapi')

let s: TestServer
let pki: TestPki
beforeAll(async () => {
  pki = createTestPki()
  s = await startTestServer({ citizens: 100, config: { cscaDir: pki.trustDir, cryptoThreads: 1 } })
}, 60_000)
afterAll(async () => { await s.close() })

function resolveRef (node: any): any {
  while (node?.$ref !== undefined) {
    const path = (node.$ref as string).replace(/^#\//, '').split('/')
    node = path.reduce((n: any, k) => n[k], doc)
  }
  return node
}

/** Checks status, content type and body of a real response against the document. */
async function conforms (res: Response, path: string, method: string): Promise<void> {
  const op = doc.paths[path]?.[method]
  expect(op, `${method} ${path} is documented`).toBeDefined()
  const documented = resolveRef(op.responses[String(res.status)])
  expect(documented, `${method} ${path} documents status ${res.status}`).toBeDefined()
  if (res.status === 204) { expect(documented.content).toBeUndefined(); return }
  const type = res.headers.get('content-type')!
  // A media type with parameters (text/plain; charset=utf-8) is documented by its essence.
  const media = documented.content?.[type] ?? documented.content?.[type.split(';')[0]!.trim()]
  expect(media, `${method} ${path} ${res.status} documents ${type}`).toBeDefined()
  const raw = Buffer.from(await res.arrayBuffer())
  const pointer = media.schema.$ref !== undefined ? `openapi${media.schema.$ref as string}` : undefined
  const validate = pointer !== undefined ? ajv.getSchema(pointer) : ajv.compile(media.schema)
  // NDJSON: every line is one value of the schema; a range of a file (206) is documented as a string.
  const bodies = type.startsWith('text/') || (type === 'application/x-ndjson' && res.status === 206)
    ? [raw.toString()]
    : type === 'application/x-ndjson'
      ? raw.toString().split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as unknown)
      : [type.includes('msgpack') ? new Unpackr({ useRecords: false }).unpack(raw) : JSON.parse(raw.toString())]
  for (const body of bodies) {
    const ok = validate(body)
    expect(validate.errors ?? [], `${method} ${path} ${res.status}: ${JSON.stringify(body).slice(0, 300)}`).toEqual([])
    expect(ok).toBe(true)
  }
}

/** Every route the service answers (capabilities' declarations) is in the document. */
it('documents every route of every capability', async () => {
  const { CAPABILITIES } = await import('../../src/app/capabilities.js')
  for (const cap of CAPABILITIES) {
    for (const route of cap.routes ?? []) {
      const path = route.path.replace(/:([A-Za-z]+)/g, '{$1}')
      const methods = doc.paths[path] ?? {}
      expect(methods[route.method.toLowerCase()], `${route.method} ${path} (${cap.name})`).toBeDefined()
    }
  }
})

const post = async (path: string, body: string | Uint8Array, type = 'application/json', headers: Record<string, string> = {}) =>
  await fetch(`${s.url}${path}`, { method: 'POST', headers: { 'content-type': type, ...headers }, body })

it('documents and matches every verify answer and error', async () => {
  const c = s.citizens[0]!
  const good = JSON.stringify({ pin: c.pin, attributes: { fullName: c.fullName, dateOfBirth: c.dateOfBirth } })
  await conforms(await post('/v1/verify', good), '/v1/verify', 'post')
  await conforms(await post('/v1/verify', new Packr({ useRecords: false }).pack(JSON.parse(good)), 'application/vnd.msgpack'), '/v1/verify', 'post')
  await conforms(await post('/v1/verify', JSON.stringify({ pin: '001099999999', attributes: { fullName: 'NGUYEN VAN A' } })), '/v1/verify', 'post')
  await conforms(await post('/v1/verify', '{'), '/v1/verify', 'post')
  await conforms(await post('/v1/verify', good, 'text/plain'), '/v1/verify', 'post')
  await conforms(await post('/v1/verify', good, 'application/json', { accept: 'image/png' }), '/v1/verify', 'post')
  await conforms(await post('/v1/verify', JSON.stringify({ pin: c.pin, attributes: { fullName: 'x'.repeat(70_000) } })), '/v1/verify', 'post')
  // A 405 is documented on the route's one operation.
  await conforms(await fetch(`${s.url}/v1/verify`), '/v1/verify', 'post')
})

it('documents and matches batch answers', async () => {
  const c = s.citizens[1]!
  const items = [{ pin: c.pin, attributes: { gender: c.gender } }, { pin: 'bad', attributes: {} }]
  await conforms(await post('/v1/verify/batch', JSON.stringify({ items })), '/v1/verify/batch', 'post')
  await conforms(await post('/v1/verify/batch', new Packr({ useRecords: false }).pack({ items }), 'application/vnd.msgpack'), '/v1/verify/batch', 'post')
  await conforms(await post('/v1/verify/batch', '{"items":[]}'), '/v1/verify/batch', 'post')
})

it('documents and matches card QR answers and errors', async () => {
  const c = s.citizens.find((x) => x.cardIssueDate !== undefined)!
  const dmy = (iso: string): string => `${iso.slice(8, 10)}${iso.slice(5, 7)}${iso.slice(0, 4)}`
  const qr = `${c.pin}|012345678|${c.fullName}|${dmy(c.dateOfBirth)}|${c.gender === 'male' ? 'Nam' : 'Nữ'}|${c.placeOfResidence ?? ''}|${dmy(c.cardIssueDate!)}`
  await conforms(await post('/v1/card/qr/verify', JSON.stringify({ qr })), '/v1/card/qr/verify', 'post')
  await conforms(await post('/v1/card/qr/verify', new Packr({ useRecords: false }).pack({ qr }), 'application/vnd.msgpack'), '/v1/card/qr/verify', 'post')
  await conforms(await post('/v1/card/qr/verify', JSON.stringify({ qr: 'not|a|card' })), '/v1/card/qr/verify', 'post')
  await conforms(await post('/v1/card/qr/verify', JSON.stringify({ qr }), 'text/plain'), '/v1/card/qr/verify', 'post')
  await conforms(await fetch(`${s.url}/v1/card/qr/verify`), '/v1/card/qr/verify', 'post')
})

it('documents and matches stream answers and errors', async () => {
  const c = s.citizens[2]!
  const lines = [
    JSON.stringify({ ref: 'a', pin: c.pin, attributes: { fullName: c.fullName } }),
    JSON.stringify({ ref: 7, pin: 'bad', attributes: {} }),
    JSON.stringify({ pin: c.pin, attributes: { gender: c.gender } })
  ]
  await conforms(await post('/v1/verify/stream', `${lines.join('\n')}\n`, 'application/x-ndjson'), '/v1/verify/stream', 'post')
  // A framing error ends the stream with {error, index}.
  await conforms(await post('/v1/verify/stream', `${lines[0]!}\n${'x'.repeat(70_000)}\n`, 'application/x-ndjson'), '/v1/verify/stream', 'post')
  await conforms(await post('/v1/verify/stream', lines[0]!, 'text/plain'), '/v1/verify/stream', 'post')
  await conforms(await fetch(`${s.url}/v1/verify/stream`), '/v1/verify/stream', 'post')
})

it('documents and matches job answers and errors', async () => {
  const c = s.citizens[3]!
  const text = Buffer.from([
    JSON.stringify({ ref: 1, pin: c.pin, attributes: { fullName: c.fullName } }),
    JSON.stringify({ ref: 2, pin: 'bad', attributes: {} })
  ].join('\n') + '\n')
  const create = async (key: string, body: string): Promise<Response> => await fetch(`${s.url}/v1/jobs`, { method: 'POST', headers: { 'content-type': 'application/json', 'idempotency-key': key }, body })
  const made = await create('openapi-1', '{"format":"ndjson"}')
  const id = (await made.clone().json() as { id: string }).id
  await conforms(made, '/v1/jobs', 'post')
  await conforms(await create('openapi-1', '{"format":"ndjson"}'), '/v1/jobs', 'post') // 200: made before
  await conforms(await create('openapi-1', '{"format":"msgpack-seq"}'), '/v1/jobs', 'post') // 422
  await conforms(await fetch(`${s.url}/v1/jobs`, { method: 'POST', body: '{}' }), '/v1/jobs', 'post') // 400: no key
  const put = async (offset: number, body: Uint8Array, complete: boolean): Promise<Response> =>
    await fetch(`${s.url}/v1/jobs/${id}/input`, { method: 'PUT', headers: { 'content-type': 'application/x-ndjson', 'upload-offset': String(offset), 'upload-complete': complete ? '?1' : '?0' }, body })
  await conforms(await put(5, text, false), '/v1/jobs/{id}/input', 'put') // 409
  await conforms(await put(0, text, true), '/v1/jobs/{id}/input', 'put')
  let state: Response
  for (;;) {
    state = await fetch(`${s.url}/v1/jobs/${id}`)
    if ((await state.clone().json() as { state: string }).state === 'done') break
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  await conforms(state, '/v1/jobs/{id}', 'get')
  await conforms(await fetch(`${s.url}/v1/jobs/${id}/results`), '/v1/jobs/{id}/results', 'get')
  await conforms(await fetch(`${s.url}/v1/jobs/${id}/results`, { headers: { range: 'bytes=3-' } }), '/v1/jobs/{id}/results', 'get')
  await conforms(await fetch(`${s.url}/v1/jobs/${id}/results`, { headers: { range: 'bytes=99999-' } }), '/v1/jobs/{id}/results', 'get')
  await conforms(await fetch(`${s.url}/v1/jobs/${id}/receipts`), '/v1/jobs/{id}/receipts', 'get')
  await conforms(await fetch(`${s.url}/v1/jobs/${id}`, { method: 'DELETE' }), '/v1/jobs/{id}', 'delete')
  await conforms(await fetch(`${s.url}/v1/jobs/${id}`), '/v1/jobs/{id}', 'get') // 404
})

it('documents and matches the audit routes', async () => {
  const c = s.citizens[4]!
  await post('/v1/verify', JSON.stringify({ pin: c.pin, attributes: { gender: c.gender } }))
  let checkpoint: Response
  for (;;) {
    checkpoint = await fetch(`${s.url}/v1/audit/checkpoint`)
    if (checkpoint.status === 200) break
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  const size = Number((await checkpoint.clone().text()).split('\n')[1])
  await conforms(checkpoint, '/v1/audit/checkpoint', 'get')
  await conforms(await fetch(`${s.url}/v1/audit/key`), '/v1/audit/key', 'get')
  await conforms(await fetch(`${s.url}/v1/audit/proof/inclusion?index=0&size=${size}`), '/v1/audit/proof/inclusion', 'get')
  await conforms(await fetch(`${s.url}/v1/audit/proof/inclusion?index=x&size=1`), '/v1/audit/proof/inclusion', 'get')
  await conforms(await fetch(`${s.url}/v1/audit/proof/inclusion?index=${size}&size=${size}`), '/v1/audit/proof/inclusion', 'get')
  await conforms(await fetch(`${s.url}/v1/audit/proof/consistency?first=1&second=${size}`), '/v1/audit/proof/consistency', 'get')
  await conforms(await fetch(`${s.url}/v1/audit/proof/consistency?first=x&second=1`), '/v1/audit/proof/consistency', 'get')
  await conforms(await fetch(`${s.url}/v1/audit/citizens/${c.pin}/accesses?limit=5`), '/v1/audit/citizens/{pin}/accesses', 'get')
  await conforms(await fetch(`${s.url}/v1/audit/citizens/123/accesses`), '/v1/audit/citizens/{pin}/accesses', 'get')
  const day = new Date().toISOString().slice(0, 10)
  await conforms(await fetch(`${s.url}/v1/audit/party/usage?from=${day}&to=${day}&party=x`), '/v1/audit/party/usage', 'get')
  await conforms(await fetch(`${s.url}/v1/audit/party/usage?from=${day}&to=${day}`), '/v1/audit/party/usage', 'get') // 400 unsigned
})

it('documents and matches the operations routes', async () => {
  for (const path of ['/livez', '/healthz', '/readyz', '/openapi.json', '/errors']) {
    await conforms(await fetch(`${s.url}${path}`), path, 'get')
  }
})

it('documents and matches chip verification answers and errors', async () => {
  const chip = makeChip({ citizen: AN, ds: pki.ds.ecdsa })
  const dataGroups = Object.fromEntries([...chip.dataGroups].map(([n, b]) => [String(n), Buffer.from(b).toString('base64')]))
  const good = JSON.stringify({ sod: Buffer.from(chip.sod).toString('base64'), dataGroups })
  await conforms(await post('/v1/chip/verify', good), '/v1/chip/verify', 'post')
  const tampered = JSON.stringify({ sod: Buffer.from(chip.sod).toString('base64'), dataGroups: { ...dataGroups, 2: 'AAAA' } })
  await conforms(await post('/v1/chip/verify', tampered), '/v1/chip/verify', 'post')
  await conforms(await post('/v1/chip/verify', '{"sod":1}'), '/v1/chip/verify', 'post')
  const plain = await startTestServer({ citizens: 1 })
  try {
    await conforms(await fetch(`${plain.url}/v1/chip/verify`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: good }), '/v1/chip/verify', 'post')
  } finally {
    await plain.close()
  }
})

it('documents and matches signed answers with receipts, overall-only answers, /v1/keys and the relying-party errors', async () => {
  const dir = tempDir('idv-openapi-parties')
  const partiesFile = join(dir, 'parties.yaml')
  const keys = new Map<string, SigningKey>()
  for (const [id, extra] of [['full', {}], ['overall', { overallOnly: true }], ['tiny', { attributes: ['gender'], rate: 1, burst: 1 }]] as const) {
    const pair = generateKeyPairSync('ed25519')
    writeFileSync(join(dir, `${id}.pem`), pair.publicKey.export({ type: 'spki', format: 'pem' }))
    partyAdd({ file: partiesFile, id, name: id, attributes: ATTRIBUTES, rate: 100, publicKey: join(dir, `${id}.pem`), keyId: id, ...extra })
    keys.set(id, { keyId: id, algorithm: 'ed25519', key: pair.privateKey })
  }
  ReceiptKeyRing.loadOrCreate(join(dir, 'receipts.json'))
  const signedServer = await startTestServer({ citizens: 20, config: { auth: 'signatures', partiesFile, receiptKeyFile: join(dir, 'receipts.json') } })
  try {
    const c = signedServer.citizens[0]!
    const signedPost = async (party: string, path: string, body: unknown): Promise<Response> => {
      const bytes = Buffer.from(JSON.stringify(body))
      const headers = signRequest({ method: 'POST', path, authority: new URL(signedServer.url).host, scheme: 'http', headers: { 'content-type': 'application/json' }, body: bytes }, keys.get(party)!)
      return await fetch(`${signedServer.url}${path}`, { method: 'POST', headers, body: bytes })
    }
    const one = { pin: c.pin, attributes: { fullName: c.fullName, gender: c.gender } }
    await conforms(await signedPost('full', '/v1/verify', one), '/v1/verify', 'post')
    await conforms(await signedPost('overall', '/v1/verify', one), '/v1/verify', 'post')
    await conforms(await signedPost('full', '/v1/verify/batch', { items: [one, { pin: 'x' }] }), '/v1/verify/batch', 'post')
    await conforms(await signedPost('overall', '/v1/verify/batch', { items: [one] }), '/v1/verify/batch', 'post')
    const qr = `${c.pin}||${c.fullName}|${c.dateOfBirth}|${c.gender === 'male' ? 'Nam' : 'Nữ'}|${c.placeOfResidence ?? ''}`
    await conforms(await signedPost('full', '/v1/card/qr/verify', { qr }), '/v1/card/qr/verify', 'post')
    await conforms(await signedPost('overall', '/v1/card/qr/verify', { qr }), '/v1/card/qr/verify', 'post')
    await conforms(await fetch(`${signedServer.url}/v1/verify`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(one) }), '/v1/verify', 'post') // 401
    await conforms(await signedPost('tiny', '/v1/verify', one), '/v1/verify', 'post') // 403 attribute
    await conforms(await signedPost('tiny', '/v1/verify', { pin: c.pin, attributes: { gender: c.gender } }), '/v1/verify', 'post')
    const limited = await signedPost('tiny', '/v1/verify', { pin: c.pin, attributes: { gender: c.gender } })
    expect(limited.status).toBe(429)
    await conforms(limited, '/v1/verify', 'post')
    // A signed stream carries receipt records (the signature covers the head only).
    const streamHeaders = signRequest({ method: 'POST', path: '/v1/verify/stream', authority: new URL(signedServer.url).host, scheme: 'http', headers: { 'content-type': 'application/x-ndjson' }, body: new Uint8Array(0) }, keys.get('full')!)
    const streamed = await fetch(`${signedServer.url}/v1/verify/stream`, { method: 'POST', headers: streamHeaders, body: `${JSON.stringify({ ref: 1, ...one })}\n` })
    const records = await streamed.clone().text()
    expect(records).toContain('"receipt"')
    await conforms(streamed, '/v1/verify/stream', 'post')
    const keySet = await fetch(`${signedServer.url}/v1/keys`)
    await conforms(keySet, '/v1/keys', 'get')
  } finally {
    await signedServer.close()
  }
})
