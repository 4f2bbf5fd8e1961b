/** Banks and telecom shops reading chip ID cards over NFC: passive authentication plus a register match. */
import type { Scenario } from '../lib/scenario.js'

export const scenario: Scenario = {
  name: 'chip',
  description: 'POST /v1/chip/verify: 80% genuine chips of registered citizens, 20% tampered DG2 or an untrusted Document Signer',
  mix: { 'chip-valid': 80, 'chip-invalid': 20 },
  connections: 50,
  rate: 1000,
  durationSeconds: 30,
  warmupSeconds: 5,
  citizens: 1_000_000,
  // The hello-world and the peer stack (Fastify with the same chip pool and domain code).
  baselines: ['hello', 'fastify']
}
