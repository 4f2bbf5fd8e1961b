/** Child processes for benchmarks: start, wait for a ready line, stop (always). */
import { spawn, type ChildProcess } from 'node:child_process'

export interface Started {
  readonly child: ChildProcess
  readonly match: RegExpMatchArray
  stop (): Promise<void>
}

const running = new Set<ChildProcess>()
process.on('exit', () => { for (const c of running) c.kill('SIGKILL') })

export async function startChild (args: string[], ready: RegExp, env: NodeJS.ProcessEnv = {}, timeoutMs = 120_000): Promise<Started> {
  const child = spawn(process.execPath, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
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
        async stop () {
          if (child.exitCode !== null) { running.delete(child); return }
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
      throw new Error(`child ${args.join(' ')} did not become ready:\n${out.slice(-2000)}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
}
