/**
 * The `idv` command as an operator runs it (built code, real processes):
 * the demo's two-command promise, gen → keygen → load → serve, signals, and the
 * refusal to serve on uWebSockets.js's slow JavaScript fallback. Also the one
 * command beside it, `npm run bench --` (the benchmarks' own package).
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { createServer as createNetServer, type AddressInfo } from 'node:net'
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { tempDir } from '../helpers/temp.js'
import { beforeAll, describe, expect, it } from 'vitest'
import { packageRoot } from '../../src/paths.js'

const CLI = join(packageRoot(), 'dist', 'src', 'app', 'cli.js')
let dir: string
beforeAll(() => { dir = tempDir('idv-cli') })

interface Run { code: number | null, stdout: string, stderr: string }

async function run (args: string[], env: Record<string, string> = {}): Promise<Run> {
  return await finished(spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] }))
}

/** `npm run bench -- ARGS` from the repository root, as the README says to run the SLO suite. */
async function npmRunBench (args: string[]): Promise<Run> {
  return await finished(spawn('npm', ['run', '--silent', 'bench', '--', ...args], { cwd: packageRoot(), env: process.env, stdio: ['ignore', 'pipe', 'pipe'] }))
}

async function finished (child: ChildProcess): Promise<Run> {
  let stdout = ''; let stderr = ''
  child.stdout!.on('data', (d) => { stdout += d })
  child.stderr!.on('data', (d) => { stderr += d })
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve))
  return { code, stdout, stderr }
}

/** Starts a long-running command and waits until its stdout matches `ready`. */
async function start (args: string[], env: Record<string, string>, ready: RegExp): Promise<{ child: ChildProcess, out: () => string, match: RegExpMatchArray }> {
  const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  child.stdout!.on('data', (d) => { out += d })
  child.stderr!.on('data', (d) => { out += d })
  const deadline = Date.now() + 60_000
  for (;;) {
    const m = out.match(ready)
    if (m !== null) return { child, out: () => out, match: m }
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`did not become ready:\n${out}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

async function stop (child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve))
  child.kill(signal)
  return await exited
}

describe('idv', () => {
  it('demo: fills an empty index once, prints a signed call that matches with a verifiable receipt, stops cleanly on SIGTERM', async () => {
    const dataDir = join(dir, 'demo', 'data')
    const env = { IDV_DATA_DIR: dataDir, IDV_PORT: '0', IDV_DEMO_CITIZENS: '3000' }
    const first = await start(['demo'], env, /npx idv call --url (\S+) --key-id (\S+) --key (\S+) (\S+) '(.+)'/)
    const [, url, keyId, key, path, body] = first.match
    expect(first.out()).toContain('loaded 3000 records')
    // The printed command, as a user pastes it (npx idv is this CLI).
    const answerFile = join(dir, 'answer.json')
    const called = await run(['call', '--url', url!, '--key-id', keyId!, '--key', key!, path!, body!, '--save', answerFile])
    expect(called.code, called.stderr).toBe(0)
    const answer = JSON.parse(called.stdout)
    expect(answer.match).toBe(true)
    expect(answer.receipt.signedRoot).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/)
    const verified = await run(['receipt', 'verify', answerFile, '--data-dir', dataDir])
    expect(verified.code, verified.stdout + verified.stderr).toBe(0)
    expect(verified.stdout).toContain('verified: request')
    // The banner's citizen is registered in the 2025 units; asked with the old address, and with the card's QR (issue 25).
    const oldForm = /\/v1\/verify '(\{[^']*placeOfResidence[^']*\})'/.exec(first.out())
    expect(oldForm, first.out()).not.toBeNull()
    const reorganised = await run(['call', '--url', url!, '--key-id', keyId!, '--key', key!, '/v1/verify', oldForm![1]!])
    expect(reorganised.code, reorganised.stderr).toBe(0)
    expect(JSON.parse(reorganised.stdout)).toMatchObject({ match: true, attributes: { placeOfResidence: 'match_reorganised' } })
    const qr = /--qr '([^']+)' \/v1\/card\/qr\/verify/.exec(first.out())
    expect(qr, first.out()).not.toBeNull()
    const scanned = await run(['call', '--url', url!, '--key-id', keyId!, '--key', key!, '--qr', qr![1]!, '/v1/card/qr/verify'])
    expect(scanned.code, scanned.stderr).toBe(0)
    expect(JSON.parse(scanned.stdout)).toMatchObject({ match: true, attributes: { fullName: 'match', placeOfResidence: 'match_reorganised', cardIssueDate: 'match' } })
    // Unsigned requests are refused.
    const unsigned = await fetch(`${url!}${path!}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: body! })
    expect(unsigned.status).toBe(401)
    expect(((await unsigned.json()) as any).code).toBe('IDV_ERR_SIGNATURE_MISSING')
    expect(await stop(first.child)).toBe(0)
    // Keys sit next to the data, owner-only.
    expect((await stat(`${dataDir}.hash-key`)).mode & 0o777).toBe(0o600)
    expect((await stat(`${dataDir}.demo-party.pem`)).mode & 0o777).toBe(0o600)
    expect((await stat(`${dataDir}.receipt-keys.json`)).mode & 0o777).toBe(0o600)

    const second = await start(['demo'], env, /idv is serving at (\S+)/)
    expect(second.out()).not.toContain('generating')
    expect(await stop(second.child, 'SIGINT')).toBe(0)
  }, 90_000)

  it('gen → keygen → load → serve', async () => {
    const file = join(dir, 'pop.ndjson')
    const key = join(dir, 'k', 'hash.key')
    const dataDir = join(dir, 'served')
    expect((await run(['gen', '--count', '2000', '--seed', '3', '--out', file])).code).toBe(0)
    // keygen refuses a missing directory (test/integration/cli-inputs.test.ts): make it first.
    await mkdir(join(dir, 'k'))
    expect((await run(['keygen', '--out', key])).code).toBe(0)
    expect((await run(['keygen', '--out', key])).code).not.toBe(0)
    const load = await run(['load', file, '--data-dir', dataDir, '--hash-key-file', key])
    expect(load.code).toBe(0)
    expect(load.stdout).toMatch(/loaded 2000 records/)
    expect(load.stdout).toMatch(/bytes per citizen/)
    const serve = await start(['serve', '--data-dir', dataDir, '--hash-key-file', key, '--port', '0', '--auth', 'none'], {}, /"url":"(http[^"]+)"/)
    const first = (await run(['gen', '--count', '1', '--seed', '3', '--out', join(dir, 'one.ndjson')])).code
    expect(first).toBe(0)
    const c = JSON.parse((await import('node:fs')).readFileSync(join(dir, 'one.ndjson'), 'utf8'))
    const res = await fetch(`${serve.match[1]!}/v1/verify`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ pin: c.pin, attributes: { fullName: c.fullName } }) })
    expect(((await res.json()) as any).attributes.fullName).toBe('match')
    expect(serve.out()).not.toContain(c.pin)
    expect(await stop(serve.child)).toBe(0)
  }, 90_000)

  it('serve logs how many connections its open-file limit allows, and warns when that is few', async () => {
    const serve = async (limit?: number): Promise<{ out: string, code: number | null }> => {
      // Node raises the soft limit to the hard one itself, so the test lowers both.
      const command = `${limit === undefined ? '' : `ulimit -n ${limit} && `}exec "${process.execPath}" "${CLI}" serve --data-dir "${join(dir, 'served')}" --hash-key-file "${join(dir, 'k', 'hash.key')}" --port 0 --auth none --threads 1`
      const child = spawn('bash', ['-c', command], { stdio: ['ignore', 'pipe', 'pipe'] })
      let out = ''
      child.stdout.on('data', (d) => { out += d })
      child.stderr.on('data', (d) => { out += d })
      const deadline = Date.now() + 60_000
      while (!out.includes('"msg":"serving"') && child.exitCode === null && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50))
      await new Promise((resolve) => setTimeout(resolve, 100)) // the warning follows the serving line
      return { out, code: child.exitCode ?? await stop(child) }
    }
    // One server thread: each thread holds descriptors of its own, and this must not depend on the core count.
    const servingLine = (out: string): { openFileLimit: number, connectionsAllowed: number } => {
      const line = out.split('\n').find((l) => l.includes('"msg":"serving"'))
      if (line === undefined) throw new Error(`no serving line:\n${out}`)
      return JSON.parse(line)
    }
    const small = await serve(400)
    expect(small.code).toBe(0)
    const line = servingLine(small.out)
    expect(line.openFileLimit).toBe(400)
    // Less what the process already holds (store, pipes, listening sockets), and not by much.
    expect(line.connectionsAllowed).toBeLessThan(400)
    expect(line.connectionsAllowed).toBeGreaterThan(300)
    expect(small.out).toContain(`"msg":"the open-file limit leaves room for only ${line.connectionsAllowed} connections`)
    // This machine's own limit (20,000 where the project runs): a warning only below 10,000 connections.
    const usual = await serve()
    expect(usual.out.includes('leaves room for only')).toBe(servingLine(usual.out).connectionsAllowed < 10_000)
  }, 90_000)

  it('says in one line, exit 2, when the public or the metrics port is taken', async () => {
    const holder = createNetServer()
    await new Promise<void>((resolve) => { holder.listen(0, '127.0.0.1', resolve) })
    const taken = (holder.address() as AddressInfo).port
    try {
      const args = ['serve', '--data-dir', join(dir, 'served'), '--hash-key-file', join(dir, 'k', 'hash.key'), '--auth', 'none', '--threads', '1']
      const metrics = await run([...args, '--port', '0'], { IDV_METRICS_PORT: String(taken) })
      expect(metrics.code).toBe(2)
      expect(metrics.stderr).toContain(`idv: cannot listen on 127.0.0.1:${taken} for metrics: the port is in use (another idv serve on this host?`)
      expect(metrics.stderr).not.toMatch(/^\s+at /m)
      const pub = await run([...args, '--port', String(taken)], { IDV_METRICS_PORT: '0' })
      expect(pub.code).toBe(2)
      expect(pub.stderr).toContain(`idv: cannot listen on 127.0.0.1:${taken}: the port is in use by another process`)
      expect(pub.stderr).not.toMatch(/^\s+at /m)
    } finally {
      holder.close()
    }
  }, 60_000)

  it('refuses to serve with a different hash key than the index was built with', async () => {
    const other = join(dir, 'other.key')
    await run(['keygen', '--out', other])
    const r = await run(['serve', '--data-dir', join(dir, 'served'), '--hash-key-file', other, '--port', '0'])
    expect(r.code).toBe(2)
    expect(r.stderr).toContain('hash key does not match')
  })

  it('refuses to serve on the slow JavaScript fallback of uWebSockets.js', async () => {
    const r = await run(['serve', '--data-dir', join(dir, 'served'), '--hash-key-file', join(dir, 'k', 'hash.key'), '--port', '0'], { UWS_USE_FALLBACK: '1' })
    expect(r.code).toBe(2)
    expect(r.stderr).toContain('refusing to serve on the slow fallback')
  })

  it('exits 2 with a message for a bad flag value, not a stack trace', async () => {
    const r = await run(['load', 'nothing.ndjson', '--threads', '0'])
    expect(r.code).toBe(2)
    expect(r.stderr).toContain('must be at least 1')
    expect(r.stderr).not.toContain('    at ')
  })

  it('refuses the developer-only --auth none on a non-loopback address', async () => {
    const r = await run(['serve', '--data-dir', join(dir, 'served'), '--auth', 'none', '--host', '0.0.0.0', '--port', '0'])
    expect(r.code).toBe(2)
    expect(r.stderr).toContain('IDV_AUTH=none')
    expect(r.stderr).toContain('loopback')
  })

  it('refuses to serve signed requests without a party registry, saying how to make one', async () => {
    const r = await run(['serve', '--data-dir', join(dir, 'served'), '--hash-key-file', join(dir, 'k', 'hash.key'), '--port', '0', '--parties-file', join(dir, 'none.yaml')])
    expect(r.code).toBe(2)
    expect(r.stderr).toContain('idv party add')
  })

  it('party add: refuses the index\'s hash key as an HMAC secret, --hmac makes one and says where; the registry is 0600', async () => {
    const dataDir = join(dir, 'parties18', 'data')
    await mkdir(join(dir, 'parties18'), { recursive: true })
    expect((await run(['keygen', '--out', `${dataDir}.hash-key`])).code).toBe(0)
    const base = ['party', 'add', '--data-dir', dataDir, '--attributes', 'fullName', '--rate', '5']
    const refused = await run([...base, '--id', 'bank', '--hmac-secret-file', `${dataDir}.hash-key`])
    expect(refused.code).toBe(2)
    expect(refused.stderr).toContain('hash key')
    expect(refused.stderr).not.toContain('    at ')
    // a copy elsewhere is refused too: the contents are compared
    const copy = join(dir, 'parties18', 'bank.secret')
    await writeFile(copy, await readFile(`${dataDir}.hash-key`), { mode: 0o600 })
    expect((await run([...base, '--id', 'bank', '--hmac-secret-file', copy])).code).toBe(2)
    const made = await run([...base, '--id', 'bank', '--hmac'])
    expect(made.code, made.stderr).toBe(0)
    const secret = `${dataDir}.parties.bank.hmac-secret`
    expect(made.stdout).toContain(secret)
    expect((await stat(secret)).mode & 0o777).toBe(0o600)
    expect(await readFile(secret, 'utf8')).toMatch(/^[0-9a-f]{64}\n$/)
    expect((await stat(`${dataDir}.parties.yaml`)).mode & 0o777).toBe(0o600)
    expect((await run([...base, '--id', 'bank', '--hmac'])).code).toBe(2) // the party exists; its secret is kept
    expect(await readFile(secret, 'utf8')).toMatch(/^[0-9a-f]{64}\n$/)
    // Rotating to the hash key is refused as adding it is.
    const rotated = await run(['party', 'rotate-key', 'bank', '--data-dir', dataDir, '--hmac-secret-file', copy])
    expect(rotated.code).toBe(2)
    expect(rotated.stderr).toContain('hash key')
  })

  it('bench: the SLO suite is `npm run bench --`, not an idv command (usage errors exit 2)', async () => {
    const help = await npmRunBench(['--help'])
    expect(help.code).toBe(0)
    expect(help.stdout + help.stderr).toContain('access-points-40k')
    const bad = await npmRunBench(['no-such-scenario'])
    expect(bad.code).toBe(2)
    // The benchmarks are their own package (bench/): the product has no bench command.
    const gone = await run(['bench', 'portal-verify'])
    expect(gone.code).not.toBe(0)
    expect(gone.stderr).toContain("unknown command 'bench'")
  })

  it('reports every bad setting at once', async () => {
    const r = await run(['serve', '--port', '99999', '--store', 'oracle'], { IDV_MAX_BODY_BYTES: 'lots' })
    expect(r.code).toBe(2)
    expect(r.stderr).toContain('IDV_PORT')
    expect(r.stderr).toContain('IDV_STORE')
    expect(r.stderr).toContain('IDV_MAX_BODY_BYTES')
  })
})
