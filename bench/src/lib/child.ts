/**
 * Child processes for benchmarks: start, wait for a ready line, stop (always).
 * An `idv serve` child gets its own audit log directory, removed when it
 * stops, unless the caller names one: benchmarks share cached datasets, and
 * the audit log's default sits beside the data directory, where two servers
 * would write one log.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export interface Started {
  readonly child: ChildProcess
  readonly match: RegExpMatchArray
  /** The audit log directory this child writes (IDV_AUDIT_DIR), when it serves. */
  readonly auditDir: string | undefined
  stop (): Promise<void>
}

/**
 * For an `idv serve` command line: its own audit directory (unless one is
 * named), to remove once the child exits.
 */
export function ownAuditDir (args: readonly string[], env: NodeJS.ProcessEnv): { env: NodeJS.ProcessEnv, dir: string | undefined } {
  if (!args.includes('serve') || env.IDV_AUDIT_DIR !== undefined || process.env.IDV_AUDIT_DIR !== undefined) return { env: {}, dir: undefined }
  const dir = mkdtempSync(join(tmpdir(), 'idv-bench-audit-'))
  return { env: { IDV_AUDIT_DIR: dir, IDV_AUDIT_KEY_FILE: join(dir, 'audit.key') }, dir }
}

const running = new Set<ChildProcess>()
process.on('exit', () => { for (const c of running) c.kill('SIGKILL') })

export async function startChild (args: string[], ready: RegExp, env: NodeJS.ProcessEnv = {}, timeoutMs = 120_000): Promise<Started> {
  const { env: auditEnv, dir: ownAudit } = ownAuditDir(args, env)
  const auditDir = args.includes('serve') ? ownAudit ?? env.IDV_AUDIT_DIR ?? process.env.IDV_AUDIT_DIR : undefined
  const child = spawn(process.execPath, args, { env: { ...process.env, ...auditEnv, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  running.add(child)
  let out = ''
  const onData = (d: Buffer): void => { out += d.toString() }
  child.stdout!.on('data', onData)
  child.stderr!.on('data', onData)
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const m = out.match(ready)
    if (m !== null) {
      return {
        child,
        match: m,
        auditDir,
        async stop () {
          if (ownAudit !== undefined) child.once('exit', () => { rmSync(ownAudit, { recursive: true, force: true }) })
          if (child.exitCode !== null) { running.delete(child); if (ownAudit !== undefined) rmSync(ownAudit, { recursive: true, force: true }); return }
          const exited = new Promise<void>((resolve) => child.once('exit', () => { resolve() }))
          child.kill('SIGTERM')
          const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
          await exited
          clearTimeout(timer)
          running.delete(child)
        }
      }
    }
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL')
      if (ownAudit !== undefined) rmSync(ownAudit, { recursive: true, force: true })
      throw new Error(`child ${args.join(' ')} did not become ready:\n${out.slice(-2000)}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
}
