/**
 * `npm run fleet:demo` (`idv fleet demo`): a whole fleet on this machine. A
 * 3-server NATS JetStream cluster on loopback ports, a producer that publishes
 * a synthetic change feed, and two verification nodes (`idv serve --replicate`,
 * one per engine) that follow it; then it prints what to try and runs until
 * Ctrl-C, when it stops everything it started. Its files live in one work
 * directory (default ./fleet-demo), kept between runs unless --fresh.
 *
 * `--dr` adds the DR site (docs/design/fleet-dr.md): a second 3-server cluster
 * in its own JetStream domain, linked to the primary by leaf nodes, a mirror of
 * the feed there and one node following it; it prints the commands that kill
 * the primary and promote the DR site.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { createHashKey } from '../files/hash-key-file.js'
import { mirrorStream } from './dr.js'
import { DR_PRIMARY, DR_SITE, LocalCluster } from './local-cluster.js'
import { publishChanges } from './publish.js'
import { syntheticChanges } from './synthetic-changes.js'

export interface DemoOptions {
  readonly dir: string
  readonly changes: number
  readonly fresh: boolean
  /** Also start a DR site. */
  readonly dr?: boolean
  /** The idv command line (dist/src/app/cli.js). */
  readonly cli: string
}

export async function runFleetDemo (o: DemoOptions): Promise<void> {
  const dir = resolve(o.dir)
  if (o.fresh) rmSync(dir, { recursive: true, force: true })
  mkdirSync(dir, { recursive: true })
  const keyFile = join(dir, 'hash-key')
  const hashKey = existsSync(keyFile) ? undefined : createHashKey(keyFile)
  if (hashKey === undefined && !o.fresh) console.error(`reusing ${dir} (--fresh starts over)`)
  console.error('starting a 3-server NATS JetStream cluster on loopback ports …')
  // With a DR site, each site has its own JetStream domain and the primary takes leaf connections.
  const cluster = await LocalCluster.start(o.dr === true ? { dir: join(dir, 'nats'), ...DR_PRIMARY } : { dir: join(dir, 'nats') })
  let drCluster: LocalCluster | undefined
  const children: ChildProcess[] = []
  const stopAll = async (): Promise<void> => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGTERM')
    await Promise.all(children.map(async (c) => { if (c.exitCode === null) await new Promise((resolve) => c.once('exit', resolve)) }))
    await drCluster?.stop()
    await cluster.stop()
  }
  try {
    const feed = join(dir, 'changes.ndjson')
    const lines = syntheticChanges(o.changes, { seed: 1 })
    writeFileSync(feed, lines.join('\n') + '\n')
    const { readHashKey } = await import('../files/hash-key-file.js')
    const summary = await publishChanges({ file: feed, servers: cluster.urls, hashKey: readHashKey(keyFile), outboxDir: join(dir, 'outbox'), replicas: 3, onReject: (line, reason) => { console.error(`line ${line}: ${reason}`) } })
    console.error(`published ${summary.published} changes (stream at seq ${summary.lastSeq})`)
    const sites: Array<readonly [string, 'lmdb' | 'native-free', string]> = [['node-lmdb', 'lmdb', cluster.urls], ['node-native-free', 'native-free', cluster.urls]]
    if (o.dr === true) {
      console.error('starting the DR site: a second 3-server cluster, leaf nodes to the primary …')
      drCluster = await LocalCluster.start({ dir: join(dir, 'nats-dr'), ...DR_SITE, leafRemotes: cluster.leafUrls })
      await mirrorStream({ servers: drCluster.urls, primaryDomain: DR_PRIMARY.domain, replicas: 3, replace: false, log: (l) => { console.error(l) } })
      sites.push(['node-dr', 'lmdb', drCluster.urls])
    }
    const nodes: Array<{ name: string, url: string, metrics: string, pid: number }> = []
    for (const [name, store, servers] of sites) {
      const child = spawn(process.execPath, [o.cli, 'serve', '--replicate', servers, '--node-id', name, '--data-dir', join(dir, name), '--hash-key-file', keyFile,
        '--store', store, '--port', '0', '--auth', 'none', '--threads', '1', '--log-level', 'info'], { stdio: ['ignore', 'pipe', 'inherit'] })
      children.push(child)
      const serving = await new Promise<{ url: string, metricsPort?: number }>((resolve, reject) => {
        let out = ''
        child.stdout!.on('data', (d: Buffer) => {
          out += d.toString()
          const line = out.split('\n').find((l) => l.includes('"msg":"serving"'))
          if (line !== undefined) resolve(JSON.parse(line) as { url: string, metricsPort?: number })
        })
        child.once('exit', (code) => { reject(new Error(`${name} exited with ${code ?? 'a signal'}:\n${out.slice(-2000)}`)) })
      })
      nodes.push({ name, url: serving.url, metrics: `http://127.0.0.1:${serving.metricsPort ?? 0}/metrics`, pid: child.pid ?? 0 })
    }
    const sample = lines.map((l) => JSON.parse(l) as { op: string, citizen?: { pin: string, fullName: string, dateOfBirth: string } }).find((c) => c.op === 'upsert')!.citizen!
    const body = JSON.stringify({ pin: sample.pin, attributes: { fullName: sample.fullName, dateOfBirth: sample.dateOfBirth } })
    const more = join(dir, 'more.ndjson')
    writeFileSync(more, syntheticChanges(1000, { seed: 2, firstSeq: summary.lastSeq + 1 }).join('\n') + '\n')
    console.log([
      '',
      `fleet demo: NATS at ${cluster.urls}`,
      ...nodes.map((n) => `  ${n.name} (pid ${n.pid}) serving at ${n.url}, metrics at ${n.metrics}`),
      '',
      'try:',
      ...nodes.map((n) => `  curl -s ${n.url}/v1/verify -H 'content-type: application/json' -d '${body}'`),
      `  npx idv fleet status --nats ${cluster.urls}`,
      `  npx idv publish ${more} --nats ${cluster.urls} --hash-key-file ${keyFile} --outbox ${join(dir, 'outbox')}`,
      `  npx idv snapshot publish --nats ${cluster.urls} --data-dir ${join(dir, 'node-lmdb')} --hash-key-file ${keyFile}`,
      `  kill -STOP ${nodes[0]!.pid}, publish the changes above, and see idv fleet status show ${nodes[0]!.name} behind; kill -CONT ${nodes[0]!.pid}: it catches up (idv_replication_lag_changes on its metrics) and reports ready (${nodes[0]!.url}/readyz)`,
      ...(drCluster === undefined
        ? []
        : [
            '',
            `DR site: NATS at ${drCluster.urls} (domain ${DR_SITE.domain}, leaf nodes to the primary), its mirror followed by node-dr`,
            `  npx idv fleet status --nats ${drCluster.urls}`,
            `  kill -9 the primary's nats-server processes (pids ${cluster.pids.join(' ')}), then promote the DR site:`,
            `  npx idv fleet promote --nats ${drCluster.urls}`,
            `  npx idv publish ${more} --nats ${drCluster.urls} --hash-key-file ${keyFile} --outbox ${join(dir, 'outbox')}`
          ]),
      'stop with Ctrl-C',
      ''
    ].join('\n'))
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve)
      process.once('SIGTERM', resolve)
    })
  } finally {
    await stopAll()
  }
}
