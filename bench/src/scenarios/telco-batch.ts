/** Telecom operators checking SIM subscribers in bulk: 1,000 items per batch, as fast as the service answers. */
import type { Scenario } from '../lib/scenario.js'

export const scenario: Scenario = {
  name: 'telco-batch',
  description: 'POST /v1/verify/batch with 1,000 items each (70/20/10 match/mismatch/unknown), closed loop',
  mix: { 'batch-1000': 1 },
  connections: 8,
  rate: 0,
  durationSeconds: 30,
  warmupSeconds: 5,
  citizens: 1_000_000,
  // Issue 6: at least 50% of a raw loop (store read plus keyed hashes, no HTTP) on all cores.
  baselines: ['hello', 'raw']
}
