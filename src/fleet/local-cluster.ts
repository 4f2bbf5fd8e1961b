/**
 * A NATS JetStream cluster of real `nats-server` processes on loopback ports,
 * for tests, benchmarks and `npm run fleet:demo`: each server gets a client
 * port, a cluster port with routes to the others, and its JetStream files in
 * its own directory under `dir`. Servers can be killed (SIGKILL, as a crash)
 * and started again on the same ports and files.
 *
 * nats-server comes from Debian's package (2.9.10, .ci/install-debian-packages).
 * Its JetStream syncs to disk every 60 s by default; `syncIntervalMs` sets
 * `sync_interval` in a config file (the tests keep the default: the outbox,
 * not JetStream's fsync, is what makes a change safe).
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { createServer, type AddressInfo } from 'node:net'
import { join } from 'node:path'
import { connect } from '@nats-io/transport-node'
import { jetstreamManager } from '@nats-io/jetstream'

/** A primary and a DR site linked by leaf nodes (the DR test and `fleet:demo -- --dr`): each its own cluster name and JetStream domain. */
export const DR_PRIMARY = { name: 'primary', domain: 'primary', leafListen: true } as const
/** `idv.>` stays off the leaf connections: each site's feed takes only its own site's producer (docs/design/fleet-dr.md). */
export const DR_SITE = { name: 'dr', domain: 'dr', leafDeny: ['idv.>'] } as const

export interface LocalClusterOptions {
  /** Where each server keeps its JetStream files (dir/n1, dir/n2, …). */
  readonly dir: string
  readonly size?: number
  /** Cluster name; a second cluster (the DR site) needs another. */
  readonly name?: string
  /** JetStream domain (a leaf-connected DR cluster needs its own). */
  readonly domain?: string
  /** Loopback address to listen on. */
  readonly host?: string
  /** Leaf nodes: a port the servers accept leaf connections on, or remotes they connect to. */
  readonly leafListen?: boolean
  readonly leafRemotes?: readonly string[]
  /** Subjects kept off the leaf connections this cluster makes, both ways (the DR site keeps `idv.>` to itself: see docs/design/fleet-dr.md). */
  readonly leafDeny?: readonly string[]
  readonly syncIntervalMs?: number
  readonly binary?: string
}

interface Member {
  readonly name: string
  readonly clientPort: number
  readonly clusterPort: number
  readonly leafPort: number | undefined
  readonly config: string
  process: ChildProcess | undefined
}

export class LocalCluster {
  readonly #o: LocalClusterOptions
  readonly #members: Member[]

  private constructor (o: LocalClusterOptions, members: Member[]) {
    this.#o = o
    this.#members = members
  }

  /** Starts every server and waits until JetStream answers (a meta leader is elected). */
  static async start (o: LocalClusterOptions): Promise<LocalCluster> {
    const size = o.size ?? 3
    const host = o.host ?? '127.0.0.1'
    const name = o.name ?? 'idv'
    const ports = await freePorts(size * 3, host)
    const members: Member[] = []
    for (let i = 0; i < size; i++) {
      members.push({
        name: `${name}-n${i + 1}`,
        clientPort: ports[i * 3]!,
        clusterPort: ports[i * 3 + 1]!,
        leafPort: o.leafListen === true ? ports[i * 3 + 2] : undefined,
        config: join(o.dir, `${name}-n${i + 1}.conf`),
        process: undefined
      })
    }
    mkdirSync(o.dir, { recursive: true })
    for (const m of members) writeFileSync(m.config, configText(o, m, members, host, name))
    const cluster = new LocalCluster(o, members)
    try {
      for (let i = 0; i < size; i++) cluster.startServer(i)
      await cluster.waitReady()
    } catch (err) {
      await cluster.stop()
      throw err
    }
    return cluster
  }

  /** Client URLs, comma-separated, as `--nats` and `--replicate` take them. */
  get urls (): string {
    return this.#members.map((m) => this.url(this.#members.indexOf(m))).join(',')
  }

  url (i: number): string {
    return `nats://${this.#o.host ?? '127.0.0.1'}:${this.#members[i]!.clientPort}`
  }

  /** Leaf-node URLs another cluster connects to (leafListen). */
  get leafUrls (): string[] {
    return this.#members.filter((m) => m.leafPort !== undefined).map((m) => `nats-leaf://${this.#o.host ?? '127.0.0.1'}:${m.leafPort!}`)
  }

  /** Process ids of the running servers (for an operator's kill -9 in the demo). */
  get pids (): number[] {
    return this.#members.flatMap((m) => m.process?.pid === undefined ? [] : [m.process.pid])
  }

  startServer (i: number): void {
    const m = this.#members[i]!
    if (m.process !== undefined) throw new Error(`${m.name} is running`)
    const child = spawn(this.#o.binary ?? 'nats-server', ['-c', m.config], { stdio: ['ignore', 'ignore', 'pipe'] })
    let tail = ''
    child.stderr?.on('data', (b: Buffer) => { tail = (tail + b.toString()).slice(-4000) })
    child.once('exit', () => { if (m.process === child) m.process = undefined })
    child.once('error', (err) => { tail += String(err) })
    m.process = child
    ;(child as ChildProcess & { tail: () => string }).tail = () => tail
  }

  /** SIGKILL: a crash, nothing flushed. */
  kill (i: number): void {
    const m = this.#members[i]!
    m.process?.kill('SIGKILL')
    m.process = undefined
  }

  /** Waits until JetStream answers through every running server. */
  async waitReady (timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs
    for (const [i, m] of this.#members.entries()) {
      if (m.process === undefined) continue
      for (;;) {
        try {
          const nc = await connect({ servers: this.url(i), timeout: 1_000, reconnect: false })
          try {
            const jsm = await jetstreamManager(nc, { timeout: 2_000 })
            await jsm.getAccountInfo()
            break
          } finally {
            await nc.close()
          }
        } catch (err) {
          if (Date.now() > deadline) {
            const tail = (m.process as (ChildProcess & { tail?: () => string }) | undefined)?.tail?.() ?? ''
            throw new Error(`nats-server ${m.name} did not get JetStream ready in ${timeoutMs} ms: ${String(err)}\n${tail}`)
          }
          await new Promise((resolve) => setTimeout(resolve, 200))
        }
      }
    }
  }

  /** Stops every server (SIGTERM, then SIGKILL after 5 s) and waits for them to exit. */
  async stop (): Promise<void> {
    await Promise.all(this.#members.map(async (m) => {
      const child = m.process
      if (child === undefined || child.exitCode !== null) return
      const exited = new Promise<void>((resolve) => child.once('exit', () => { resolve() }))
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000)
      await exited
      clearTimeout(timer)
      m.process = undefined
    }))
  }
}

function configText (o: LocalClusterOptions, m: Member, all: readonly Member[], host: string, name: string): string {
  const routes = all.filter((x) => x !== m).map((x) => `"nats-route://${host}:${x.clusterPort}"`)
  const js = [`store_dir: ${JSON.stringify(join(o.dir, m.name))}`]
  if (o.domain !== undefined) js.push(`domain: ${o.domain}`)
  if (o.syncIntervalMs !== undefined) js.push(`sync_interval: "${o.syncIntervalMs}ms"`)
  const lines = [
    `server_name: ${m.name}`,
    `host: ${host}`,
    `port: ${m.clientPort}`,
    `jetstream { ${js.join(', ')} }`,
    `cluster { name: ${name}, host: ${host}, port: ${m.clusterPort}, routes: [${routes.join(', ')}] }`
  ]
  const leaf: string[] = []
  if (m.leafPort !== undefined) leaf.push(`host: ${host}, port: ${m.leafPort}`)
  if (o.leafRemotes !== undefined && o.leafRemotes.length > 0) {
    const deny = (o.leafDeny ?? []).map((s) => JSON.stringify(s)).join(', ')
    const remote = [`urls: [${o.leafRemotes.map((u) => JSON.stringify(u)).join(', ')}]`]
    if (deny !== '') remote.push(`deny_imports: [${deny}]`, `deny_exports: [${deny}]`)
    leaf.push(`remotes: [{ ${remote.join(', ')} }]`)
  }
  if (leaf.length > 0) lines.push(`leafnodes { ${leaf.join(', ')} }`)
  return lines.join('\n') + '\n'
}

async function freePorts (n: number, host: string): Promise<number[]> {
  const servers = await Promise.all(Array.from({ length: n }, async () => {
    const s = createServer()
    await new Promise<void>((resolve, reject) => { s.once('error', reject); s.listen(0, host, resolve) })
    return s
  }))
  const ports = servers.map((s) => (s.address() as AddressInfo).port)
  await Promise.all(servers.map(async (s) => { await new Promise<void>((resolve) => s.close(() => { resolve() })) }))
  return ports
}
