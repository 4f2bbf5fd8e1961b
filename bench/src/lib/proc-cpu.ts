/** CPU time of benchmark processes and their children, from /proc (Linux; elsewhere 0). */
import { execFileSync } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'

const CLOCK_TICKS = (() => { try { return Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100 } catch { return 100 } })()

/** These processes and their child processes (/proc/<pid>/task/<tid>/children), recursively. */
export function withChildren (pids: readonly number[]): number[] {
  const all = new Set<number>()
  const visit = (pid: number): void => {
    if (all.has(pid)) return
    all.add(pid)
    try {
      for (const tid of readdirSync(`/proc/${pid}/task`)) {
        for (const c of readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim().split(/\s+/)) if (c !== '') visit(Number(c))
      }
    } catch { /* not Linux, or gone */ }
  }
  for (const pid of pids) visit(pid)
  return [...all]
}

/** User + system CPU seconds of these processes so far (/proc/<pid>/stat, in clock ticks). */
export function cpuSeconds (pids: readonly number[]): number {
  let ticks = 0
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      ticks += Number(fields[11]) + Number(fields[12])
    } catch { /* not Linux, or gone */ }
  }
  return ticks / CLOCK_TICKS
}

/** One thread's counters: CPU (s), voluntary and involuntary context switches. */
export interface ThreadCounters { readonly name: string, readonly cpu: number, readonly voluntary: number, readonly involuntary: number }

/** Per-thread counters of these processes, keyed `pid/tid` (/proc/<pid>/task/<tid>/{stat,status}). */
export function threadCounters (pids: readonly number[]): Map<string, ThreadCounters> {
  const out = new Map<string, ThreadCounters>()
  for (const pid of pids) {
    let tids: string[]
    try { tids = readdirSync(`/proc/${pid}/task`) } catch { continue }
    for (const tid of tids) {
      try {
        const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8')
        const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'))
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
        const status = readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8')
        const count = (what: string): number => Number(new RegExp(`^${what}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? 0)
        out.set(`${pid}/${tid}`, { name, cpu: (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS, voluntary: count('voluntary_ctxt_switches'), involuntary: count('nonvoluntary_ctxt_switches') })
      } catch { /* the thread ended */ }
    }
  }
  return out
}
