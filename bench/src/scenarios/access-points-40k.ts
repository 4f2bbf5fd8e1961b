/**
 * The national network of access points (commune police offices, portals,
 * telecom shops), each holding one keep-alive connection and sending at a
 * modest rate: 40,000 connections at 20,000 req/s is one request every 2 s per
 * connection, well inside uWS's ~10 s idle timeout.
 */
import type { Scenario } from '../lib/scenario.js'

export const scenario: Scenario = {
  name: 'access-points-40k',
  description: '40,000 keep-alive connections, each paced with its own jittered offset; single POST /v1/verify (70/20/10)',
  mix: { 'verify-match': 70, 'verify-mismatch': 20, 'verify-unknown': 10 },
  connections: 40_000,
  rate: 20_000,
  durationSeconds: 60,
  warmupSeconds: 10,
  citizens: 1_000_000
}
