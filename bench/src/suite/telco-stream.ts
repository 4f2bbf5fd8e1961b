/**
 * `npm run bench -- telco-stream [--rows N] [--citizens N] [--mode job|stream]
 * [--portal-rate R] [--raw-seconds S]`: an operator's bulk check end to end
 * through `idv check` (a CSV of N rows: upload in chunks, verification by the
 * job runner, results downloaded; or the same file streamed through
 * /v1/verify/stream with --mode stream), against the service (`idv serve`,
 * its own process) over the benchmark dataset, with:
 *
 * - the raw loop (bench/src/lib/raw-loop.ts: the Verifier alone, no HTTP, on
 *   every core) over the same items in the same run: the ratio is rows/s end
 *   to end over the raw loop's records/s (target ≥ 0.5, as for batches);
 * - the server's RSS sampled every second (from /proc), with the rows done at
 *   that moment: flat within ±50 MB from 1M rows on (10M-row runs);
 * - a portal-verify load (single POST /v1/verify at a paced rate, autocannon)
 *   measured alone first, then during the job: p99 during ≤ 2× p99 alone.
 *
 * The server runs unsigned (--auth none, as the rest of the suite: paced
 * traffic generators cannot sign each request), so rows carry no receipts
 * here; idv check still signs its requests.
 */
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { createWriteStream, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { availableParallelism, tmpdir } from 'node:os'
import { join } from 'node:path'
import autocannon from 'autocannon'
import { packageRoot } from '../../../dist/src/paths.js'
import { ensureDataset } from '../lib/dataset.js'
import { ProcessGroup } from '../lib/processes.js'
import { buildRequestPool } from '../lib/request-pool.js'
import { poolItems, runRawLoop } from '../lib/raw-loop.js'
import type { RequestPoolFile } from '../lib/traffic-worker.js'

interface Options { rows: number, citizens: number, mode: 'job' | 'stream', portalRate: number, rawSeconds: number }

function parse (argv: string[]): Options | string {
  const o: Options = { rows: 200_000, citizens: 1_000_000, mode: 'job', portalRate: 500, rawSeconds: 10 }
  for (let i = 0; i < argv.length; i++) {
    const [flag, value] = [argv[i], argv[i + 1]]
    const n = Number(value)
    if (flag === '--rows' && Number.isSafeInteger(n) && n > 0) { o.rows = n; i++ } else if (flag === '--citizens' && Number.isSafeInteger(n) && n > 0) { o.citizens = n; i++ } else if (flag === '--portal-rate' && Number.isSafeInteger(n) && n > 0) { o.portalRate = n; i++ } else if (flag === '--raw-seconds' && Number.isSafeInteger(n) && n > 0) { o.rawSeconds = n; i++ } else if (flag === '--mode' && (value === 'job' || value === 'stream')) { o.mode = value; i++ } else return `telco-stream: unknown or bad option ${flag ?? ''} (--rows N, --citizens N, --mode job|stream, --portal-rate R, --raw-seconds S)`
  }
  return o
}

/** Anonymous resident memory (heap, buffers) in MB: VmRSS would also count the index's memory-mapped pages, which grow with the rows read whatever the job does. */
function rssMb (pid: number): number {
  const m = /RssAnon:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return m === null ? 0 : Math.round(Number(m[1]) / 1024)
}

async function portal (url: string, body: string, rate: number, seconds: number): Promise<{ instance: autocannon.Instance, result: Promise<autocannon.Result> }> {
  let instance!: autocannon.Instance
  const result = new Promise<autocannon.Result>((resolve, reject) => {
    instance = autocannon({ url: `${url}/v1/verify`, method: 'POST', headers: { 'content-type': 'application/json' }, body, connections: 10, overallRate: rate, duration: seconds }, (err, r) => { if (err !== null && err !== undefined) reject(err); else resolve(r) })
  })
  return { instance, result }
}

export async function runTelcoStream (argv: string[]): Promise<number> {
  const log = (s: string): void => { console.error(s) }
  const o = parse(argv)
  if (typeof o === 'string') { log(o); return 2 }
  const cores = availableParallelism()
  const dataset = await ensureDataset('lmdb', o.citizens, 1, log)
  const scratch = mkdtempSync(join(tmpdir(), 'idv-bench-stream-'))
  const group = new ProcessGroup()
  const pool = buildRequestPool({ 'batch-1000': 1 }, o.citizens, scratch)
  try {
    const items = poolItems(JSON.parse(readFileSync(pool.file, 'utf8')) as RequestPoolFile) as Array<{ pin: string, attributes: Record<string, string> }>
    // The operator's export: CSV, quoted names, CRLF.
    const csv = join(scratch, 'subscribers.csv')
    const w = createWriteStream(csv)
    w.write('ref,pin,fullName,dateOfBirth,gender\r\n')
    for (let i = 0; i < o.rows; i++) {
      const it = items[i % items.length]!
      if (!w.write(`${i},${it.pin},"${it.attributes.fullName ?? ''}",${it.attributes.dateOfBirth ?? ''},${it.attributes.gender ?? ''}\r\n`)) await new Promise<void>((resolve) => w.once('drain', () => { resolve() }))
    }
    await new Promise<void>((resolve) => w.end(() => { resolve() }))

    log(`raw loop: ${cores} threads, ${o.rawSeconds} s`)
    const raw = await runRawLoop({ dataDir: dataset.dataDir, hashKeyFile: dataset.hashKeyFile, requestsFile: pool.file, threads: cores, warmupSeconds: 2, durationSeconds: o.rawSeconds })

    const cli = join(packageRoot(), 'dist', 'src', 'app', 'cli.js')
    const jobsDir = join(scratch, 'jobs')
    mkdirSync(jobsDir)
    const server = group.spawnNode('service', [cli, 'serve', '--store', 'lmdb', '--data-dir', dataset.dataDir, '--hash-key-file', dataset.hashKeyFile, '--host', '127.0.0.1', '--port', '0', '--auth', 'none', '--jobs-dir', jobsDir, '--log-level', 'info', '--access-log-sample', '0'])
    const ready = await server.waitFor(/"url":"(http:\/\/[^"]+)"[^\n]*"msg":"serving"/, 120_000)
    const url = ready[1]!.replace('0.0.0.0', '127.0.0.1')
    const pid = server.child.pid!
    const first = items[0]!
    const portalBody = JSON.stringify(first)
    // A discarded warm-up: the index pages the portal asks about come into the page cache.
    await (await portal(url, portalBody, o.portalRate, 3)).result
    log(`portal-verify alone: ${o.portalRate} req/s, 10 s`)
    const alone = await (await portal(url, portalBody, o.portalRate, 10)).result

    const keyFile = join(scratch, 'operator.key')
    writeFileSync(keyFile, randomBytes(32).toString('hex'), { mode: 0o600 })
    const out = join(scratch, 'results.ndjson')
    const samples: Array<{ t: number, rssMb: number, rows: number }> = []
    const rowsDone = (): number => {
      if (o.mode === 'stream') return -1
      try {
        const id = readdirSync(jobsDir).find((d) => d !== 'idem' && d !== 'runner.lock')
        return id === undefined ? 0 : (JSON.parse(readFileSync(join(jobsDir, id, 'progress.json'), 'utf8')) as { rows: number }).rows
      } catch { return 0 }
    }
    log(`idv check ${o.mode === 'job' ? '--job ' : ''}${o.rows} rows, portal-verify at ${o.portalRate} req/s meanwhile`)
    const start = Date.now()
    const sampler = setInterval(() => { samples.push({ t: (Date.now() - start) / 1000, rssMb: rssMb(pid), rows: rowsDone() }) }, 1000)
    const during = await portal(url, portalBody, o.portalRate, 3600)
    const check = spawn(process.execPath, [cli, 'check', csv, '--url', url, '--key-id', 'operator', '--key', keyFile, '--out', out, '--no-progress', ...(o.mode === 'job' ? ['--job'] : [])], { stdio: ['ignore', 'pipe', 'pipe'] })
    let checkOut = ''
    check.stdout.on('data', (d) => { checkOut += d })
    check.stderr.on('data', (d) => { checkOut += d })
    const code = await new Promise<number | null>((resolve) => check.on('exit', resolve))
    const seconds = (Date.now() - start) / 1000
    clearInterval(sampler)
    during.instance.stop()
    const duringResult = await during.result
    if (code !== 0) throw new Error(`idv check failed (${code}): ${checkOut}`)
    const rowsPerSecond = o.rows / seconds
    const afterMillion = samples.filter((s) => s.rows >= 1_000_000 || (o.mode === 'stream' && s.t >= seconds * 0.1))
    const rssRange = afterMillion.length === 0 ? null : { min: Math.min(...afterMillion.map((s) => s.rssMb)), max: Math.max(...afterMillion.map((s) => s.rssMb)) }
    const result = {
      scenario: 'telco-stream',
      mode: o.mode,
      rows: o.rows,
      citizens: o.citizens,
      cores,
      seconds: Math.round(seconds * 10) / 10,
      rowsPerSecond: Math.round(rowsPerSecond),
      rawLoop: { threads: raw.threads, recordsPerSecond: Math.round(raw.recordsPerSecond) },
      vsRawLoop: Math.round(1000 * rowsPerSecond / raw.recordsPerSecond) / 1000,
      serverRssMb: { peak: Math.max(...samples.map((s) => s.rssMb)), fromOneMillionRows: rssRange, samples },
      portalVerify: {
        rate: o.portalRate,
        p99MsAlone: alone.latency.p99,
        p99MsDuringJob: duringResult.latency.p99,
        ratio: Math.round(100 * duringResult.latency.p99 / Math.max(alone.latency.p99, 0.001)) / 100,
        non2xxDuring: duringResult.non2xx
      },
      check: checkOut.trim()
    }
    const resultsDir = join(packageRoot(), 'bench', 'results')
    mkdirSync(resultsDir, { recursive: true })
    const file = join(resultsDir, `${new Date().toISOString().slice(0, 19).replace(/:/g, '')}-telco-stream-${o.mode}-${o.rows}.json`)
    writeFileSync(file, JSON.stringify(result, null, 2))
    console.log(`telco-stream (${o.mode}, ${o.rows} rows, ${cores} cores): ${result.rowsPerSecond} rows/s end to end in ${result.seconds} s; raw loop ${result.rawLoop.recordsPerSecond} records/s on ${raw.threads} threads → ${result.vsRawLoop}× (target ≥ 0.5)`)
    console.log(`server anonymous RSS: peak ${result.serverRssMb.peak} MB${rssRange === null ? '' : `, ${rssRange.min}-${rssRange.max} MB from ${o.mode === 'job' ? '1M rows' : '10% of the run'} on`}`)
    console.log(`portal-verify p99: ${alone.latency.p99} ms alone, ${duringResult.latency.p99} ms during the job → ${result.portalVerify.ratio}× (target ≤ 2)`)
    console.log(`result: ${file}`)
    const pass = result.vsRawLoop >= 0.5 && result.portalVerify.ratio <= 2 && (rssRange === null || rssRange.max - rssRange.min <= 100)
    return pass ? 0 : 1
  } catch (err) {
    log(`bench: ${(err as Error).message}`)
    return 3
  } finally {
    await group.stopAll()
    group.dispose()
    pool.cleanup()
    rmSync(scratch, { recursive: true, force: true })
  }
}
