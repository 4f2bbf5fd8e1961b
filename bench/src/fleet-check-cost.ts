/**
 * What the fleet-wide security check costs per signed request (issue 21,
 * src/fleet-security): the same node binary, on the same replicated index,
 * answering signed POST /v1/verify (Ed25519, a fresh nonce each) with the
 * fleet check off (IDV_FLEET_SECURITY=off: nonces and quota in the node's
 * memory, as a single node) and on (plus one create-only KV write per request
 * on a real 3-server nats-server cluster).
 *
 * Figures: server CPU per admitted request (the node process, all its
 * threads, from /proc), the NATS servers' CPU per request in the fleet runs,
 * and the throughput of the closed-loop client (`concurrency` requests in
 * flight). Rounds alternate off and on, so drift on a shared machine hits both;
 * each figure is the median of its rounds. Receipts and the audit log are
 * off: they cost the same either way and would only dilute the difference
 * (and the audit log's fsyncs would set the pace). The party has no daily quota: a quota adds one KV create per
 * block of 1% of it, nothing per request.
 *
 * Usage (after `npm run build`): node bench/dist/fleet-check-cost.js [--seconds N] [--rounds N] [--concurrency N]
 */
import { generateKeyPairSync, type KeyObject } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { fileURLToPath } from 'node:url'
import { LocalCluster } from '../../dist/src/fleet/local-cluster.js'
import { publishChanges } from '../../dist/src/fleet/publish.js'
import { syntheticChanges } from '../../dist/src/fleet/synthetic-changes.js'
import { createHashKey } from '../../dist/src/files/hash-key-file.js'
import { partyAdd } from '../../dist/src/parties/party-cli.js'
import { editFleetParties, openPartiesBucket } from '../../dist/src/fleet-security/index.js'
import { connectFleet } from '../../dist/src/replication/index.js'
import { signRequest } from '../../dist/src/signatures/request-signer.js'
import { packageRoot } from '../../dist/src/paths.js'
import { startChild } from './lib/child.js'
import { cpuSeconds, withChildren } from './lib/proc-cpu.js'

export interface FleetCheckCostOptions {
  /** Measured seconds per round and path. Default 10. */
  readonly seconds?: number
  /** Rounds, each measuring both paths (alternating which goes first). Default 2. */
  readonly rounds?: number
  /** Requests in flight. Default 16. */
  readonly concurrency?: number
}

export interface PathCost {
  /** Node CPU µs per admitted request (median of rounds). */
  readonly nodeUsPerRequest: number
  /** NATS servers' CPU µs per admitted request (all three together). */
  readonly natsUsPerRequest: number
  readonly requestsPerSecond: number
  readonly requests: number
}

export interface FleetCheckCost {
  readonly singleNode: PathCost
  readonly fleet: PathCost
  /** fleet.nodeUsPerRequest / singleNode.nodeUsPerRequest */
  readonly nodeCpuRatio: number
  readonly seconds: number
  readonly rounds: number
  readonly concurrency: number
}

const CLI = join(packageRoot(), 'dist', 'src', 'app', 'cli.js')
const PARTY = 'bench-fleet'

export async function measureFleetCheckCost (o: FleetCheckCostOptions = {}): Promise<FleetCheckCost> {
  const seconds = o.seconds ?? 10
  const rounds = o.rounds ?? 2
  const concurrency = o.concurrency ?? 16
  const dir = mkdtempSync(join(tmpdir(), 'idv-fleet-cost-'))
  let cluster: LocalCluster | undefined
  try {
    cluster = await LocalCluster.start({ dir: join(dir, 'nats') })
    const keyFile = join(dir, 'hash-key')
    const hashKey = createHashKey(keyFile)
    const lines = syntheticChanges(200, { seed: 5 })
    writeFileSync(join(dir, 'changes.ndjson'), lines.join('\n') + '\n')
    await publishChanges({ file: join(dir, 'changes.ndjson'), servers: cluster.urls, hashKey, outboxDir: join(dir, 'outbox'), replicas: 3, onReject: (line, reason) => { throw new Error(`line ${line}: ${reason}`) } })
    const pins = lines.map((l) => JSON.parse(l) as { op: string, citizen?: { pin: string } }).filter((c) => c.op === 'upsert').map((c) => c.citizen!.pin)

    // One party, one key: in the node's own file for the single-node runs, in the fleet registry for the fleet runs.
    const { publicKey, privateKey } = generateKeyPairSync('ed25519')
    const pem = join(dir, 'party.pub.pem')
    writeFileSync(pem, publicKey.export({ type: 'spki', format: 'pem' }))
    const add = (file: string): unknown => partyAdd({ file, id: PARTY, name: PARTY, attributes: ['gender', 'dateOfBirth'], rate: 1_000_000, publicKey: pem, keyId: `${PARTY}-key` })
    const localParties = join(dir, 'single.parties.json')
    add(localParties)
    const nc = await connectFleet(cluster.urls, { name: 'idv-bench-fleet-cost' })
    await editFleetParties(await openPartiesBucket(nc), add)
    await nc.close()

    const runs: Record<'singleNode' | 'fleet', Array<{ nodeUs: number, natsUs: number, rps: number, requests: number }>> = { singleNode: [], fleet: [] }
    for (let r = 0; r < rounds; r++) {
      const order: Array<'singleNode' | 'fleet'> = r % 2 === 0 ? ['singleNode', 'fleet'] : ['fleet', 'singleNode']
      for (const path of order) {
        const fleet = path === 'fleet'
        const node = await startChild([CLI, 'serve', '--replicate', cluster.urls, '--node-id', 'bench-node', '--data-dir', join(dir, 'index'), '--hash-key-file', keyFile,
          '--parties-file', fleet ? join(dir, 'fleet.parties.json') : localParties, '--port', '0', '--threads', '1', '--max-lag-seconds', '600', '--metrics-port', '0'],
        /"url":"(http[^"]+)".*"msg":"serving"/, { IDV_FLEET_SECURITY: fleet ? 'on' : 'off', IDV_RECEIPTS: 'off', IDV_AUDIT: 'off' }, 30_000)
        try {
          const url = node.match[1]!
          const pid = node.child.pid!
          const natsPids = (): number[] => withChildren([process.pid]).filter((p) => p !== process.pid && p !== pid)
          await waitReady(url)
          await load(url, privateKey, pins, concurrency, 1) // warm-up
          const nodeBefore = cpuSeconds([pid])
          const natsBefore = cpuSeconds(natsPids())
          const started = performance.now()
          const requests = await load(url, privateKey, pins, concurrency, seconds)
          const elapsed = (performance.now() - started) / 1000
          runs[path].push({
            nodeUs: (cpuSeconds([pid]) - nodeBefore) * 1e6 / requests,
            natsUs: (cpuSeconds(natsPids()) - natsBefore) * 1e6 / requests,
            rps: requests / elapsed,
            requests
          })
        } finally {
          await node.stop()
        }
      }
    }
    const summary = (path: 'singleNode' | 'fleet'): PathCost => ({
      nodeUsPerRequest: median(runs[path].map((x) => x.nodeUs)),
      natsUsPerRequest: median(runs[path].map((x) => x.natsUs)),
      requestsPerSecond: median(runs[path].map((x) => x.rps)),
      requests: runs[path].reduce((n, x) => n + x.requests, 0)
    })
    const singleNode = summary('singleNode')
    const fleet = summary('fleet')
    return { singleNode, fleet, nodeCpuRatio: fleet.nodeUsPerRequest / singleNode.nodeUsPerRequest, seconds, rounds, concurrency }
  } finally {
    await cluster?.stop()
    rmSync(dir, { recursive: true, force: true })
  }
}

async function waitReady (url: string): Promise<void> {
  const deadline = Date.now() + 30_000
  for (;;) {
    const status = await fetch(`${url}/readyz`).then((r) => r.status, () => 0)
    if (status === 200) return
    if (Date.now() > deadline) throw new Error(`${url} did not become ready`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

/** Closed loop: `concurrency` workers send signed verifications for `seconds`; returns how many were admitted (anything else throws). */
async function load (url: string, key: KeyObject, pins: readonly string[], concurrency: number, seconds: number): Promise<number> {
  const authority = new URL(url).host
  const until = performance.now() + seconds * 1000
  let admitted = 0
  let i = 0
  const worker = async (): Promise<void> => {
    while (performance.now() < until) {
      const body = Buffer.from(JSON.stringify({ pin: pins[i++ % pins.length], attributes: { gender: 'male' } }))
      const headers = signRequest({ method: 'POST', path: '/v1/verify', authority, headers: { 'content-type': 'application/json' }, body }, { keyId: `${PARTY}-key`, algorithm: 'ed25519', key })
      const res = await fetch(`${url}/v1/verify`, { method: 'POST', headers, body })
      const text = await res.text()
      if (res.status !== 200) throw new Error(`answer ${res.status}: ${text}`)
      admitted++
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
  return admitted
}

function median (xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  const mid = Math.floor(s.length / 2)
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2
}

function formatCost (c: FleetCheckCost): string {
  const row = (name: string, p: PathCost): string => `${name.padEnd(12)} ${p.nodeUsPerRequest.toFixed(0).padStart(8)} ${p.natsUsPerRequest.toFixed(0).padStart(8)} ${p.requestsPerSecond.toFixed(0).padStart(8)} ${String(p.requests).padStart(9)}`
  return [
    `fleet check cost: signed POST /v1/verify, Ed25519, ${c.concurrency} in flight, ${c.rounds} rounds × ${c.seconds} s per path (medians)`,
    `${'path'.padEnd(12)} ${'node µs'.padStart(8)} ${'NATS µs'.padStart(8)} ${'req/s'.padStart(8)} ${'requests'.padStart(9)}`,
    row('single-node', c.singleNode),
    row('fleet', c.fleet),
    `node CPU per request: ×${c.nodeCpuRatio.toFixed(2)} with the fleet check`
  ].join('\n')
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { seconds: { type: 'string', default: '10' }, rounds: { type: 'string', default: '2' }, concurrency: { type: 'string', default: '16' } } })
  const cost = await measureFleetCheckCost({ seconds: Number(values.seconds), rounds: Number(values.rounds), concurrency: Number(values.concurrency) })
  console.log(formatCost(cost))
  console.log(JSON.stringify(cost))
}
