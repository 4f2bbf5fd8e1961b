/**
 * Real extracts into the sorted loader: gzip, standard input, byte order marks,
 * CRLF, no final newline, duplicate PINs, binary and endless-line files; and the
 * write paths (append into an empty index, ordered updates into a full one) give
 * the same key/value set from the same file in any line order.
 */
import { randomBytes } from 'node:crypto'
import { createWriteStream, writeFileSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { gzipSync } from 'node:zlib'
import { beforeAll, describe, expect, it } from 'vitest'
import { RecordCodec } from '../../src/domain/record.js'
import { parseSourceLine } from '../../src/domain/source-record.js'
import { loadFile, LoadError, type LoadOptions } from '../../src/bulk-load/loader.js'
import { generateCitizens, toJsonLine } from '../../src/population/generate.js'
import { openStore } from '../../src/store/open.js'
import type { StorageCore } from '../../src/store/types.js'
import { tempDir } from '../helpers/temp.js'

const hashKey = randomBytes(32)
const citizens = [...generateCitizens(5000, 21)]
const lines = citizens.map(toJsonLine)
let dir: string
let n = 0
beforeAll(() => { dir = tempDir('idv-load-inputs') })

/** The reference: each valid line encoded on its own, by key; no loader involved. */
function reference (from: string[]): Map<number, string> {
  const codec = new RecordCodec(hashKey)
  const out = new Map<number, string>()
  for (const line of from) {
    const parsed = parseSourceLine(line)
    if (!parsed.ok) continue
    const value = new Uint8Array(131)
    codec.encode(parsed.key, parsed.citizen, value, 0)
    out.set(parsed.key, Buffer.from(value).toString('hex'))
  }
  return out
}
const REFERENCE = reference(lines)

const contents = (store: StorageCore): Map<number, string> => new Map([...store.entries()].map(([k, v]) => [k, Buffer.from(v).toString('hex')]))

async function load (content: string | Buffer, extra: Partial<LoadOptions> = {}, engine: 'lmdb' | 'native-free' = 'lmdb'): Promise<{ store: StorageCore, summary: Awaited<ReturnType<typeof loadFile>>, rejectFile: string }> {
  const i = n++
  const file = join(dir, `in-${i}.ndjson`)
  writeFileSync(file, content)
  const store = await openStore(engine, join(dir, `idx-${i}`))
  const rejectFile = join(dir, `rejects-${i}`)
  const summary = await loadFile({ file, store, hashKey, rejectFile, workDir: join(dir, `work-${i}`), threads: 2, chunkBytes: 64 * 1024, ...extra })
  return { store, summary, rejectFile }
}

const shuffled = (seed: number): string[] => {
  const out = [...lines]
  let s = seed
  for (let i = out.length - 1; i > 0; i--) {
    s = (s * 1103515245 + 12345) >>> 0
    const j = s % (i + 1)
    ;[out[i], out[j]] = [out[j]!, out[i]!]
  }
  return out
}

describe('idv load: write paths', () => {
  it('appends into an empty index and updates a full one in key order: the same key/value set from the file in any line order, on both engines', async () => {
    for (const engine of ['lmdb', 'native-free'] as const) {
      const a = await load(shuffled(1).join('\n') + '\n', {}, engine)
      expect(a.summary.path).toBe('append')
      expect(contents(a.store)).toEqual(REFERENCE)
      // Spilled to sorted runs (a tiny memory budget): the same result.
      const b = await load(shuffled(2).join('\n') + '\n', { memoryBytes: 100_000 }, engine)
      expect(b.summary.spilledRuns).toBeGreaterThan(3)
      expect(contents(b.store)).toEqual(REFERENCE)
      // Into an index that already holds half of it (another order): ordered updates.
      await b.store.close()
      const half = await load(shuffled(3).slice(0, 2500).join('\n') + '\n', {}, engine)
      const file = join(dir, `all-${engine}.ndjson`)
      writeFileSync(file, shuffled(4).join('\n') + '\n')
      const summary = await loadFile({ file, store: half.store, hashKey, rejectFile: join(dir, `r-${engine}`), workDir: join(dir, `w-${engine}`), threads: 2 })
      expect(summary.path).toBe('update')
      expect(contents(half.store)).toEqual(REFERENCE)
      await a.store.close()
      await half.store.close()
    }
  })
})

describe('idv load: real extracts', () => {
  it('reads gzip (by its magic bytes), a UTF-8 BOM, CRLF line ends and a missing final newline', async () => {
    const gz = await load(gzipSync(Buffer.from(lines.join('\n') + '\n')))
    expect(contents(gz.store)).toEqual(REFERENCE)
    const crlf = await load('\uFEFF' + lines.join('\r\n'))
    expect(crlf.summary.rejected).toBe(0)
    expect(contents(crlf.store)).toEqual(REFERENCE)
    await gz.store.close()
    await crlf.store.close()
  })

  it('reads standard input (-)', async () => {
    const store = await openStore('lmdb', join(dir, 'stdin-idx'))
    const stdin = Readable.from([Buffer.from(lines.slice(0, 3000).join('\n')), Buffer.from('\n' + lines.slice(3000).join('\n') + '\n')])
    const summary = await loadFile({ file: '-', stdin, store, hashKey, rejectFile: join(dir, 'stdin-rejects'), workDir: join(dir, 'stdin-work'), threads: 2 })
    expect(summary.totalBytes).toBeUndefined()
    expect(contents(store)).toEqual(REFERENCE)
    await expect(loadFile({ file: '-', stdin: Readable.from([]), store, hashKey, rejectFile: join(dir, 'x'), workDir: join(dir, 'y'), resume: true })).rejects.toThrow(/standard input cannot be read twice/)
    await store.close()
  })

  it('rejects every line of a PIN that appears more than once, with the other lines named, and loads the rest', async () => {
    const withDuplicates = [...lines]
    withDuplicates.splice(9, 0, lines[2]!) // line 10 repeats line 3
    withDuplicates.push(lines[100]!, lines[100]!) // three lines of one PIN
    const { store, summary, rejectFile } = await load(withDuplicates.join('\n') + '\n')
    expect(summary.duplicatePins).toBe(2)
    expect(summary.rejected).toBe(5)
    const rejects = (await readFile(rejectFile, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { line: number, reason: string })
    expect(rejects.map((r) => r.line).sort((a, b) => a - b)).toEqual([3, 10, 102, 5002, 5003])
    expect(rejects.find((r) => r.line === 3)!.reason).toMatch(/duplicate PIN: the same PIN is also on line 10/)
    expect(rejects.find((r) => r.line === 102)!.reason).toMatch(/also on line 5002, 5003/)
    const expected = new Map(REFERENCE)
    for (const i of [2, 100]) expected.delete(parseSourceLine(lines[i]!).ok ? (parseSourceLine(lines[i]!) as { key: number }).key : -1)
    expect(contents(store)).toEqual(expected)
    await store.close()
  })

  it('stops a binary file after --max-rejects rejects with one clear message, writing nothing', async () => {
    const binary = randomBytes(2_000_000)
    for (let i = 100; i < binary.length; i += 150) binary[i] = 0x0a // many "lines"
    const store = await openStore('lmdb', join(dir, 'bin-idx'))
    const file = join(dir, 'binary.ndjson')
    writeFileSync(file, binary)
    const attempt = loadFile({ file, store, hashKey, rejectFile: join(dir, 'bin-rejects'), workDir: join(dir, 'bin-work'), threads: 2 })
    await expect(attempt).rejects.toThrow(LoadError)
    await expect(attempt).rejects.toThrow(/stopped after \d+ rejected lines \(more than --max-rejects 1000\), the first: line 1: .*Nothing was written/)
    expect(store.count()).toBe(0)
    await store.close()
  })

  it('loads nothing from an empty file, without an error', async () => {
    const { store, summary } = await load('')
    expect(summary.durable).toBe(0)
    expect(summary.lines).toBe(0)
    expect(store.count()).toBe(0)
    await store.close()
  })

  it('stops at a 200 MB line with no break, naming the line, in bounded memory', async () => {
    const file = join(dir, 'endless.ndjson')
    const out = createWriteStream(file)
    out.write(lines.slice(0, 3).join('\n') + '\n')
    const block = Buffer.alloc(1024 * 1024, 0x61)
    for (let i = 0; i < 200; i++) if (!out.write(block)) await new Promise<void>((resolve) => { out.once('drain', () => { resolve() }) })
    await new Promise<void>((resolve) => out.end(() => { resolve() }))
    const store = await openStore('lmdb', join(dir, 'endless-idx'))
    const rssBefore = process.memoryUsage().rss
    await expect(loadFile({ file, store, hashKey, rejectFile: join(dir, 'endless-rejects'), workDir: join(dir, 'endless-work'), threads: 2 }))
      .rejects.toThrow(/line 4 is longer than 64 KiB: this is not an NDJSON register extract/)
    expect(process.memoryUsage().rss - rssBefore).toBeLessThan(100 * 1024 * 1024)
    expect(store.count()).toBe(0)
    await store.close()
  })

  it('refuses --resume with another file than the interrupted load\'s, and without an interrupted load', async () => {
    const { store } = await load(lines.slice(0, 10).join('\n') + '\n')
    const other = join(dir, 'other.ndjson')
    writeFileSync(other, lines.slice(10, 20).join('\n') + '\n')
    await expect(loadFile({ file: other, store, hashKey, rejectFile: join(dir, 'o-r'), workDir: join(dir, 'o-w'), resume: true })).rejects.toThrow(/no interrupted load to resume/)
    await store.writeBatch([], { loadInProgress: Buffer.from(JSON.stringify({ source: { file: '/elsewhere.ndjson', size: 1, mtimeMs: 0 }, path: 'append', lastKey: 5, durable: 1 })) })
    await expect(loadFile({ file: other, store, hashKey, rejectFile: join(dir, 'o-r'), workDir: join(dir, 'o-w'), resume: true })).rejects.toThrow(/the interrupted load was of \/elsewhere\.ndjson/)
    await store.close()
  })
})
