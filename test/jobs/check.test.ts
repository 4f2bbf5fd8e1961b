/**
 * `idv check` as an operator runs it (the built command, a real signed
 * service): a CSV export (BOM, CRLF, quoted fields) streamed through a TCP
 * proxy that cuts the connection at random points, resumed with --resume
 * until done: every row answered exactly once, in order, the same answers as
 * an uncut run, every answer covered by a receipt that `idv receipt verify
 * --rows` checks. Also: a job run end to end, CSV output, and the exit code of
 * a refused key.
 */
import { spawn } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { createServer, connect, type Server, type Socket } from 'node:net'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { packageRoot } from '../../src/paths.js'
import { startSignedWorld, type SignedWorld } from './signed-world.js'

const CLI = join(packageRoot(), 'dist', 'src', 'app', 'cli.js')
let world: SignedWorld
let csv: string
const ROWS = 3000

beforeAll(async () => {
  world = await startSignedWorld({ receiptRows: 250 })
  const cs = world.server.citizens
  const lines = ['ref,pin,fullName,dateOfBirth,gender']
  for (let i = 0; i < ROWS; i++) {
    const c = cs[i % cs.length]!
    const name = i % 7 === 3 ? c.fullName.toUpperCase() : c.fullName
    const dob = i % 11 === 5 ? '1900-01-01' : c.dateOfBirth
    // Quoted fields, one with a comma and one with a doubled quote, and a row with an invalid PIN.
    lines.push(`"r${i},x",${i % 97 === 13 ? '12345' : c.pin},"${name.replace(/"/g, '""')}",${dob},${c.gender}`)
  }
  csv = join(world.dir, 'subscribers.csv')
  writeFileSync(csv, `\uFEFF${lines.join('\r\n')}\r\n`)
  writeFileSync(join(world.dir, 'jwks.json'), JSON.stringify(await (await fetch(`${world.server.url}/v1/keys`)).json()))
})
afterAll(async () => { await world.server.close() })

interface Run { code: number | null, stdout: string, stderr: string }

async function idv (args: string[]): Promise<Run> {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d) => { stdout += d })
  child.stderr.on('data', (d) => { stderr += d })
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve))
  return { code, stdout, stderr }
}

function checkArgs (url: string, out: string, party = 'telco-a', extra: string[] = []): string[] {
  return ['check', csv, '--url', url, '--key-id', `${party}-k1`, '--key', world.parties[party]!.keyFile, '--out', out, '--no-progress', ...extra]
}

/** A TCP proxy that cuts each of the first `cuts` connections after a random number of answer bytes. */
async function cuttingProxy (target: number, cuts: number): Promise<{ url: string, cutsMade: () => number, close: () => Promise<void> }> {
  let made = 0
  const sockets = new Set<Socket>()
  const server: Server = createServer((client) => {
    const upstream = connect(target, '127.0.0.1')
    sockets.add(client); sockets.add(upstream)
    const cutAfter = made < cuts ? 20_000 + Math.floor(Math.random() * 200_000) : Infinity
    let seen = 0
    client.on('data', (d) => { upstream.write(d) })
    upstream.on('data', (d) => {
      seen += d.length
      if (seen > cutAfter) {
        made++
        // Part of this read goes through, then both sides are cut.
        client.write(d.subarray(0, Math.floor(d.length / 2)))
        client.destroy(); upstream.destroy()
        return
      }
      client.write(d)
    })
    const close = (): void => { client.destroy(); upstream.destroy() }
    client.on('error', close); upstream.on('error', close); client.on('close', close); upstream.on('close', close)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as { port: number }).port
  return {
    url: `http://127.0.0.1:${port}`,
    cutsMade: () => made,
    close: async () => { for (const s of sockets) s.destroy(); await new Promise((resolve) => server.close(resolve)) }
  }
}

function results (file: string): Array<Record<string, unknown>> {
  return readFileSync(file, 'utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>)
}

describe('idv check', () => {
  it('streams a CSV export through cut connections and, resumed, answers every row exactly once with receipts that verify', async () => {
    const clean = join(world.dir, 'clean.ndjson')
    const direct = await idv(checkArgs(world.server.url, clean))
    expect(direct.stderr).toBe('')
    expect(direct.code).toBe(0)
    expect(direct.stdout).toMatch(new RegExp(`^${ROWS} rows answered`))
    const want = results(clean)
    expect(want.map((r) => r.ref)).toEqual(Array.from({ length: ROWS }, (_, i) => `r${i},x`))
    expect(want.filter((r) => 'error' in r).length).toBe(Math.ceil((ROWS - 13) / 97))

    const proxy = await cuttingProxy(world.server.port, 4)
    const out = join(world.dir, 'cut.ndjson')
    let run = await idv(checkArgs(proxy.url, out, 'telco-a', ['--retries', '0']))
    let runs = 1
    while (run.code !== 0 && runs < 12) {
      expect(run.code).toBe(3)
      expect(run.stderr).toMatch(/connection lost after \d+ of 3000 rows .*run the same command with --resume/)
      run = await idv(checkArgs(proxy.url, out, 'telco-a', ['--retries', '0', '--resume']))
      runs++
    }
    await proxy.close()
    expect(run.code).toBe(0)
    // A resumed run with fewer answer bytes left than its cut point finishes uncut.
    expect(proxy.cutsMade()).toBeGreaterThanOrEqual(1)
    expect(runs).toBe(proxy.cutsMade() + 1)
    // Every row exactly once, in order, with the answers of the uncut run.
    expect(results(out)).toEqual(want)
    const verified = await idv(['receipt', 'verify', `${out}.receipts.ndjson`, '--rows', out, '--jwks', join(world.dir, 'jwks.json')])
    expect(verified.stdout.trim()).toBe(`verified: ${ROWS} rows under ${Math.ceil(ROWS / 250)} receipts`)
    expect(verified.code).toBe(0)
    // An edited answer is caught.
    const edited = join(world.dir, 'edited.ndjson')
    writeFileSync(edited, readFileSync(out, 'utf8').replace('"match":false', '"match":true'))
    const refused = await idv(['receipt', 'verify', `${out}.receipts.ndjson`, '--rows', edited, '--jwks', join(world.dir, 'jwks.json')])
    expect(refused.code).toBe(1)
    expect(refused.stdout).toMatch(/^NOT VERIFIED: rows \d+-\d+ are not the ones the receipt on line \d+ signed/)
  }, 60_000)

  it('runs the file as a job (chunked upload, download) with the same answers, and writes CSV on request', async () => {
    const out = join(world.dir, 'job.ndjson')
    const run = await idv(checkArgs(world.server.url, out, 'telco-a', ['--job']))
    expect(run.stderr).toBe('')
    expect(run.code).toBe(0)
    expect(results(out)).toEqual(results(join(world.dir, 'clean.ndjson')))
    const verified = await idv(['receipt', 'verify', `${out}.receipts.ndjson`, '--rows', out, '--jwks', join(world.dir, 'jwks.json')])
    expect(verified.code).toBe(0)
    const csvOut = join(world.dir, 'answers.csv')
    const asCsv = await idv(checkArgs(world.server.url, csvOut, 'telco-a', ['--format', 'csv']))
    expect(asCsv.code).toBe(0)
    const rows = readFileSync(csvOut, 'utf8').trim().split('\n')
    expect(rows[0]).toBe('ref,match,citizen,fullName,dateOfBirth,gender,placeOfOrigin,placeOfResidence,cardIssueDate,cardExpiryDate,errorCode,errorDetail')
    expect(rows).toHaveLength(ROWS + 1)
    expect(rows[1]).toMatch(/^"r0,x",(true|false),(active|inactive),/)
  }, 60_000)

  it('exits 4 with one clear line when the key is refused, and 2 when the output exists without --resume', async () => {
    const wrongKey = ['check', csv, '--url', world.server.url, '--key-id', 'telco-a-k1', '--key', world.parties['telco-b']!.keyFile, '--out', join(world.dir, 'x.ndjson'), '--no-progress']
    const refused = await idv(wrongKey)
    expect(refused.code).toBe(4)
    expect(refused.stderr.trim()).toMatch(/^idv: the stream was refused with 401 IDV_ERR_SIGNATURE_INVALID: /)
    const exists = await idv(checkArgs(world.server.url, join(world.dir, 'clean.ndjson')))
    expect(exists.code).toBe(2)
    expect(exists.stderr).toMatch(/already exists: add --resume/)
  }, 30_000)
})
