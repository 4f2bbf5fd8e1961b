/**
 * Every process a benchmark run starts, so that all of them are stopped on
 * every way out: normal end, an error, Ctrl-C/SIGTERM, or the run's deadline.
 * Stopping is SIGTERM (servers drain), then SIGKILL after a grace period; a
 * synchronous SIGKILL on 'exit' catches anything left.
 */
import { fork, spawn, type ChildProcess } from 'node:child_process'
import { rmSync } from 'node:fs'
import { ownAuditDir } from './child.js'

export interface ManagedProcess {
  readonly name: string
  readonly child: ChildProcess
  /** The last 64 KiB of stdout+stderr. */
  output (): string
  /** Resolves when the output matches, rejects if the process exits first or the timeout passes. */
  waitFor (pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray>
}

const OUTPUT_KEEP = 64 * 1024

export class ProcessGroup {
  readonly #all: ManagedProcess[] = []
  readonly #onExit = (): void => { for (const p of this.#all) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL') }

  constructor () { process.on('exit', this.#onExit) }

  get started (): number { return this.#all.length }
  get running (): number { return this.#all.filter((p) => p.child.exitCode === null && p.child.signalCode === null).length }
  get pids (): number[] { return this.#all.map((p) => p.child.pid ?? -1) }

  /** A Node script with piped output. */
  spawnNode (name: string, args: string[], env: NodeJS.ProcessEnv = {}): ManagedProcess {
    // An `idv serve` writes its own audit log, removed once it exits (bench/src/lib/child.ts).
    const audit = ownAuditDir(args, env)
    const child = spawn(process.execPath, args, { env: { ...process.env, ...audit.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
    if (audit.dir !== undefined) child.once('exit', () => { rmSync(audit.dir!, { recursive: true, force: true }) })
    return this.#manage(name, child)
  }

  /** A Node script with an IPC channel. */
  forkNode (name: string, script: string, args: string[] = []): ManagedProcess {
    return this.#manage(name, fork(script, args, { stdio: ['ignore', 'pipe', 'pipe', 'ipc'] }))
  }

  #manage (name: string, child: ChildProcess): ManagedProcess {
    let out = ''
    const onData = (d: Buffer): void => { out += d.toString(); if (out.length > 2 * OUTPUT_KEEP) out = out.slice(-OUTPUT_KEEP) }
    child.stdout?.on('data', onData)
    child.stderr?.on('data', onData)
    child.on('error', (err) => { out += `\n[spawn error] ${err.message}` })
    const managed: ManagedProcess = {
      name,
      child,
      output: () => out.slice(-OUTPUT_KEEP),
      waitFor: async (pattern, timeoutMs) => await new Promise((resolve, reject) => {
        const deadline = Date.now() + timeoutMs
        const poll = (): void => {
          const m = out.match(pattern)
          if (m !== null) { resolve(m); return }
          if (child.exitCode !== null || child.signalCode !== null) { reject(new Error(`${name} exited (${child.exitCode ?? child.signalCode}) before it was ready:\n${out.slice(-3000)}`)); return }
          if (Date.now() > deadline) { reject(new Error(`${name} not ready after ${timeoutMs} ms:\n${out.slice(-3000)}`)); return }
          setTimeout(poll, 25)
        }
        poll()
      })
    }
    this.#all.push(managed)
    return managed
  }

  /** SIGTERM to everything still running, SIGKILL after `graceMs`; resolves when all have exited. */
  async stopAll (graceMs = 5000): Promise<void> {
    const live = this.#all.filter((p) => p.child.exitCode === null && p.child.signalCode === null)
    await Promise.all(live.map(async (p) => {
      const exited = new Promise<void>((resolve) => { p.child.once('exit', () => { resolve() }) })
      if (p.child.exitCode !== null || p.child.signalCode !== null) return
      p.child.kill('SIGTERM')
      const timer = setTimeout(() => p.child.kill('SIGKILL'), graceMs)
      await exited
      clearTimeout(timer)
    }))
  }

  dispose (): void { process.off('exit', this.#onExit) }
}
