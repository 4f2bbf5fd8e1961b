/**
 * Test helpers: temporary directories, deterministic values, and a compiled copy
 * of the engine for worker threads and child processes (they run plain Node, which
 * cannot load TypeScript). The build is keyed by a hash of the sources and shared
 * by concurrent test files through an atomic rename.
 */
import { createHash } from 'node:crypto'
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

export const PACKAGE_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')

export function tempDir (label: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `nfi-${label}-`))
}

export function removeDir (dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true })
}

/** A deterministic value for (key, version), `length` bytes long. */
export function valueFor (key: number, version: number, length = 131): Uint8Array {
  const out = new Uint8Array(length)
  const view = new DataView(out.buffer)
  if (length >= 12) {
    view.setFloat64(0, key, true)
    view.setUint32(8, version, true)
  }
  for (let i = 12; i < length; i++) out[i] = (key * 31 + version * 7 + i) & 0xff
  return out
}

/** Byte equality without vitest's slow element-by-element deep equality. */
export function sameBytes (a: Uint8Array | undefined, b: Uint8Array | undefined): boolean {
  if (a === undefined || b === undefined) return a === b
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength))
}

export function versionOf (value: Uint8Array): number {
  return new DataView(value.buffer, value.byteOffset, value.byteLength).getUint32(8, true)
}

/** Path of index.js of a compiled copy of the current sources. */
export function compiledEntry (): string {
  const srcDir = path.join(PACKAGE_DIR, 'src')
  const hash = createHash('sha1')
  for (const name of fs.readdirSync(srcDir).sort()) hash.update(name).update(fs.readFileSync(path.join(srcDir, name)))
  // A build cache beside the package (git-ignored), keyed by the sources: not the system temp directory, which tests leave as they found it.
  const outDir = path.join(PACKAGE_DIR, '.test-build', hash.digest('hex').slice(0, 16))
  const entry = path.join(outDir, 'index.js')
  if (fs.existsSync(entry)) return entry
  fs.mkdirSync(path.dirname(outDir), { recursive: true })
  const staging = `${outDir}.${process.pid}`
  const tsc = path.join(PACKAGE_DIR, '..', 'node_modules', 'typescript', 'bin', 'tsc')
  execFileSync(process.execPath, [tsc, '-p', path.join(PACKAGE_DIR, 'tsconfig.build.json'), '--outDir', staging, '--declaration', 'false', '--sourceMap', 'false'], { stdio: 'inherit' })
  fs.writeFileSync(path.join(staging, 'package.json'), '{"type":"module"}\n')
  try {
    fs.renameSync(staging, outDir)
  } catch {
    // Another test file finished the same build first.
    fs.rmSync(staging, { recursive: true, force: true })
  }
  return entry
}
