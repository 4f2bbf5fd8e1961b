/**
 * What `idv load` shows while it runs: a bar on a terminal (phase, records/s,
 * ETA, rejects), plain lines every few seconds when the output is a file or a
 * pipe, or one JSON object per line (`--json`) for scripts. All go to stderr,
 * so stdout holds only the summary.
 */
import { Presets, SingleBar } from 'cli-progress'
import type { LoadProgress } from './loader.js'

export type ProgressMode = 'bar' | 'plain' | 'json'

export interface ProgressReporter {
  update: (p: LoadProgress) => void
  stop: () => void
}

const PLAIN_EVERY_MS = 5000
const JSON_EVERY_MS = 1000

export function progressReporter (mode: ProgressMode, out: NodeJS.WriteStream = process.stderr): ProgressReporter {
  if (mode === 'bar') return barReporter(out)
  const every = mode === 'json' ? JSON_EVERY_MS : PLAIN_EVERY_MS
  const format = mode === 'json' ? (p: LoadProgress, phaseStartMs: number) => JSON.stringify(progressFields(p, phaseStartMs)) : plainLine
  let last = -Infinity
  let lastPhase = ''
  let phaseStartMs = 0
  return {
    update: (p) => {
      const now = performance.now()
      if (p.phase !== lastPhase) phaseStartMs = p.elapsedMs
      // Every phase change is shown at once; within a phase, one line per interval.
      else if (now - last < every) return
      last = now
      lastPhase = p.phase
      out.write(`${format(p, phaseStartMs)}\n`)
    },
    stop: () => {}
  }
}

/** The figures both machine and human forms show. */
export function progressFields (p: LoadProgress, phaseStartMs = 0): Record<string, number | string | undefined> {
  const seconds = p.elapsedMs / 1000
  const { done, total } = position(p)
  const rate = p.phase === 'encode' || p.phase === 'sort' ? p.encoded / seconds : p.durable / seconds
  return {
    phase: p.phase,
    encoded: p.encoded,
    durable: p.durable,
    rejected: p.rejected,
    recordsPerSecond: Math.round(Number.isFinite(rate) ? rate : 0),
    percent: total !== undefined && total > 0 ? Math.min(100, Math.round(100 * done / total)) : undefined,
    etaSeconds: eta(p, phaseStartMs),
    elapsedSeconds: Math.round(seconds)
  }
}

function plainLine (p: LoadProgress, phaseStartMs: number): string {
  const f = progressFields(p, phaseStartMs)
  const pct = f.percent === undefined ? '' : ` ${String(f.percent)}%`
  const etaText = f.etaSeconds === undefined ? '' : ` | ETA ${String(f.etaSeconds)} s`
  return `load: ${p.phase}${pct} | ${p.encoded} encoded | ${p.durable} durable | ${String(f.recordsPerSecond)} rec/s${etaText} | rejected ${p.rejected}`
}

/** Progress within the current phase: source bytes while encoding, records while committing. */
function position (p: LoadProgress): { done: number, total: number | undefined } {
  return p.phase === 'encode' || p.phase === 'sort'
    ? { done: p.bytesRead, total: p.totalBytes }
    : { done: p.durable, total: p.toCommit }
}

/** Seconds left in this phase at the phase's own pace so far. */
function eta (p: LoadProgress, phaseStartMs: number): number | undefined {
  const { done, total } = position(p)
  const phaseMs = p.elapsedMs - phaseStartMs
  if (total === undefined || done === 0 || phaseMs <= 0) return undefined
  return Math.max(0, Math.round((phaseMs / done) * (total - done) / 1000))
}

function barReporter (out: NodeJS.WriteStream): ProgressReporter {
  const bar = new SingleBar({
    format: '{phase} {bar} {percentage}% | {rate} rec/s | ETA {eta_formatted} | durable {durable} | rejected {rejected}',
    hideCursor: true,
    stream: out,
    etaBuffer: 50
  }, Presets.shades_classic)
  let phase = ''
  return {
    update: (p) => {
      const { done, total } = position(p)
      const payload = { phase: p.phase.padEnd(6), rate: progressFields(p).recordsPerSecond, durable: p.durable, rejected: p.rejected }
      if (p.phase !== phase) {
        // A new phase restarts the bar (and its ETA) over its own unit of work.
        if (phase !== '') bar.stop()
        phase = p.phase
        bar.start(total ?? 1, done, payload)
        return
      }
      if (total !== undefined) bar.setTotal(total)
      bar.update(done, payload)
    },
    stop: () => { bar.stop() }
  }
}
