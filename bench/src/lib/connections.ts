/**
 * Counts established TCP connections to the service port from the kernel's
 * view (`ss`), per local address: the evidence that N connections were open
 * at once, independent of what the traffic processes believe. Each server process
 * is bound to one loopback address, so per address is per process when there
 * are as many addresses as processes. (`ss -p` would name the pid, but it
 * reads every process's fd table: ~45 s at 80,000 sockets on 2 cores;
 * /proc/net/tcp is read in chunks that repeat entries while sockets change and
 * took 1.2 s at 35,000 sockets.)
 */
import { execFile } from 'node:child_process'

export interface ConnectionSample {
  /** When `ss` was started and when its listing came back (ms since the epoch): the listing was taken somewhere in between. */
  readonly startedAt: number
  readonly endedAt: number
  readonly total: number
  /** Server-side sockets per local address. */
  readonly byAddress: Record<string, number>
}

export async function sampleConnections (port: number): Promise<ConnectionSample> {
  const startedAt = Date.now()
  const out = await new Promise<string>((resolve, reject) => {
    execFile('ss', ['-Htn', 'state', 'established', `( sport = :${port} )`], { maxBuffer: 256 * 1024 * 1024 }, (err, stdout) => {
      if (err !== null) reject(err); else resolve(stdout)
    })
  })
  const endedAt = Date.now()
  let total = 0
  const byAddress: Record<string, number> = {}
  for (const line of out.split('\n')) {
    // Recv-Q Send-Q Local:Port Peer:Port (state filtered, so no state column)
    const local = line.trim().split(/\s+/)[2]
    if (local === undefined) continue
    total++
    const address = local.slice(0, local.lastIndexOf(':'))
    byAddress[address] = (byAddress[address] ?? 0) + 1
  }
  return { startedAt, endedAt, total, byAddress }
}

/**
 * The samples certainly taken inside [from, until]. On a busy machine `ss`
 * took 93-140 ms from start to listing, so one begun just before `until` can be
 * read after it, when the traffic processes are already closing their connections
 * (49 and 14 of 50 that way under socket churn; most likely also the 36 of 50
 * that once failed CI).
 */
export function samplesWithin (samples: readonly ConnectionSample[], from: number, until: number): ConnectionSample[] {
  return samples.filter((s) => s.startedAt >= from && s.endedAt <= until)
}
