/**
 * Request ids: a random per-process prefix and a counter. Unique across
 * restarts and threads without a syscall or a UUID per request.
 */
import { randomBytes } from 'node:crypto'

export class RequestIds {
  readonly #prefix = randomBytes(6).toString('base64url')
  #seq = 0

  next (): string {
    return `${this.#prefix}${(++this.#seq).toString(36).padStart(6, '0')}`
  }
}
