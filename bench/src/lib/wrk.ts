/**
 * Debian's `wrk` as the load generator of the pinned mode (bench:signed --pin):
 * a C generator fast enough that a uWS hello-world fills its core, which the
 * autocannon-based load processes cannot (STACK.md "Generators"). It sends one
 * fixed POST body over keep-alive connections, pinned with taskset to its own
 * core; the server under test is pinned to another (pinProcess).
 *
 * Installed by .ci/install-debian-packages (apt-get install wrk).
 */
import { execFileSync, spawn } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'

export interface WrkResult {
  readonly rps: number
  readonly requests: number
  readonly non2xx: number
  readonly socketErrors: number
}

/** Whether wrk and taskset are on the PATH. */
export function hasWrk (): boolean {
  try {
    execFileSync('wrk', ['--version'], { stdio: 'ignore' })
  } catch (err) {
    // wrk --version exits 1 after printing its version; only a missing binary throws ENOENT.
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false
  }
  try { execFileSync('taskset', ['--version'], { stdio: 'ignore' }) } catch { return false }
  return true
}

/** Pins every thread of a running process (and the threads it starts later) to one CPU. */
export function pinProcess (pid: number, cpu: number): void {
  execFileSync('taskset', ['-a', '-cp', String(cpu), String(pid)], { stdio: 'ignore' })
}

/** A Lua script for wrk that POSTs `body` (read from a file, so any bytes pass) as JSON. */
export function postScript (dir: string, name: string, body: Uint8Array): string {
  const bodyFile = join(dir, `${name}.body`)
  writeFileSync(bodyFile, body)
  const script = join(dir, `${name}.lua`)
  writeFileSync(script, [
    'wrk.method = "POST"',
    'wrk.headers["Content-Type"] = "application/json"',
    `local f = assert(io.open(${JSON.stringify(bodyFile)}, "rb"))`,
    'wrk.body = f:read("*a")',
    'f:close()',
    ''
  ].join('\n'))
  return script
}

/** Runs wrk on `cpu` for `seconds` with one thread and `connections` connections. */
export async function runWrk (url: string, script: string, cpu: number, connections: number, seconds: number): Promise<WrkResult> {
  const out = await new Promise<string>((resolve, reject) => {
    const child = spawn('taskset', ['-c', String(cpu), 'wrk', '-t1', `-c${connections}`, `-d${seconds}s`, '-s', script, url], { stdio: ['ignore', 'pipe', 'pipe'] })
    let text = ''
    child.stdout.on('data', (d: Buffer) => { text += d.toString() })
    child.stderr.on('data', (d: Buffer) => { text += d.toString() })
    child.once('error', reject)
    child.once('exit', (code) => { code === 0 ? resolve(text) : reject(new Error(`wrk exited with ${code}:\n${text}`)) })
  })
  const num = (re: RegExp): number => Number(re.exec(out)?.[1] ?? 0)
  const errors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out)
  return {
    rps: num(/Requests\/sec:\s+([\d.]+)/),
    requests: num(/(\d+) requests in/),
    non2xx: num(/Non-2xx or 3xx responses: (\d+)/),
    socketErrors: errors === null ? 0 : errors.slice(1).reduce((n, x) => n + Number(x), 0)
  }
}
