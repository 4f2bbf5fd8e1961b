/**
 * A verification node as an operator runs it: `idv serve --replicate URLS` in
 * its own process (built code), on free ports, its log kept for failures.
 * It can be stopped (SIGTERM), killed (SIGKILL), paused (SIGSTOP) and probed.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { publishChanges, type PublishSummary } from '../../src/fleet/publish.js'
import { packageRoot } from '../../src/paths.js'

const CLI = join(packageRoot(), 'dist', 'src', 'app', 'cli.js')

export interface FleetNode {
  readonly name: string
  readonly url: string
  readonly metricsUrl: string
  readonly child: ChildProcess
  log: () => string
  /** The applied sequence the node reports in its metrics. */
  applied: () => Promise<number>
  readyz: () => Promise<{ status: number, body: string }>
  stop: () => Promise<void>
  kill: () => Promise<void>
}

export interface NodeOptions {
  readonly name: string
  readonly dataDir: string
  readonly hashKeyFile: string
  readonly nats: string
  readonly store?: 'lmdb' | 'native-free'
  readonly maxLagSeconds?: number
  readonly env?: Record<string, string>
}

/** Runs `idv` with arguments to completion. */
export async function runCli (args: string[], input?: string): Promise<{ code: number | null, stdout: string, stderr: string }> {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] })
  let stdout = ''; let stderr = ''
  child.stdout!.on('data', (d) => { stdout += d })
  child.stderr!.on('data', (d) => { stderr += d })
  if (input !== undefined) child.stdin!.end(input)
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve))
  return { code, stdout, stderr }
}

export async function startNode (o: NodeOptions): Promise<FleetNode> {
  const args = [CLI, 'serve', '--replicate', o.nats, '--node-id', o.name, '--data-dir', o.dataDir, '--hash-key-file', o.hashKeyFile,
    '--store', o.store ?? 'lmdb', '--port', '0', '--auth', 'none', '--threads', '1', '--log-level', 'info', '--max-lag-seconds', String(o.maxLagSeconds ?? 5)]
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...o.env } })
  let out = ''
  child.stdout!.on('data', (d) => { out = (out + String(d)).slice(-200_000) })
  child.stderr!.on('data', (d) => { out = (out + String(d)).slice(-200_000) })
  const deadline = Date.now() + 30_000
  let serving: { url: string, metricsPort: number } | undefined
  while (serving === undefined) {
    const line = out.split('\n').find((l) => l.includes('"msg":"serving"'))
    if (line !== undefined) serving = JSON.parse(line) as { url: string, metricsPort: number }
    else if (child.exitCode !== null || Date.now() > deadline) throw new Error(`node ${o.name} did not start:\n${out}`)
    else await new Promise((resolve) => setTimeout(resolve, 50))
  }
  const metricsUrl = `http://127.0.0.1:${serving.metricsPort}`
  const exited = new Promise<void>((resolve) => { if (child.exitCode !== null) resolve(); else child.once('exit', () => { resolve() }) })
  return {
    name: o.name,
    url: serving.url,
    metricsUrl,
    child,
    log: () => out,
    async applied () {
      const text = await (await fetch(`${metricsUrl}/metrics`)).text()
      const m = text.match(/^idv_replication_applied_sequence (\d+)/m)
      return m === null ? -1 : Number(m[1])
    },
    async readyz () {
      const res = await fetch(`${metricsUrl}/readyz`)
      return { status: res.status, body: await res.text() }
    },
    async stop () {
      if (child.exitCode === null) child.kill('SIGTERM')
      await exited
    },
    async kill () {
      if (child.exitCode === null) child.kill('SIGKILL')
      await exited
    }
  }
}

/** Polls `probe` until it answers true, or fails after `ms` with `what`. */
export async function waitFor (what: string, probe: () => Promise<boolean> | boolean, ms = 20_000, context: () => string = () => ''): Promise<void> {
  const deadline = Date.now() + ms
  for (;;) {
    try {
      if (await probe()) return
    } catch { /* not yet */ }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\n${context().slice(-3000)}`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

/**
 * The changes a test publishes, in order, through `idv publish`'s code and an
 * outbox in the test's directory: `published` is what every node's index must
 * come to equal (test/helpers/feed-reference.ts). Set up with `open` once the
 * test's directory and hash key exist.
 */
export class TestFeed {
  readonly published: string[] = []
  #dir = ''
  #hashKey: Buffer = Buffer.alloc(0)

  open (dir: string, hashKey: Buffer): void {
    this.#dir = dir
    this.#hashKey = hashKey
  }

  /** Publishes `lines` to `servers`; a refused line, or a stream that does not end at the last of them, fails the test. */
  async publish (servers: string, lines: readonly string[], outboxDir = join(this.#dir, 'outbox')): Promise<PublishSummary> {
    const file = join(this.#dir, `changes-${this.published.length}.ndjson`)
    writeFileSync(file, lines.join('\n') + '\n')
    const summary = await publishChanges({ file, servers, hashKey: this.#hashKey, outboxDir, replicas: 3, onReject: (line, reason) => { throw new Error(`line ${line}: ${reason}`) } })
    if (summary.lastSeq !== this.published.length + lines.length) throw new Error(`the stream ends at seq ${summary.lastSeq}, not ${this.published.length + lines.length}`)
    this.published.push(...lines)
    return summary
  }
}
