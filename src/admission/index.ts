/**
 * The admission capability: every /v1 request is signed by a registered
 * relying party (src/signatures/, src/parties/), fresh, not replayed, allowed
 * by the party's policy and within its rate and quota (admission.ts). The
 * process part makes the state every thread shares (nonce memory and rate
 * buckets: SharedArrayBuffers, or an LMDB environment in cluster mode,
 * cluster-state.ts); each thread attaches to it, reads the party registry
 * itself and offers ADMISSION to the routes. IDV_AUTH=none: nothing at all.
 */
import { serviceKey, type Capability } from '../capability.js'
import { clusterStatePath, type Config } from '../config.js'
import type { Logger } from '../log.js'
import { Admission, type AdmissionHandle, type AdmissionOptions } from './admission.js'
import { ClusterState } from './cluster-state.js'

export { Admission, type AdmissionHandle, type Caller, type CapturedRequest, type FleetCheck } from './admission.js'
export type { RateDecision } from './rate-limiter.js'

/** The service the /v1 routes ask to authenticate and admit their requests. */
export const ADMISSION = serviceKey<Admission>('admission')

export function admissionOptions (config: Config, log: Logger): AdmissionOptions {
  // A member of a cluster shares nonces and rate buckets with the other processes (LMDB); one process, with its threads (SharedArrayBuffers).
  return { partiesFile: config.partiesFile, windowSeconds: config.signatureWindowSeconds, nonceSlots: config.nonceSlots, nodeStatePath: config.processes > 1 ? clusterStatePath(config) : undefined, log }
}

export const admission: Capability<AdmissionHandle> = {
  name: 'admission',
  // Cluster mode: the members share nonces and buckets in LMDB; the supervisor sweeps expired nonces once a second.
  supervise ({ config, log }) {
    if (config.auth !== 'signatures') return undefined
    const state = ClusterState.open(clusterStatePath(config), { slots: config.nonceSlots })
    const sweeper = setInterval(() => {
      try {
        state.sweep(Math.floor(Date.now() / 1000))
      } catch (err) { // the members go on without sweeps (and answer 503 once full): worth an alert, not a stop
        log.error({ err }, 'sweeping expired nonces failed')
      }
    }, 1000)
    return { close: async () => { clearInterval(sweeper); await state.close() } }
  },
  process (ctx) {
    if (ctx.config.auth === 'none') return {}
    const handle = Admission.createState(admissionOptions(ctx.config, ctx.log))
    return { local: handle, share: () => ({ value: handle }) }
  },
  thread (ctx, handle) {
    if (handle === undefined) return undefined
    const gate = Admission.attach(admissionOptions(ctx.config, ctx.log), handle)
    ctx.provide(ADMISSION, gate)
    return {
      reload () {
        const parties = gate.reload()
        if (!parties.ok) ctx.log.error({ problems: parties.problems }, 'relying-party registry not reloaded: the file is invalid')
      },
      close: () => { gate.close() }
    }
  }
}
