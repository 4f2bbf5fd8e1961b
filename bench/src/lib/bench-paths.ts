/**
 * Where the bench package's own files are: its compiled scripts (the servers
 * and traffic processes a run starts are bench/dist/… files), bench/slo.json
 * and bench/results/. Found from this module's own place, which is
 * bench/src/lib under vitest and bench/dist/lib when built, so both agree.
 * (The product's files, such as dist/src/app/cli.js and .bench-data/, are
 * found from packageRoot(), the repository root.)
 */
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

/** The bench/ directory (the bench workspace's root). */
export const BENCH_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..')

/** A compiled bench script: benchScript('lib', 'baseline-server.js') is bench/dist/lib/baseline-server.js. */
export function benchScript (...parts: string[]): string {
  return join(BENCH_ROOT, 'dist', ...parts)
}

/** bench/slo.json, the suite's targets. */
export const SLO_FILE = join(BENCH_ROOT, 'slo.json')

/** bench/results/, where result JSON goes (gitignored except baselines/). */
export const RESULTS_DIR = join(BENCH_ROOT, 'results')
