/**
 * Every command against every bad input a new or hostile user gives it: one
 * line on stderr naming the problem, exit 2 (1 where the command ran and the
 * outcome is negative), never a stack trace, never a crash. Index directories
 * that are files, random bytes, cut-short copies, empty or missing are refused
 * before an engine maps them (they used to segfault, SIGBUS on the second
 * request, or serve an empty index answering every citizen "unknown").
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { copyFileSync, cpSync, mkdirSync, readdirSync, truncateSync, writeFileSync, statSync } from 'node:fs'
import { createServer as createNetServer, type AddressInfo, type Server, type Socket } from 'node:net'
import { randomBytes } from 'node:crypto'
import { gzipSync } from 'node:zlib'
import { join } from 'node:path'
import { tempDir } from '../helpers/temp.js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { packageRoot } from '../../src/paths.js'

const CLI = join(packageRoot(), 'dist', 'src', 'app', 'cli.js')
const dir = tempDir('idv-cli-inputs')
const at = (...p: string[]): string => join(dir, ...p)
const key = at('hash.key')
let silent: Server
const held: Socket[] = []
let silentPort: number
let closedPort: number
let served: { child: ChildProcess, port: number } | undefined

interface Run { code: number | null, signal: NodeJS.Signals | null, stdout: string, stderr: string }

async function run (args: string[], env: Record<string, string> = {}): Promise<Run> {
  const child = spawn(process.execPath, [CLI, ...args], { cwd: dir, env: { ...process.env, IDV_METRICS_PORT: '0', ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''; let stderr = ''
  child.stdout.on('data', (d) => { stdout += d })
  child.stderr.on('data', (d) => { stderr += d })
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.on('exit', (c, s) => { resolve([c, s]) }))
  return { code, signal, stdout, stderr }
}

async function listen (server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return (server.address() as AddressInfo).port
}

beforeAll(async () => {
  expect((await run(['keygen', '--out', key])).code).toBe(0)
  expect((await run(['gen', '--count', '300', '--out', at('pop.ndjson')])).code).toBe(0)
  expect((await run(['load', at('pop.ndjson'), '--data-dir', at('good'), '--hash-key-file', key])).code).toBe(0)
  expect((await run(['load', at('pop.ndjson'), '--data-dir', at('good-nf'), '--store', 'native-free', '--hash-key-file', key])).code).toBe(0)
  writeFileSync(at('a-file'), 'not an index\n')
  mkdirSync(at('random'))
  writeFileSync(at('random', 'data.mdb'), randomBytes(200_000))
  mkdirSync(at('cut'))
  copyFileSync(at('good', 'data.mdb'), at('cut', 'data.mdb'))
  truncateSync(at('cut', 'data.mdb'), Math.floor(statSync(at('good', 'data.mdb')).size / 2))
  cpSync(at('good-nf'), at('cut-nf'), { recursive: true })
  const segment = readdirSync(at('cut-nf')).find((n) => n.startsWith('seg-'))!
  truncateSync(at('cut-nf', segment), Math.floor(statSync(at('cut-nf', segment)).size / 2))
  mkdirSync(at('empty'))
  writeFileSync(at('binary.ndjson'), randomBytes(4096))
  writeFileSync(at('pop.ndjson.gz'), gzipSync(Buffer.from('{"pin":"001099012345"}\n')))
  writeFileSync(at('blank.ndjson'), '')
  mkdirSync(at('a-dir'))
  // A server that accepts and never answers, and a port nothing listens on.
  silent = createNetServer((socket) => { held.push(socket) })
  silentPort = await listen(silent)
  const probe = createNetServer()
  closedPort = await listen(probe)
  await new Promise((resolve) => probe.close(resolve))
}, 120_000)

afterAll(async () => {
  served?.child.kill('SIGKILL')
  for (const socket of held) socket.destroy()
  await new Promise((resolve) => silent?.close(resolve))
})

/** What each failure must look like: one line, no stack, no install paths (a progress bar may have run before it). */
function expectOneLine (r: Run, code: number, says: RegExp): void {
  expect(r.signal, r.stderr).toBeNull()
  expect(r.code, r.stderr).toBe(code)
  const lines = r.stderr.trim().split('\n').filter((l) => !PROGRESS.test(l) && l !== '')
  expect(lines, r.stderr).toHaveLength(1)
  expect(lines[0]).toMatch(/^idv: /)
  expect(lines[0]).toMatch(says)
  expect(r.stderr).not.toMatch(/\n\s+at |node_modules|file:\/\//)
}
const PROGRESS = /^[░█]+ \d+% \|/

const serve = (dataDir: string, ...more: string[]): string[] => ['serve', '--data-dir', dataDir, '--hash-key-file', key, '--port', '0', '--auth', 'none', ...more]
const call = (...more: string[]): string[] => ['call', '--key-id', 'k', '--key', key, ...more]

describe('one line and exit 2 for every bad input', () => {
  const cases: Array<[string, () => string[], number, RegExp]> = [
    ['serve: --data-dir is a regular file', () => serve(at('a-file')), 2, /a-file is not a directory/],
    ['serve: data.mdb is random bytes', () => serve(at('random')), 2, /not an LMDB index: no LMDB magic number/],
    ['serve: data.mdb cut short (an incomplete copy)', () => serve(at('cut')), 2, /cut short: \d+ bytes, but its own metadata says at least \d+/],
    ['serve: a missing --data-dir (a typo)', () => serve(at('no-such-index')), 2, /no index at .*no-such-index/],
    ['serve: an empty directory', () => serve(at('empty')), 2, /holds no citizens.*--allow-empty/],
    ['serve: native-free segment cut short', () => serve(at('cut-nf'), '--store', 'native-free'), 2, /cannot open the native-free index .* corrupt: length/],
    ['serve: native-free files opened as LMDB', () => serve(at('good-nf')), 2, /holds a native-free index, not LMDB: use --store native-free/],
    ['serve: an LMDB index opened as native-free', () => serve(at('good'), '--store', 'native-free'), 2, /holds an LMDB index, not native-free: use --store lmdb/],
    ['serve: a setting with a bad value names a flag that exists', () => serve(at('good'), '--max-batch-items', '0'), 2, /IDV_MAX_BATCH_ITEMS \(--max-batch-items\) must be an integer/],
    ['demo: --data-dir is a regular file', () => ['demo', '--data-dir', at('a-file'), '--port', '0'], 2, /a-file is not a directory/],
    ['load: a missing input file', () => ['load', at('missing.ndjson'), '--data-dir', at('l1'), '--hash-key-file', key], 2, /no such file or directory: .*missing\.ndjson/],
    ['load: a directory as input', () => ['load', at('a-dir'), '--data-dir', at('l1'), '--hash-key-file', key], 2, /a-dir is not a regular file/],
    ['load: into random bytes', () => ['load', at('pop.ndjson'), '--data-dir', at('random'), '--hash-key-file', key], 2, /not an LMDB index/],
    ['load: a missing hash key', () => ['load', at('pop.ndjson'), '--data-dir', at('l1'), '--hash-key-file', at('nokey')], 2, /hash key file .*nokey cannot be read.*idv keygen/],
    ['load: a binary file loads nothing', () => ['load', at('binary.ndjson'), '--data-dir', at('l2'), '--hash-key-file', key], 1, /nothing loaded from .*binary\.ndjson: it is binary|nothing loaded from .*binary\.ndjson: it is not UTF-8/],
    ['load: a gzip file of no valid record loads nothing', () => ['load', at('pop.ndjson.gz'), '--data-dir', at('l3'), '--hash-key-file', key], 1, /nothing loaded .*gzip-compressed, and no line of its content holds a valid citizen record/],
    ['load: an empty file loads nothing', () => ['load', at('blank.ndjson'), '--data-dir', at('l4'), '--hash-key-file', key], 1, /nothing loaded .*the file is empty/],
    ['keygen: an existing output', () => ['keygen', '--out', key], 2, /already exists and a key file is never overwritten/],
    ['keygen: a missing parent directory', () => ['keygen', '--out', at('no', 'such', 'k.key')], 2, /the directory .*no\/such does not exist/],
    ['gen: an existing output', () => ['gen', '--count', '5', '--out', at('pop.ndjson')], 2, /pop\.ndjson already exists and is never overwritten/],
    ['gen: a missing parent directory', () => ['gen', '--count', '5', '--out', at('no', 'pop.ndjson')], 2, /the directory .*no does not exist/],
    ['call: a refused connection', () => call('--url', `http://127.0.0.1:${closedPort}`, '/v1/verify', '{}'), 2, /connection refused by 127\.0\.0\.1:\d+: is the service running/],
    ['call: a missing key file', () => ['call', '--key-id', 'k', '--key', at('nokey'), '/v1/verify', '{}'], 2, /no such file or directory: .*nokey/],
    ['call: a directory as key file', () => ['call', '--key-id', 'k', '--key', at('a-dir'), '/v1/verify', '{}'], 2, /--key .*a-dir is a directory, not a key file/],
    ['call: a key file that is no key', () => ['call', '--key-id', 'k', '--key', at('pop.ndjson'), '/v1/verify', '{}'], 2, /holds neither a PEM private key nor an HMAC secret/],
    ['call: an invalid --url', () => call('--url', 'http//127.0.0.1', '/v1/verify', '{}'), 2, /--url http\/\/127\.0\.0\.1 is not a valid URL/],
    ['call: an absolute URL as the path', () => call('http://elsewhere.example/v1/verify', '{}'), 2, /is a URL, not a path/],
    ['call: no answer within --timeout', () => call('--url', `http://127.0.0.1:${silentPort}`, '--timeout', '1', '/v1/verify', '{}'), 2, /no whole answer from .* within 1 s \(--timeout\)/],
    ['receipt verify: a missing file', () => ['receipt', 'verify', at('no-answer.json'), '--jwks', key], 2, /cannot read .*no-answer\.json \(ENOENT\)/]
  ]
  it.each(cases)('%s', async (_name, args, code, says) => {
    expectOneLine(await run(args()), code, says)
  }, 60_000)

  it('--debug adds the stack trace to the one line', async () => {
    const r = await run(['--debug', ...serve(at('a-file'))])
    expect(r.code).toBe(2)
    expect(r.stderr.split('\n')[0]).toMatch(/^idv: .*a-file is not a directory/)
    expect(r.stderr).toMatch(/\n\s+at /)
  })
})

describe('serving', () => {
  it('refuses a port another idv serve already serves, unless --reuse-port; an explicit empty index with --allow-empty', async () => {
    // On a port given by number (uWS listens on port 0 without SO_REUSEPORT, so that one is never shared).
    const probe = createNetServer()
    const port = await listen(probe)
    await new Promise((resolve) => probe.close(resolve))
    const onPort = (args: string[]): string[] => args.map((a) => a === '0' ? String(port) : a)
    const first = spawn(process.execPath, [CLI, ...onPort(serve(at('good'), '--threads', '1'))], { cwd: dir, env: { ...process.env, IDV_METRICS_PORT: '0' }, stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    first.stdout!.on('data', (d) => { out += d })
    const deadline = Date.now() + 30_000
    while (!out.includes('"msg":"serving"')) {
      if (Date.now() > deadline || first.exitCode !== null) throw new Error(`did not serve: ${out}`)
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    served = { child: first, port }
    const second = await run(['serve', '--data-dir', at('good-nf'), '--store', 'native-free', '--hash-key-file', key, '--port', String(port), '--auth', 'none'])
    expectOneLine(second, 2, new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port}: the port is in use by another process.*--reuse-port`))
    const shared = spawn(process.execPath, [CLI, ...onPort(serve(at('good'), '--threads', '1')), '--reuse-port'], { cwd: dir, env: { ...process.env, IDV_METRICS_PORT: '0' }, stdio: ['ignore', 'pipe', 'pipe'] })
    let sharedLog = ''
    shared.stdout!.on('data', (d) => { sharedLog += d })
    shared.stderr!.on('data', (d) => { sharedLog += d })
    while (!sharedLog.includes('"msg":"serving"')) {
      if (shared.exitCode !== null || Date.now() > deadline) throw new Error(`--reuse-port did not serve: ${sharedLog}`)
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    shared.kill('SIGTERM')
    await new Promise((resolve) => shared.on('exit', resolve))

    // The answer was given (and counted) even when it cannot be saved: printed first, then the one-line failure.
    const saved = await run(call('--url', `http://127.0.0.1:${port}`, '--save', at('a-dir'), '/v1/verify', '{"pin":"001099012345","attributes":{"gender":"male"}}'))
    expect(saved.code).toBe(2)
    expect(JSON.parse(saved.stdout)).toMatchObject({ citizen: expect.any(String) })
    expect(saved.stderr.trim()).toMatch(/^idv: the answer above could not be saved: .*a-dir is a directory, not a file$/)
    first.kill('SIGTERM')
    await new Promise((resolve) => first.on('exit', resolve))
    served = undefined

    const empty = spawn(process.execPath, [CLI, ...serve(at('empty'), '--allow-empty', '--threads', '1')], { cwd: dir, env: { ...process.env, IDV_METRICS_PORT: '0' }, stdio: ['ignore', 'pipe', 'pipe'] })
    let log = ''
    empty.stdout!.on('data', (d) => { log += d })
    while (!log.includes('"msg":"serving"')) {
      if (empty.exitCode !== null) throw new Error(`--allow-empty did not serve: ${log}`)
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    expect(log).toContain('"entries":0')
    empty.kill('SIGTERM')
    await new Promise((resolve) => empty.on('exit', resolve))
  }, 60_000)
})
