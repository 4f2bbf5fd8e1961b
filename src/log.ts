/**
 * Structured JSON logs (pino). Personal data never reaches a log line: code logs
 * masked PINs only, and the redact list below is a second line of defence for
 * objects that carry request fields by mistake.
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
