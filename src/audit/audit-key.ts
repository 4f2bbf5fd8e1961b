/**
 * The node's checkpoint signing key: a note signer key in a 0600 file
 * (checkpoint.ts), made on first start. Cluster members share the file; the
 * first to start writes it (exclusively) and the others read it.
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { generateSignerKey, parseSignerKey, type NoteSigner } from './checkpoint.js'

export function loadOrCreateAuditKey (file: string, name: string): NoteSigner {
  try {
    writeFileSync(file, `${generateSignerKey(name)}\n`, { flag: 'wx', mode: 0o600 })
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
  }
  try {
    return parseSignerKey(readFileSync(file, 'utf8'))
  } catch (err) {
    throw new Error(`audit key file ${file}: ${err instanceof Error ? err.message : String(err)}`)
  }
}
