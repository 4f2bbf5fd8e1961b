/**
 * Counts established TCP connections to the service port from the kernel's
 * view (`ss`), per local address: the evidence that N connections were open
 * at once, independent of what the load processes believe. Each server process
 * is bound to one loopback address, so per address is per process when there
 * are as many addresses as processes. (`ss -p` would name the pid, but it
 * reads every process's fd table: ~45 s at 80,000 sockets on 2 cores;
 * /proc/net/tcp is read in chunks that repeat entries while sockets change and
 * took 1.2 s at 35,000 sockets.)
 */
import { execFile } from 'node:child_process'

export interface ConnectionSample {
  readonly at: number
  readonly total: number
  /** Server-side sockets per local address. */
  readonly byAddress: Record<string, number>
}

export async function sampleConnections (port: number): Promise<ConnectionSample> {
  const at = Date.now()
  const out = await new Promise<string>((resolve, reject) => {
    execFile('ss', ['-Htn', 'state', 'established', `( sport = :${port} )`], { maxBuffer: 256 * 1024 * 1024 }, (err, stdout) => {
      if (err !== null) reject(err); else resolve(stdout)
    })
  })
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
  // On a busy machine ss once printed nothing at all mid-run while every client
  // connection was open (an interrupted netlink dump): no sample, rather than a false 0.
  if (total === 0) throw new Error('ss listed no established connection')
  return { at, total, byAddress }
}

/**
 * A dump interrupted by other sockets changing lists only part of the table
 * (25 of 50 once, while other tests ran), so a sample can only undercount:
 * two listings back to back, the larger count per address kept.
 */
export async function sampleConnectionsTwice (port: number): Promise<ConnectionSample> {
  const a = await sampleConnections(port)
  const b = await sampleConnections(port).catch(() => a)
  const byAddress: Record<string, number> = {}
  for (const address of new Set([...Object.keys(a.byAddress), ...Object.keys(b.byAddress)])) byAddress[address] = Math.max(a.byAddress[address] ?? 0, b.byAddress[address] ?? 0)
  return { at: a.at, total: Object.values(byAddress).reduce((x, y) => x + y, 0), byAddress }
}
