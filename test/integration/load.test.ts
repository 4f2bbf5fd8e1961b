/**
 * The bulk loader against real files and a real LMDB index: rejects with line
 * numbers, idempotence, and SIGKILL at random moments.
 */
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { tempDir } from '../helpers/temp.js'
import { beforeAll, describe, expect, it } from 'vitest'
import { RecordCodec } from '../../src/domain/record.js'
import { Verifier } from '../../src/verify/verifier.js'
import { pinToKey } from '../../src/domain/pin.js'
import { loadFile } from '../../src/bulk-load/loader.js'
import { generateCitizens, toJsonLine } from '../../src/population/generate.js'
import { openStore } from '../../src/store/open.js'
import type { StorageCore } from '../../src/store/types.js'
import { createHash } from 'node:crypto'

let dir: string
const hashKey = randomBytes(32)
beforeAll(() => { dir = tempDir('idv-load') })

async function digest (store: StorageCore): Promise<string> {
  const h = createHash('sha256')
  for (const [k, v] of store.entries()) { h.update(String(k)); h.update(v) }
  return h.digest('hex')
}

describe('idv load', () => {
  it('loads good lines, reports bad ones by line number and reason, and is idempotent', async () => {
    const citizens = [...generateCitizens(3000, 5)]
    const lines = citizens.map(toJsonLine)
    const bad = [
      [10, '{"pin": "0010990'],
      [20, JSON.stringify({ ...citizens[0], pin: '003099012345' })],
      [30, JSON.stringify({ ...citizens[0], pin: '001199012345', gender: 'male', dateOfBirth: '1999-01-01' })],
      [40, JSON.stringify({ ...citizens[0], status: 'missing' })],
      [50, '']
    ] as const
    for (const [at, line] of bad) lines.splice(at - 1, 0, line)
    const file = join(dir, 'register.ndjson')
    await writeFile(file, lines.join('\n') + '\n')
    const rejectFile = join(dir, 'rejects.ndjson')

    const store = await openStore('lmdb', join(dir, 'idx'))
    const progress: number[] = []
    const summary = await loadFile({ file, store, hashKey, rejectFile, chunkBytes: 32 * 1024, threads: 2, onProgress: (p) => progress.push(p.durable) })
    expect(summary.durable).toBe(3000)
    expect(summary.rejected).toBe(4)
    expect(store.count()).toBe(3000)
    expect(progress.length).toBeGreaterThan(5)
    expect(progress).toEqual([...progress].sort((a, b) => a - b))

    const rejects = (await readFile(rejectFile, 'utf8')).trim().split('\n').map((l) => JSON.parse(l))
    expect(rejects.map((r) => r.line)).toEqual([10, 20, 30, 40])
    expect(rejects[0].reason).toBe('not valid JSON')
    expect(rejects[1].reason).toMatch(/province/)
    expect(rejects[2].reason).toMatch(/century\/gender digit/)
    expect(rejects[3].reason).toMatch(/status/)
    for (const r of rejects) expect(JSON.stringify(r)).not.toContain(citizens[0]!.fullName)

    const verifier = new Verifier(store, new RecordCodec(hashKey))
    for (const c of citizens.slice(0, 200)) {
      const outcome = verifier.verify({ key: pinToKey(c.pin), attributes: [['fullName', c.fullName], ['dateOfBirth', c.dateOfBirth]] })
      expect(outcome.attributes).toEqual({ fullName: 'match', dateOfBirth: 'match' })
    }

    const before = await digest(store)
    await loadFile({ file, store, hashKey, rejectFile })
    expect(store.count()).toBe(3000)
    expect(await digest(store)).toBe(before)
    await store.close()
  })

  it('leaves an index that opens and answers after SIGKILL at random moments', async () => {
    const citizens = [...generateCitizens(40_000, 9)]
    const file = join(dir, 'big.ndjson')
    await writeFile(file, citizens.map(toJsonLine).join('\n') + '\n')
    const codec = new RecordCodec(hashKey)
    for (let trial = 0; trial < 4; trial++) {
      const dataDir = join(dir, `crash-${trial}`)
      const child = spawn(process.execPath, [join(import.meta.dirname, '..', 'fixtures', 'load-child.mjs'), file, dataDir, hashKey.toString('hex')], { stdio: ['ignore', 'pipe', 'inherit'] })
      let reported = 0
      let out = ''
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString()
        for (const m of out.matchAll(/durable (\d+)/g)) reported = Math.max(reported, Number(m[1]))
      })
      const exited = new Promise<void>((resolve) => child.on('exit', () => { resolve() }))
      // Kill once some batches are durable, at a different point each trial.
      const target = 2000 + trial * 7000 + Math.floor(Math.random() * 3000)
      while (reported < target && child.exitCode === null) await new Promise((resolve) => setTimeout(resolve, 5))
      child.kill('SIGKILL')
      await exited
      const acknowledged = reported

      const store = await openStore('lmdb', dataDir)
      const count = store.count()
      // Batches commit in file order: the index holds exactly a prefix of the file, at least what was acknowledged.
      expect(count).toBeGreaterThanOrEqual(acknowledged)
      const expected = new Set(citizens.slice(0, count).map((c) => pinToKey(c.pin)))
      let n = 0
      for (const [key] of store.entries()) { expect(expected.has(key)).toBe(true); n++ }
      expect(n).toBe(count)
      const verifier = new Verifier(store, codec)
      for (const c of citizens.slice(0, Math.min(count, 500))) {
        expect(verifier.verify({ key: pinToKey(c.pin), attributes: [['fullName', c.fullName]] }).attributes.fullName).toBe('match')
      }
      await store.close()
    }
  }, 120_000)
})
