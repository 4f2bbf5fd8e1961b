/**
 * `idv fleet status`: the feed's stream (last sequence, replicas and their
 * currency), and every registered node's last report: applied sequence, lag
 * in changes and seconds, readiness with its reason, and how old the report is
 * (a node that stopped reporting is named as silent), and the fleet party
 * registry's version it enforces (src/fleet-security; `-` where it runs none).
 */
import type { NatsConnection } from '@nats-io/transport-node'
import { connectFleet, fleetManager, STREAM, type NodeReport } from '../replication/index.js'
import { nodeReports } from './publish.js'
import { configReports } from '../fleet-security/index.js'

export interface FleetStatus {
  readonly stream: { readonly lastSeq: number, readonly firstSeq: number, readonly messages: number, readonly replicas: number, readonly leader?: string, readonly mirror?: string } | undefined
  readonly nodes: ReadonlyArray<NodeReport & { readonly reportAgeSeconds: number }>
}

/** Reports older than this are from a node that stopped reporting. */
const SILENT_SECONDS = 10

export async function fleetStatus (servers: string): Promise<FleetStatus> {
  const nc: NatsConnection = await connectFleet(servers, { name: 'idv-fleet-status' })
  try {
    const jsm = await fleetManager(nc)
    const info = await jsm.streams.info(STREAM).catch(() => undefined)
    const now = Date.now()
    const versions = await configReports(nc).catch(() => new Map<string, number>())
    const nodes = (await nodeReports(nc).catch(() => [])).map((r) => ({ ...r, ...configVersionOf(versions, r.nodeId), reportAgeSeconds: (now - Date.parse(r.reportedAt)) / 1000 }))
    nodes.sort((a, b) => a.nodeId < b.nodeId ? -1 : 1)
    return {
      stream: info === undefined
        ? undefined
        : {
            lastSeq: info.state.last_seq,
            firstSeq: info.state.first_seq,
            messages: info.state.messages,
            replicas: info.config.num_replicas,
            ...(info.cluster?.leader === undefined ? {} : { leader: info.cluster.leader }),
            ...(info.config.mirror?.name === undefined ? {} : { mirror: info.config.mirror.name })
          },
      nodes
    }
  } finally {
    await nc.close()
  }
}

function configVersionOf (versions: ReadonlyMap<string, number>, nodeId: string): { configVersion?: number } {
  const v = versions.get(nodeId)
  return v === undefined ? {} : { configVersion: v }
}

export function formatFleetStatus (s: FleetStatus): string {
  const lines: string[] = []
  if (s.stream === undefined) lines.push(`stream ${STREAM}: none (nothing published yet)`)
  else lines.push(`stream ${STREAM}: seq ${s.stream.firstSeq}..${s.stream.lastSeq} (${s.stream.messages} changes), R${s.stream.replicas}${s.stream.leader === undefined ? '' : `, leader ${s.stream.leader}`}${s.stream.mirror === undefined ? '' : `, mirror of ${s.stream.mirror}`}`)
  if (s.nodes.length === 0) lines.push('no node has reported')
  const rows = s.nodes.map((n) => [
    n.nodeId,
    String(n.applied),
    String(n.lagChanges),
    n.lagSeconds.toFixed(1),
    n.configVersion === undefined ? '-' : String(n.configVersion),
    // Last: the only column with spaces (a reason).
    n.reportAgeSeconds > SILENT_SECONDS ? `silent ${Math.round(n.reportAgeSeconds)} s` : n.ready ? 'ready' : `not ready: ${n.reason ?? n.state}`
  ])
  if (rows.length > 0) {
    const head = ['node', 'applied', 'lag', 'lag s', 'config', 'state']
    const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
    const fmt = (r: string[]): string => r.map((c, i) => i === r.length - 1 ? c : c.padEnd(widths[i]!)).join('  ')
    lines.push(fmt(head), ...rows.map(fmt))
  }
  return lines.join('\n')
}
