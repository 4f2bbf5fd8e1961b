/**
 * Collects a request body from uWS with a byte limit.
 *
 * uWS hands out chunks that are neutered when the callback returns, so each is
 * copied once into a buffer sized from Content-Length (bounded by the limit).
 * A declared length over the limit is refused before any byte is read; a body
 * that grows past it while streaming (chunked) is refused as soon as it does.
 * Either way the connection is closed, so the rest is never read.
 */
import type { HttpResponse } from 'uWebSockets.js'

export interface BodyHandlers {
  /** The complete body. Still inside uWS's callback, so writing is corked. */
  onBody (body: Buffer): void
  /** The body exceeded `limit` bytes. */
  onTooLarge (): void
  /** The client went away; the response must not be used any more. */
  onAborted (): void
}

/** Reads the body; `declaredLength` is the Content-Length header ('' when absent). */
export function readBody (res: HttpResponse, declaredLength: string, limit: number, handlers: BodyHandlers): void {
  const declared = declaredLength === '' ? -1 : Number(declaredLength)
  if (declared > limit) {
    handlers.onTooLarge()
    return
  }
  let buffer = Buffer.allocUnsafe(declared >= 0 ? declared : Math.min(limit, 16 * 1024))
  let length = 0
  let done = false
  res.onAborted(() => {
    done = true
    handlers.onAborted()
  })
  res.onData((chunk, isLast) => {
    if (done) return
    const size = chunk.byteLength
    if (length + size > limit) {
      done = true
      handlers.onTooLarge()
      return
    }
    if (length + size > buffer.length) {
      const grown = Buffer.allocUnsafe(Math.min(limit, Math.max(buffer.length * 2, length + size)))
      buffer.copy(grown, 0, 0, length)
      buffer = grown
    }
    buffer.set(new Uint8Array(chunk), length)
    length += size
    if (isLast) {
      done = true
      handlers.onBody(length === buffer.length ? buffer : buffer.subarray(0, length))
    }
  })
}
