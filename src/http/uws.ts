/**
 * Loads uWebSockets.js and refuses the package's silent pure-JS fallback.
 *
 * We depend on @trufflesuite/uws-js-unofficial (upstream v20.30.0 binaries built
 * for glibc 2.27; newer republished builds need glibc 2.38). When its binary
 * cannot load it quietly returns a slow JavaScript imitation, which would miss
 * every latency target while looking healthy. The imitation has no SSLApp.
 */
import { createRequire } from 'node:module'
import type * as Uws from 'uWebSockets.js'

export type UwsModule = typeof Uws

const require = createRequire(import.meta.url)

export class NativeUwsUnavailableError extends Error {
  constructor (reason: string) {
    super(`uWebSockets.js native binary is not in use (${reason}); refusing to serve on the slow fallback. ` +
      `Use Node 16–20 on Linux/macOS x64 or arm64 with glibc >= 2.27, and unset UWS_USE_FALLBACK.`)
    this.name = 'NativeUwsUnavailableError'
  }
}

export function loadNativeUws (): UwsModule {
  let mod: UwsModule
  try {
    mod = require('uWebSockets.js') as UwsModule
  } catch (err) {
    throw new NativeUwsUnavailableError(`load failed: ${(err as Error).message}`)
  }
  if (typeof (mod as { SSLApp?: unknown }).SSLApp !== 'function') throw new NativeUwsUnavailableError('the loaded module has no SSLApp')
  return mod
}
