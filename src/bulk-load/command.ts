/**
 * `idv load`: opens the index, binds the hash key, runs the load with progress
 * on stderr, and prints what happened: the write path taken, durable records,
 * rejects, the index's size. Exit status: 0 loaded, 1 nothing loaded or a load
 * error (one line), 130 interrupted (what was durable stays; --resume finishes).
 */
import { existsSync, statSync } from 'node:fs'
import type { StoreKind } from '../config.js'
import { RecordCodec } from '../domain/record.js'
import { UsageError } from '../errors.js'
import { bindHashKey, openStore } from '../store/open.js'
import { loadFile, readLoadState, type LoadSummary } from './loader.js'
import { progressReporter, type ProgressMode } from './progress.js'
import { describeContent } from './sniff.js'

export interface LoadCommand {
  readonly file: string
  readonly store: StoreKind
  readonly dataDir: string
  readonly hashKey: Uint8Array
  readonly rejectFile: string
  readonly threads?: number
  readonly memoryBytes?: number
  readonly maxRejects?: number
  readonly resume: boolean
  readonly progress: ProgressMode
}

/** Runs the load; answers the process exit status. */
export async function runLoadCommand (c: LoadCommand): Promise<number> {
  if (c.file !== '-') {
    if (!existsSync(c.file)) throw new UsageError(`${c.file} does not exist`)
    if (!statSync(c.file).isFile()) throw new UsageError(`${c.file} is not a regular file`)
  }
  const store = await openStore(c.store, c.dataDir)
  const abort = new AbortController()
  const onSignal = (): void => { abort.abort() }
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)
  const reporter = progressReporter(c.progress)
  let summary: LoadSummary
  try {
    await bindHashKey(store, new RecordCodec(c.hashKey))
    const interrupted = c.resume ? undefined : readLoadState(store)
    if (interrupted !== undefined) {
      console.error(`idv: an earlier load of ${interrupted.source.file} was interrupted after ${interrupted.durable} records; this load starts over (idv load --resume FILE continues one instead)`)
    }
    summary = await loadFile({
      file: c.file,
      store,
      hashKey: c.hashKey,
      rejectFile: c.rejectFile,
      workDir: `${c.dataDir}.load`,
      threads: c.threads,
      memoryBytes: c.memoryBytes,
      maxRejects: c.maxRejects,
      resume: c.resume,
      onProgress: reporter.update,
      signal: abort.signal
    })
    reporter.update(summary)
    reporter.stop()
    const stats = store.stats()
    const how = summary.path === 'append' ? 'appended in key order into an empty index' : 'written as ordered updates into an index that had data'
    const lines = [
      `${summary.aborted ? 'interrupted: ' : ''}loaded ${summary.durable} records (durable, ${how}) from ${summary.lines} lines in ${(summary.elapsedMs / 1000).toFixed(1)} s: ${Math.round(summary.recordsPerSecond)} records/s`,
      summary.resumedAfter > 0 ? `resumed after ${summary.resumedAfter} records an earlier run had made durable` : undefined,
      summary.spilledRuns > 0 ? `sorted in ${summary.spilledRuns} runs spilled beside the index (--memory bounds what is held)` : undefined,
      summary.rejected > 0 ? `rejected ${summary.rejected} lines${summary.duplicatePins > 0 ? ` (${summary.duplicatePins} PINs on more than one line)` : ''}: see ${c.rejectFile}` : 'rejected 0 lines',
      `index: ${stats.entries} citizens, ${(stats.bytesOnDisk / 1e6).toFixed(1)} MB on disk, ${stats.entries > 0 ? (stats.bytesOnDisk / stats.entries).toFixed(1) : '0'} bytes per citizen`,
      summary.aborted ? 'what is durable stays; run the same command with --resume to finish' : undefined
    ]
    console.log(lines.filter((l) => l !== undefined).join('\n'))
  } finally {
    reporter.stop()
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
    await store.close()
  }
  if (summary.aborted) return 130
  if (summary.durable === 0 && summary.resumedAfter === 0) {
    // Exit 0 here would let a script go on with an empty index.
    console.error(`idv: nothing loaded from ${c.file === '-' ? 'standard input' : c.file}${c.file === '-' ? '' : `: ${describeContent(c.file)}`}`)
    return 1
  }
  return 0
}
