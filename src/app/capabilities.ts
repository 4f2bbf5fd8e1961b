/**
 * The capabilities this service runs, in order: each is one folder under src/
 * with one entry point (src/capability.ts says what a capability is). Process
 * parts start in this order and close in reverse; a capability may use the
 * services of those before it (metrics first: everyone records; admission,
 * receipts and audit before the routes that use them). Adding a capability is one line.
 */
import type { AnyCapability } from '../capability.js'
import { metrics } from '../metrics/index.js'
import { admission } from '../admission/index.js'
import { receipts } from '../receipts/index.js'
import { audit } from '../audit/index.js'
import { verify } from '../verify/index.js'
import { chip } from '../chip/index.js'
import { jobs } from '../jobs/index.js'
import { cardQr } from '../card-qr/index.js'
import { replicationCapability } from '../replication/index.js'
import { objectStoreSnapshots } from '../fleet/snapshots.js'
import { fleetSecurity } from '../fleet-security/index.js'
import { catalogueOf } from './runtime.js'

export const CAPABILITIES: readonly AnyCapability[] = [
  metrics,
  admission,
  receipts,
  audit,
  verify,
  chip,
  jobs,
  cardQr,
  // A node re-bootstraps from the Object Store's snapshots on a gap (src/fleet/snapshots.ts: a tool, so handed in here).
  replicationCapability(objectStoreSnapshots),
  fleetSecurity
]

/** The routes and metric families the list declares: the metrics block's layout, the same in every thread. */
export const CATALOGUE = catalogueOf(CAPABILITIES)
