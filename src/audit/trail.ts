/**
 * What the answering routes use (the AUDIT service): `record` holds an answer
 * until its entries are durable, and `pinHash` names the citizen without the
 * PIN. A route calls record with the answer's entries and sends the answer
 * only from `done`; from `fail` it sends the 503 problem instead.
 */
import { createHmac, type KeyObject, createSecretKey } from 'node:crypto'
import type { Counter } from '../capability.js'
import { ServiceError } from '../errors.js'
import { leafHashOfString } from '../merkle/rfc6962.js'
import './codes.js'
import type { AuditRecord } from './entry.js'
import type { AuditSink } from './relay.js'

/** Domain separation from every other keyed hash made with the node's hash key. */
const PIN_LABEL = 'idv/audit-pin/v1:'

export class AuditTrail {
  readonly #sink: AuditSink
  readonly #key: KeyObject
  readonly #entries: Counter
  readonly #failures: Counter

  constructor (sink: AuditSink, hashKey: Uint8Array, counters: { readonly entries: Counter, readonly failures: Counter }) {
    this.#sink = sink
    this.#key = createSecretKey(hashKey)
    this.#entries = counters.entries
    this.#failures = counters.failures
  }

  /** The citizen's name in the log: HMAC-SHA-256(hash key, label ‖ 12-digit PIN), 128 bits, base64url. */
  pinHash (pinKey: number): string {
    return createHmac('sha256', this.#key).update(`${PIN_LABEL}${String(pinKey).padStart(12, '0')}`).digest().subarray(0, 16).toString('base64url')
  }

  /** The receipt's leaf hash as the entry carries it. */
  receiptLeafHash (leaf: string): string {
    return leafHashOfString(leaf).toString('base64url')
  }

  /** Records entries; `done` once durable, `fail` with a 503 IDV_ERR_AUDIT_UNAVAILABLE if they cannot be. */
  record (records: readonly AuditRecord[], done: () => void, fail: (err: ServiceError) => void): void {
    this.#sink.append(records, () => {
      this.#entries.add(0, 0, records.length)
      done()
    }, (reason) => {
      this.#failures.add(0, 0, records.length)
      fail(new ServiceError('IDV_ERR_AUDIT_UNAVAILABLE', `${reason}; the answer was not sent`))
    })
  }
}
