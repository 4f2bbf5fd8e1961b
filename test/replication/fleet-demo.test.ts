/**
 * `npm run fleet:demo` (`idv fleet demo`) as a newcomer runs it, bounded in
 * time: it starts, prints what to try, and what it prints works: the nodes
 * answer the printed verification (Node's fetch stands for the printed curl),
 * `idv fleet status` lists both nodes ready, the printed publish reaches both
 * nodes, the printed snapshot publish succeeds. Ctrl-C (SIGINT) then stops
 * every process the demo started (three nats-server, two nodes), and the demo
 * exits.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { packageRoot } from '../../src/paths.js'
import { runCli, waitFor } from '../helpers/fleet-node.js'
import { tempDir } from '../helpers/temp.js'

const CLI = join(packageRoot(), 'dist', 'src', 'app', 'cli.js')
let demo: ChildProcess | undefined
let descendants: number[] = []

afterAll(async () => {
  // Only if the test failed before its own SIGINT: stop what the demo left, by process id.
  if (demo !== undefined && demo.exitCode === null) demo.kill('SIGKILL')
  for (const pid of descendants) if (alive(pid)) process.kill(pid, 'SIGKILL')
})

/** The processes below `pid` (from /proc). */
function descendantsOf (pid: number): number[] {
  const parents = new Map<number, number[]>()
  for (const entry of readdirSync('/proc').filter((e) => /^\d+$/.test(e))) {
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8')
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
      parents.set(ppid, [...(parents.get(ppid) ?? []), Number(entry)])
    } catch { /* exited meanwhile */ }
  }
  const out: number[] = []
  const walk = (p: number): void => { for (const c of parents.get(p) ?? []) { out.push(c); walk(c) } }
  walk(pid)
  return out
}

function alive (pid: number): boolean {
  try {
    // A zombie has exited; only its parent's wait is missing.
    return !readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z ')
  } catch {
    return false
  }
}

describe('npm run fleet:demo', () => {
  it('prints what to try, what it prints works, and Ctrl-C stops every process it started', async () => {
    const dir = tempDir('idv-fleet-demo')
    demo = spawn(process.execPath, [CLI, 'fleet', 'demo', '--dir', dir, '--changes', '2000', '--fresh'], { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    demo.stdout!.on('data', (d) => { out += String(d) })
    demo.stderr!.on('data', (d) => { out += String(d) })
    const exited = new Promise<number | null>((resolve) => demo!.once('exit', (code) => { resolve(code) }))
    await waitFor('the demo to print what to try', () => out.includes('stop with Ctrl-C'), 60_000, () => out)
    descendants = descendantsOf(demo.pid!)
    expect(descendants.length, out).toBeGreaterThanOrEqual(5) // three nats-server, two nodes

    const natsUrls = out.match(/fleet demo: NATS at (\S+)/)![1]!
    const nodes = [...out.matchAll(/^ {2}(node-\S+) \(pid (\d+)\) serving at (http:\/\/\S+), metrics at (http:\/\/\S+)$/gm)].map((m) => ({ name: m[1]!, pid: Number(m[2]), url: m[3]!, metrics: m[4]! }))
    expect(nodes.map((n) => n.name)).toEqual(['node-lmdb', 'node-native-free'])
    // The printed pids are the demo's own children, and the metrics URLs serve the replication metrics.
    for (const n of nodes) expect(descendants).toContain(n.pid)
    for (const n of nodes) expect(await (await fetch(n.metrics)).text()).toContain('idv_replication_applied_sequence')
    // The printed curl commands, run with fetch.
    const curls = [...out.matchAll(/^ {2}curl -s (\S+) -H 'content-type: application\/json' -d '(.+)'$/gm)].map((m) => ({ url: m[1]!, body: m[2]! }))
    expect(curls.map((c) => c.url)).toEqual(nodes.map((n) => `${n.url}/v1/verify`))
    // The nodes fill from the feed after they start serving: the answer is a match once they have.
    for (const c of curls) {
      await waitFor(`${c.url} to answer a match`, async () => {
        const res = await fetch(c.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: c.body })
        return res.status === 200 && (await res.json() as { match: boolean }).match
      }, 30_000, () => out)
    }
    // The printed idv commands (`npx idv` is this build's cli.js).
    const commands = [...out.matchAll(/^ {2}npx idv (.+)$/gm)].map((m) => m[1]!.split(' '))
    expect(commands.map((c) => c[0])).toEqual(['fleet', 'publish', 'snapshot'])
    expect(commands[0]).toEqual(['fleet', 'status', '--nats', natsUrls])
    await waitFor('fleet status to list both nodes ready at seq 2000', async () => {
      const status = await runCli(commands[0]!)
      return nodes.every((n) => new RegExp(`^${n.name}\\s+2000\\s+0\\s+[\\d.]+\\s+-\\s+ready$`, 'm').test(status.stdout))
    }, 30_000, () => out)
    const published = await runCli(commands[1]!)
    expect(published.code, published.stderr).toBe(0)
    expect(published.stdout).toContain('published 1000 changes (stream at seq 3000)')
    await waitFor('both nodes to apply the published changes', async () => {
      const status = await runCli(commands[0]!)
      return nodes.every((n) => new RegExp(`^${n.name}\\s+3000\\s+0\\s+[\\d.]+\\s+-\\s+ready$`, 'm').test(status.stdout))
    }, 30_000, () => out)
    const snapshot = await runCli(commands[2]!)
    expect(snapshot.code, snapshot.stderr).toBe(0)
    expect(snapshot.stdout).toMatch(/published lmdb-0+3000: \d+ citizens at sequence 3000/)

    // Ctrl-C: the demo stops everything it started and exits, in bounded time.
    demo.kill('SIGINT')
    const code = await Promise.race([exited, new Promise((resolve) => setTimeout(() => { resolve('timeout') }, 20_000))])
    expect(code).toBe(0)
    expect(descendants.filter(alive)).toEqual([])
  }, 180_000)
})
