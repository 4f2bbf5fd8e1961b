/**
 * What a node says about the registry it enforces, in the fleet bucket
 * (`idv_fleet`) beside its replication report (`node.<id>`): written when its
 * config version changes, not every second, so the key is `config.<id>` and
 * the replicator's report stays as it was. `idv fleet status` joins the two.
 */
export interface ConfigReport {
  readonly nodeId: string
  /** The revision of `idv_parties/parties` installed (0: none yet). */
  readonly configVersion: number
  readonly reportedAt: string
}

export const configKey = (nodeId: string): string => `config.${nodeId}`
