/**
 * The chip worker through a real Piscina pool.
 *
 * Piscina loads plain JavaScript, so the pool points at the compiled
 * dist/src/chip/worker.js (what `npm run build` produces and what the
 * server will load). `npm test` only type-checks, so beforeAll recompiles the
 * worker and the chip library into dist/ when any of their sources is newer
 * than the built file — only those files, so the test does not depend on the
 * rest of the tree compiling.
 */
import { execFileSync } from 'node:child_process'
import { copyFileSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { Piscina } from 'piscina'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { REASONS } from '../../src/chip/passive-auth/index.js'
import type { ChipResult } from '../../src/chip/passive-auth/types.js'
import { packChipBatch } from '../../src/chip/batch.js'
import type { ChipTask, ChipTaskItem, ChipTaskResult } from '../../src/chip/worker.js'
import { AN, DUONG, createTestPki, makeChip, type TestChip, type TestPki } from 'chip-test-pki'

const ROOT = resolve(import.meta.dirname, '..', '..')
const WORKER = join(ROOT, 'dist', 'src', 'chip', 'worker.js')

function ensureBuiltWorker (): void {
  const library = join(ROOT, 'src', 'chip', 'passive-auth')
  const sources = [join(ROOT, 'src', 'chip', 'worker.ts'), join(ROOT, 'src', 'chip', 'batch.ts'), ...readdirSync(library).map(f => join(library, f))]
  let builtAt = 0
  try { builtAt = statSync(WORKER).mtimeMs } catch { /* not built yet */ }
  if (sources.every(f => statSync(f).mtimeMs < builtAt)) return
  execFileSync(process.execPath, [
    join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'),
    '--rootDir', ROOT, '--outDir', join(ROOT, 'dist'), '--declaration', '--sourceMap',
    '--target', 'ES2022', '--module', 'NodeNext', '--moduleResolution', 'NodeNext', '--strict', '--skipLibCheck', '--types', 'node',
    join(ROOT, 'src', 'chip', 'worker.ts')
  ], { stdio: 'pipe' })
}

let pki: TestPki
let pool: Piscina<ChipTask, ChipTaskResult>
let good: TestChip
let bad: TestChip

const item = (c: TestChip): ChipTaskItem => ({ sod: c.sod, dataGroups: [...c.dataGroups] })
/** The verdicts of a successful task (they cross the thread as JSON text). */
const results = (out: ChipTaskResult): ChipResult[] => out.ok ? JSON.parse(out.resultsJson) as ChipResult[] : []

beforeAll(() => {
  ensureBuiltWorker()
  pki = createTestPki()
  good = makeChip({ citizen: AN, ds: pki.ds.ecdsa })
  bad = makeChip({ citizen: DUONG, ds: pki.ds.rsa, tamperDg: 2 })
  // One thread: the reload test needs every task to reach the same worker.
  pool = new Piscina<ChipTask, ChipTaskResult>({ filename: WORKER, minThreads: 1, maxThreads: 1 })
}, 120_000)

afterAll(async () => {
  await pool?.destroy()
})

describe('chip worker (Piscina)', () => {
  it('verifies a batch and returns one plain result per item', async () => {
    const out = await pool.run({ items: [item(good), item(bad), item(good)], trustDir: pki.trustDir, crlFile: pki.crlFile })
    expect(out.ok).toBe(true)
    if (!out.ok) return
    expect(results(out).map(r => r.valid)).toEqual([true, false, true])
    expect(results(out)[0]?.identity?.fullName).toBe('Nguyễn Văn An')
    expect(results(out)[1]?.reason).toBe(REASONS.DG_HASH_MISMATCH)
  })

  it('verifies a packed batch (one transferred ArrayBuffer) the same as cloned items', async () => {
    const packed = packChipBatch([item(good), item(bad), item(good)])
    const out = await pool.run({ packed, trustDir: pki.trustDir, crlFile: pki.crlFile }, { transferList: [packed.buffer] })
    expect(packed.buffer.byteLength).toBe(0) // moved, not copied
    expect(out.ok && out.buffer?.byteLength).toBeGreaterThanOrEqual(packed.byteLength) // and handed back for the next batch
    const cloned = await pool.run({ items: [item(good), item(bad), item(good)], trustDir: pki.trustDir, crlFile: pki.crlFile })
    expect(results(out)).toEqual(results(cloned))
    expect(results(out).map(r => r.valid)).toEqual([true, false, true])
  })

  it('a packed batch whose header does not fit its buffer is a tagged failure', async () => {
    const packed = packChipBatch([item(good)])
    new Float64Array(packed.buffer, 0, packed.headerLength)[1] = 1e9 // SOD length beyond the buffer
    expect(await pool.run({ packed, trustDir: pki.trustDir })).toMatchObject({ ok: false, code: 'IDV_ERR_BAD_TASK' })
    expect(await pool.run({ packed: { buffer: new ArrayBuffer(4), headerLength: 3, byteLength: 4 }, trustDir: pki.trustDir })).toMatchObject({ ok: false, code: 'IDV_ERR_BAD_TASK' })
  })

  it('reloads the trust store only when trustVersion changes', async () => {
    const dir = join(pki.workDir, 'worker-trust')
    mkdirSync(dir, { recursive: true })
    writeFileSync(join(dir, 'rogue.pem'), pki.rogueCsca.pem)
    const run = (trustVersion: number): Promise<ChipTaskResult> => pool.run({ items: [item(good)], trustDir: dir, trustVersion })

    const before = await run(1)
    expect(results(before)[0]?.reason).toBe(REASONS.DS_NOT_TRUSTED)
    copyFileSync(join(pki.trustDir, 'csca.pem'), join(dir, 'csca.pem'))
    const sameVersion = await run(1)
    expect(results(sameVersion)[0]?.valid).toBe(false)
    const bumped = await run(2)
    expect(results(bumped)[0]?.valid).toBe(true)
  })

  it('an unreadable trust store is a tagged failure, not a thrown error', async () => {
    const out = await pool.run({ items: [item(good)], trustDir: join(pki.workDir, 'does-not-exist') })
    expect(out).toMatchObject({ ok: false, code: 'IDV_ERR_TRUST_STORE' })
  })

  it('malformed tasks and items never throw across the thread', async () => {
    expect(await pool.run({ items: 'nope', trustDir: 1 } as unknown as ChipTask)).toMatchObject({ ok: false, code: 'IDV_ERR_BAD_TASK' })
    const out = await pool.run({ items: [{ sod: new Uint8Array([1, 2, 3]), dataGroups: 5 } as unknown as ChipTaskItem, item(good)], trustDir: pki.trustDir })
    expect(out.ok).toBe(true)
    if (!out.ok) return
    expect(results(out)[0]).toMatchObject({ valid: false, reason: REASONS.MALFORMED_SOD })
    expect(results(out)[1]?.valid).toBe(true)
  })
})
