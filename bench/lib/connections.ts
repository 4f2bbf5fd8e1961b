/**
 * Counts established TCP connections to the service port from the kernel's
 * view (`ss`), per server process: the evidence that N connections were open
 * at once, independent of what the load processes believe.
 */
import { execFile } from 'node:child_process'

export interface ConnectionSample {
  readonly at: number
  readonly total: number
  /** Server-side sockets per owning pid. */
  readonly byPid: Record<string, number>
}

export async function sampleConnections (port: number): Promise<ConnectionSample> {
  const at = Date.now()
  const out = await new Promise<string>((resolve, reject) => {
    execFile('ss', ['-Htnp', 'state', 'established', `( sport = :${port} )`], { maxBuffer: 256 * 1024 * 1024 }, (err, stdout) => {
      if (err !== null) reject(err); else resolve(stdout)
    })
  })
  let total = 0
  const byPid: Record<string, number> = {}
  for (const line of out.split('\n')) {
    if (line.length === 0) continue
    total++
    const m = /pid=(\d+)/.exec(line)
    const pid = m?.[1] ?? 'unknown'
    byPid[pid] = (byPid[pid] ?? 0) + 1
  }
  return { at, total, byPid }
}
