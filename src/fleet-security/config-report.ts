/**
 * What a node says about the registry it enforces, in the fleet bucket
 * (`idv_fleet`) beside its replication report (`node.<id>`): written when its
 * config version changes, not every second, so the key is `config.<id>` and
 * the replicator's report stays as it was. `idv fleet status` joins the two.
 */
import type { NatsConnection } from '@nats-io/transport-node'
import { Kvm } from '@nats-io/kv'
import { FLEET_BUCKET } from '../replication/index.js'

export interface ConfigReport {
  readonly nodeId: string
  /** The revision of `idv_parties/parties` installed (0: none yet). */
  readonly configVersion: number
  readonly reportedAt: string
}

export const configKey = (nodeId: string): string => `config.${nodeId}`

/** Every node's reported config version, by node id. */
export async function configReports (nc: NatsConnection): Promise<Map<string, number>> {
  const kv = await new Kvm(nc).open(FLEET_BUCKET)
  const versions = new Map<string, number>()
  for await (const key of await kv.keys('config.>')) {
    const entry = await kv.get(key)
    if (entry === null || entry.operation !== 'PUT') continue
    try {
      const report = entry.json<ConfigReport>()
      if (typeof report.configVersion === 'number') versions.set(report.nodeId, report.configVersion)
    } catch { /* a damaged report counts as none */ }
  }
  return versions
}
