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
    const summary = await loadFile({ file, store, hashKey, rejectFile, workDir: join(dir, 'work'), chunkBytes: 32 * 1024, threads: 2, onProgress: (p) => progress.push(p.durable) })
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
    await loadFile({ file, store, hashKey, rejectFile, workDir: join(dir, 'work') })
    expect(store.count()).toBe(3000)
    expect(await digest(store)).toBe(before)
    await store.close()
  })

  it('after SIGKILL in encode, sort, merge or commit: the index opens, holds a key-ordered prefix at least as long as reported, and --resume finishes it', async () => {
    const citizens = [...generateCitizens(40_000, 9)]
    const file = join(dir, 'big.ndjson')
    await writeFile(file, citizens.map(toJsonLine).join('\n') + '\n')
    const sortedKeys = citizens.map((c) => pinToKey(c.pin)).sort((a, b) => a - b)
    const codec = new RecordCodec(hashKey)
    // memoryBytes small enough that runs spill: the sort and merge phases happen.
    const trials = [
      { phase: 'encode', at: 5_000, extra: { memoryBytes: 1_000_000 } },
      { phase: 'sort', at: 0, extra: { memoryBytes: 1_000_000 } },
      { phase: 'merge', at: 6_000, extra: { memoryBytes: 1_000_000 } },
      { phase: 'commit', at: 2_000 + Math.floor(Math.random() * 20_000), extra: {} }
    ]
    for (const [i, trial] of trials.entries()) {
      const dataDir = join(dir, `crash-${i}`)
      const child = spawn(process.execPath, [join(import.meta.dirname, '..', 'fixtures', 'load-child.mjs'), file, dataDir, hashKey.toString('hex'), 'lmdb', JSON.stringify(trial.extra)], { stdio: ['ignore', 'pipe', 'inherit'] })
      let reported = 0
      let killed = false
      let out = ''
      const exited = new Promise<void>((resolve) => child.on('exit', () => { resolve() }))
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString()
        for (const m of out.matchAll(/(\w+) encoded (\d+) durable (\d+)/g)) {
          reported = Math.max(reported, Number(m[3]))
          const progress = trial.phase === 'encode' ? Number(m[2]) : reported
          if (!killed && m[1] === trial.phase && progress >= trial.at) { killed = true; child.kill('SIGKILL') }
        }
      })
      await exited
      expect(killed, `the load reached the ${trial.phase} phase before it ended:\n${out.slice(-500)}`).toBe(true)

      const store = await openStore('lmdb', dataDir)
      const count = store.count()
      expect(count).toBeGreaterThanOrEqual(reported)
      if (trial.phase === 'encode' || trial.phase === 'sort') expect(count).toBe(0)
      // Written in key order: exactly the smallest `count` keys of the file.
      expect([...store.entries()].map(([key]) => key)).toEqual(sortedKeys.slice(0, count))
      const verifier = new Verifier(store, codec)
      const stored = new Set(sortedKeys.slice(0, count))
      for (const c of citizens.filter((c) => stored.has(pinToKey(c.pin))).slice(0, 300)) {
        expect(verifier.verify({ key: pinToKey(c.pin), attributes: [['fullName', c.fullName]] }).attributes.fullName).toBe('match')
      }
      // --resume finishes the job; what was durable is not written again.
      if (count > 0) {
        const summary = await loadFile({ file, store, hashKey, rejectFile: join(dir, `crash-${i}.rejects`), workDir: join(dir, `crash-${i}.load`), resume: true, threads: 2 })
        expect(summary.resumedAfter).toBeGreaterThanOrEqual(reported)
        expect(summary.durable).toBe(citizens.length - count)
        expect(summary.path).toBe('append')
      } else {
        await expect(loadFile({ file, store, hashKey, rejectFile: join(dir, `crash-${i}.rejects`), workDir: join(dir, `crash-${i}.load`), resume: true })).rejects.toThrow(/no interrupted load/)
        await loadFile({ file, store, hashKey, rejectFile: join(dir, `crash-${i}.rejects`), workDir: join(dir, `crash-${i}.load`), threads: 2 })
      }
      expect(store.count()).toBe(citizens.length)
      for (const c of citizens.slice(0, 300)) {
        expect(verifier.verify({ key: pinToKey(c.pin), attributes: [['fullName', c.fullName]] }).attributes.fullName).toBe('match')
      }
      await store.close()
    }
  }, 180_000)
})
