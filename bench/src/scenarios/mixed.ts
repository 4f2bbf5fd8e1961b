/**
 * The three callers together, by request count: portals dominate, chip readers
 * follow, telco batches are rare but each carries 1,000 records (so they are
 * most of the records verified).
 */
import type { Scenario } from '../lib/scenario.js'

export const scenario: Scenario = {
  name: 'mixed',
  description: 'portal verify 89% (70/20/10), chip 10% (80/20 valid/invalid), 1,000-item batches 1%, by request count',
  mix: { 'verify-match': 62.3, 'verify-mismatch': 17.8, 'verify-unknown': 8.9, 'chip-valid': 8, 'chip-invalid': 2, 'batch-1000': 1 },
  connections: 500,
  rate: 2000,
  durationSeconds: 30,
  warmupSeconds: 5,
  citizens: 1_000_000,
  // The hello-world and the peer stack (Fastify with the same chip pool and domain code).
  baselines: ['hello', 'fastify']
}
