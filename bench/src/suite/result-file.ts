/**
 * What every result file of the suite shares: where it goes and its name
 * (date, git revision, scenario, time), and the header fields that say what
 * ran where (scenario, git, node, CPU, cores, load average, processes).
 */
import { execFileSync } from 'node:child_process'
import { mkdirSync } from 'node:fs'
import { availableParallelism, cpus, loadavg } from 'node:os'
import { join } from 'node:path'
import type { ProcessGroup } from '../lib/processes.js'
import { round2 } from './phase-figures.js'
import type { RunContext } from './run-context.js'

/** The revision under test: the short commit, with -dirty when tracked files have changed. */
export function gitDescribe (root: string): string {
  try {
    const sha = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim()
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: root, encoding: 'utf8' }).trim() !== ''
    return dirty ? `${sha}-dirty` : sha
  } catch { return 'unknown' }
}

/** The fields every result starts with. */
export interface ResultHeader {
  readonly scenario: string
  readonly description: string
  readonly git: string
  readonly node: string
  readonly cpu: string
  readonly cores: number
  /** Set when the hello-world burned CPU per request on purpose (HELLO_WORK_US). */
  readonly helloWorkUs?: number
}

export function resultHeader ({ options: { scenario, helloWorkUs }, git }: RunContext): ResultHeader {
  return {
    scenario: scenario.name,
    description: scenario.description,
    git,
    node: process.version,
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: availableParallelism(),
    // A hello-world made heavier on purpose (baseline-server.ts): its ratios are not judged.
    ...(helloWorkUs > 0 ? { helloWorkUs } : {})
  }
}

/** The result's path without extension, in --results (default bench/results/), which is made if missing. */
export function resultFile ({ options: { scenario, resultsDir: dir }, git }: RunContext, startedAt: Date, suffix = ''): string {
  mkdirSync(dir, { recursive: true })
  const stamp = startedAt.toISOString().slice(11, 19).replaceAll(':', '')
  return join(dir, `${startedAt.toISOString().slice(0, 10)}-${git}-${scenario.name}${suffix}-${stamp}`)
}

/** 1-minute load average before and after the run. */
export function loadAverage ({ loadAverageBefore }: RunContext): { before: number, after: number } {
  return { before: round2(loadAverageBefore), after: round2(loadavg()[0]!) }
}

/** How many processes the run started, their pids and how many still run (0 when all stopped). */
export function processCounts (group: ProcessGroup): { started: number, pids: number[], running: number } {
  return { started: group.started, pids: group.pids, running: group.running }
}
