/**
 * What a run works with once its options are resolved and its resources are
 * set up (bench/src/run.ts): the dataset, the prebuilt requests, the process
 * group, the servers to compare. Both kinds of run (a scenario beside its
 * baselines, a sweep) and their reports take it.
 */
import type { Dataset } from '../lib/dataset.js'
import type { ProcessGroup } from '../lib/processes.js'
import type { BuiltPool } from '../lib/request-pool.js'
import type { RunOptions } from './run-options.js'
import type { ServerPhases } from './server-phases.js'

export interface RunContext {
  readonly options: RunOptions
  /** Threads per server process (the service's default unless --server-threads). */
  readonly threads: number
  readonly dataset: Dataset
  readonly pool: BuiltPool
  readonly group: ProcessGroup
  readonly servers: ServerPhases
  /** The git revision under test (`abc1234`, `-dirty` when the tree has changes). */
  readonly git: string
  /** 1-minute load average before the run: other work on a shared machine shows here. */
  readonly loadAverageBefore: number
  readonly log: (s: string) => void
}
