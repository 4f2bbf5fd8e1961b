/** Public-service portals: one citizen per request, interactive, latency-sensitive. */
import type { Scenario } from '../lib/scenario.js'

export const scenario: Scenario = {
  name: 'portal-verify',
  description: 'single POST /v1/verify: 70% full matches, 20% a wrong birth date, 10% unknown PINs',
  mix: { 'verify-match': 70, 'verify-mismatch': 20, 'verify-unknown': 10 },
  connections: 100,
  rate: 5000,
  durationSeconds: 30,
  warmupSeconds: 5,
  citizens: 1_000_000,
  // The throughput targets: ≥ 60% of the hello-world, ≥ 2× Fastify over the same store.
  baselines: ['hello', 'fastify']
}
