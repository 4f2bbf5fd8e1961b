/**
 * The Fastify peer baseline of the SLO suite: the stack a team might pick
 * instead of uWebSockets.js, doing the service's own domain work over the same
 * LMDB index, so only the HTTP stack differs. It opens the index read-only,
 * checks the hash key's fingerprint like the service, and answers
 * POST /v1/verify and POST /v1/verify/batch through the service's own
 * parseVerifyRequest and Verifier (one store read and the keyed-hash compares
 * per item) with the answer of the service's unsigned path (`--auth none`):
 * `{"requestId","match","citizen","attributes"}`, bad input as a problem.
 * With CSCA_DIR it also answers POST /v1/chip/verify as the service does:
 * parseChipRequest, the service's ChipPool (Piscina) and the same answer; the
 * crypto workers are split over the cluster workers so that, as in the
 * service, there are CRYPTO_THREADS of them in all (default one per core).
 * Written the way Fastify is meant to be used: its JSON body parser, body
 * limits per route, response schemas (fast-json-stringify), no logger.
 *
 * Threads: Node 20's HTTP server cannot share a port between worker threads
 * (no SO_REUSEPORT before Node 22.12), so THREADS > 1 runs that many
 * node:cluster workers, Fastify's documented way to use more cores; the
 * primary prints the ready line once all listen and stops them on SIGTERM.
 *
 * Usage: HOST=127.0.0.1 PORT=n DATA_DIR=dir HASH_KEY_FILE=file [THREADS=n] [CSCA_DIR=dir [CRYPTO_THREADS=n]] node fastify-server.js
 * Prints `listening <port>` when ready.
 */
import cluster from 'node:cluster'
import { timingSafeEqual } from 'node:crypto'
import { availableParallelism } from 'node:os'
import { setImmediate as yieldTurn } from 'node:timers/promises'
import Fastify, { type FastifyReply } from 'fastify'
import { ServiceError } from '../../../dist/src/errors.js'
import { readHashKey } from '../../../dist/src/files/hash-key-file.js'
import { RequestIds } from '../../../dist/src/http/request-id.js'
import { problemFor } from '../../../dist/src/problem.js'
import { ATTRIBUTES, RecordCodec } from '../../../dist/src/domain/record.js'
import { Verifier, type VerifyOutcome } from '../../../dist/src/verify/verifier.js'
import { parseVerifyRequest } from '../../../dist/src/verify/verify-request.js'
import { parseChipRequest } from '../../../dist/src/chip/chip-request.js'
import { ChipPool } from '../../../dist/src/chip/pool.js'
import { buildAnswer } from '../../../dist/src/chip/route.js'
import { FINGERPRINT_META, openStore } from '../../../dist/src/store/open.js'

const threads = Math.max(1, Number(process.env.THREADS ?? 1))
const cscaDir = process.env.CSCA_DIR ?? ''
const cryptoThreads = Math.max(1, Number(process.env.CRYPTO_THREADS ?? availableParallelism()))
const host = process.env.HOST ?? '127.0.0.1'
const port = Number(process.env.PORT ?? 0)

/** The service's limits (IDV_MAX_BODY_BYTES, IDV_MAX_BATCH_BODY_BYTES, IDV_MAX_BATCH_ITEMS defaults). */
const MAX_BODY_BYTES = 65_536
const MAX_BATCH_BODY_BYTES = 16_777_216
const MAX_BATCH_ITEMS = 10_000
const MAX_CHIP_BODY_BYTES = 512 * 1024
/** The service's IDV_CRYPTO_MAX_QUEUE default: chips waiting or running before 503. */
const CRYPTO_MAX_QUEUE = 4096
/** Batch items between yields to the event loop, as the service does. */
const BATCH_SLICE = 250

if (threads > 1 && cluster.isPrimary) {
  let listening = 0
  for (let i = 0; i < threads; i++) {
    const worker = cluster.fork()
    worker.on('message', (m: { type?: string, port?: number }) => {
      if (m.type === 'listening' && ++listening === threads) console.log(`listening ${m.port}`)
    })
    worker.on('exit', (code) => { if (!stopping) { console.error(`fastify worker exited (${code})`); process.exit(1) } })
  }
  let stopping = false
  const stop = (): void => {
    stopping = true
    for (const w of Object.values(cluster.workers ?? {})) w?.kill('SIGTERM')
    setTimeout(() => process.exit(0), 2000).unref()
    cluster.on('exit', () => { if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(0) })
  }
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)
} else {
  await serve()
}

async function serve (): Promise<void> {
  const hashKey = readHashKey(process.env.HASH_KEY_FILE ?? '')
  const store = await openStore('lmdb', process.env.DATA_DIR ?? '', { readOnly: true })
  const codec = new RecordCodec(hashKey)
  // Read-only: check the key like bindHashKey does, without recording it.
  const stored = store.getMeta(FINGERPRINT_META)
  const fingerprint = codec.keyFingerprint()
  if (stored !== undefined && (stored.length !== fingerprint.length || !timingSafeEqual(stored, fingerprint))) {
    throw new Error('the hash key does not match the one this index was built with')
  }
  const verifier = new Verifier(store, codec)
  const ids = new RequestIds()

  const attributeResult = { type: 'string', enum: ['match', 'match_without_diacritics', 'mismatch'] } as const
  const outcomeProperties = {
    match: { type: 'boolean' },
    citizen: { type: 'string' },
    attributes: { type: 'object', properties: Object.fromEntries(ATTRIBUTES.map((a) => [a, attributeResult])), additionalProperties: false }
  } as const
  const problem = { type: 'object', additionalProperties: true } as const

  const app = Fastify({ logger: false, bodyLimit: MAX_BODY_BYTES })

  const fail = (reply: FastifyReply, requestId: string, err: ServiceError): FastifyReply =>
    reply.code(err.status).type('application/problem+json').send(problemFor(err.code, err.detail, requestId))

  app.post('/v1/verify', {
    schema: { response: { 200: { type: 'object', properties: { requestId: { type: 'string' }, ...outcomeProperties } }, '4xx': problem } }
  }, async (request, reply) => {
    const requestId = ids.next()
    reply.header('x-request-id', requestId)
    const parsed = parseVerifyRequest(request.body)
    if (parsed instanceof ServiceError) return fail(reply, requestId, parsed)
    return { requestId, ...verifier.verify(parsed) }
  })

  app.post('/v1/verify/batch', {
    bodyLimit: MAX_BATCH_BODY_BYTES,
    schema: {
      response: {
        200: { type: 'object', properties: { requestId: { type: 'string' }, results: { type: 'array', items: { type: 'object', properties: { ...outcomeProperties, error: problem } } } } },
        '4xx': problem
      }
    }
  }, async (request, reply) => {
    const requestId = ids.next()
    reply.header('x-request-id', requestId)
    const items = (request.body as { items?: unknown } | null)?.items
    if (!Array.isArray(items) || items.length === 0) return fail(reply, requestId, new ServiceError('IDV_ERR_INVALID_FIELD', 'body must be an object with a non-empty items array'))
    if (items.length > MAX_BATCH_ITEMS) return fail(reply, requestId, new ServiceError('IDV_ERR_TOO_MANY_ITEMS', `a batch holds at most ${MAX_BATCH_ITEMS} items`))
    const results: Array<VerifyOutcome | { error: object }> = new Array(items.length)
    for (let start = 0; start < items.length; start += BATCH_SLICE) {
      if (start > 0) await yieldTurn()
      for (let i = start; i < Math.min(items.length, start + BATCH_SLICE); i++) {
        const parsed = parseVerifyRequest(items[i], `items[${i}].`)
        results[i] = parsed instanceof ServiceError ? { error: problemFor(parsed.code, parsed.detail) } : verifier.verify(parsed)
      }
    }
    return { requestId, results }
  })

  const pool = cscaDir === '' ? undefined : new ChipPool({ threads: Math.max(1, Math.round(cryptoThreads / threads)), maxQueue: CRYPTO_MAX_QUEUE, trustDir: cscaDir })
  if (pool !== undefined) {
    app.post('/v1/chip/verify', { bodyLimit: MAX_CHIP_BODY_BYTES }, async (request, reply) => {
      const requestId = ids.next()
      reply.header('x-request-id', requestId)
      const item = parseChipRequest(request.body)
      if (item instanceof ServiceError) return fail(reply, requestId, item)
      const pending = pool.submit(item)
      if (pending === undefined) return fail(reply, requestId, new ServiceError('IDV_ERR_OVERLOADED', 'the crypto pool is full', 1))
      return buildAnswer(requestId, await pending, verifier, undefined)
    })
  }

  await app.listen({ host, port })
  const address = app.server.address()
  const bound = typeof address === 'object' && address !== null ? address.port : port
  if (cluster.isWorker) process.send!({ type: 'listening', port: bound })
  else console.log(`listening ${bound}`)
  const stop = (): void => { void app.close().then(async () => { await pool?.close(); await store.close() }).finally(() => process.exit(0)) }
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)
  // A cluster worker whose primary is gone (SIGKILL) stops too.
  if (cluster.isWorker) process.on('disconnect', () => process.exit(0))
}
