/** Piscina task for bench/src/offload.ts: verifies a batch of Ed25519 signatures (SPKI DER key, message, signature). */
import { createPublicKey, verify, type KeyObject } from 'node:crypto'

let key: KeyObject | undefined
let keyDer: Buffer | undefined

export default function verifyBatch (task: { publicKey: Uint8Array, items: Array<{ data: Uint8Array, signature: Uint8Array }> }): number {
  if (keyDer === undefined || !keyDer.equals(task.publicKey)) {
    keyDer = Buffer.from(task.publicKey)
    key = createPublicKey({ key: keyDer, format: 'der', type: 'spki' })
  }
  let ok = 0
  for (const item of task.items) if (verify(null, item.data, key!, item.signature)) ok++
  return ok
}
