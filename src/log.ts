/**
 * Structured JSON logs (pino). Personal data never reaches a log line: code logs
 * masked PINs only (maskPin, domain/pin.ts), and the redact list below is a
 * second line of defence for objects that carry request fields by mistake.
 *
 * The access log writes one line per request: request id, relying party, route,
 * status and latency, never a PIN, a name or an attribute. It is sampled (every
 * Nth request for a rate of 1/N, counted rather than drawn at random, so it
 * costs no random number and the share is exact); server errors (5xx) are
 * always logged.
 */
import { pino, type Logger as PinoLogger } from 'pino'

export type Logger = PinoLogger

export function createLogger (level: string, destination?: NodeJS.WritableStream): Logger {
  return pino({
    level,
    base: { service: 'idv' },
    redact: { paths: ['pin', '*.pin', 'fullName', '*.fullName', 'attributes', '*.attributes', 'body', '*.body'], censor: '[redacted]' }
  }, destination as pino.DestinationStream | undefined)
}

export class AccessLog {
  readonly #log: Logger
  readonly #every: number
  #seen = 0

  /** `sampleRate` 0–1: the share of requests logged (0: only server errors). */
  constructor (log: Logger, sampleRate: number) {
    if (!(sampleRate >= 0 && sampleRate <= 1)) throw new RangeError('sampleRate must be from 0 to 1')
    this.#log = log
    this.#every = sampleRate === 0 ? 0 : Math.max(1, Math.round(1 / sampleRate))
  }

  request (requestId: string | undefined, party: string | undefined, route: string, status: number, ms: number): void {
    if (status < 500) {
      if (this.#every === 0 || ++this.#seen < this.#every) return
      this.#seen = 0
    }
    this.#log.info({ requestId, party: party ?? null, route, status, ms: Math.round(ms * 1000) / 1000 }, 'request')
  }
}
