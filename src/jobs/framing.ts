/**
 * Item framing of a streamed body: NDJSON (one JSON value per line) or a
 * MessagePack sequence (values one after another). Bytes are pushed as they
 * arrive; `next()` hands out the bytes of one whole item at a time, so each is
 * then decoded by the same strict decoder as any other body (src/http/media.ts:
 * plain data only, no duplicate keys). Framing itself fails only on what makes
 * the rest of the stream unreadable: a line over the limit, bytes that are not
 * MessagePack. Memory: the unread bytes and one item, never the stream.
 */
export type StreamFormat = 'ndjson' | 'msgpack-seq'

export const STREAM_TYPES: Readonly<Record<StreamFormat, string>> = {
  ndjson: 'application/x-ndjson',
  // No registered name exists for a MessagePack sequence. application/vnd.msgpack (what single bodies use)
  // names one value; the '-seq' suffix marks concatenated values, as application/json-seq (RFC 7464) does for JSON.
  'msgpack-seq': 'application/vnd.msgpack-seq'
}

/** The stream format of a Content-Type, or undefined. */
export function streamFormat (contentType: string): StreamFormat | undefined {
  const semi = contentType.indexOf(';')
  const type = (semi < 0 ? contentType : contentType.slice(0, semi)).trim().toLowerCase()
  if (type === 'application/x-ndjson' || type === 'application/jsonl') return 'ndjson'
  if (type === 'application/vnd.msgpack-seq') return 'msgpack-seq'
  return undefined
}

/** One item's bytes; `blank` lines of NDJSON are skipped, not items. */
export type Framed = Uint8Array | typeof NEED_MORE | FramingError

export const NEED_MORE = Symbol('need more bytes')

export class FramingError {
  constructor (readonly detail: string) {}
}

export class ItemFramer {
  readonly format: StreamFormat
  readonly #maxItemBytes: number
  #buf: Buffer = Buffer.alloc(0)
  #start = 0
  #end = 0
  #ended = false
  /** Where the NDJSON newline search resumes (bytes before it hold none). */
  #scanned = 0

  constructor (format: StreamFormat, maxItemBytes: number) {
    this.format = format
    this.#maxItemBytes = maxItemBytes
  }

  /** Bytes received and not yet handed out. */
  get buffered (): number {
    return this.#end - this.#start
  }

  /** Copies a chunk in (uWS neuters its chunks when the callback returns). */
  push (chunk: Uint8Array): void {
    if (chunk.byteLength === 0) return
    const live = this.#end - this.#start
    if (this.#end + chunk.byteLength > this.#buf.length) {
      // Compact, growing only when the live bytes need it.
      const size = Math.max(64 * 1024, live + chunk.byteLength, this.#buf.length > live * 2 + chunk.byteLength ? 0 : this.#buf.length * 2)
      const next = size > this.#buf.length ? Buffer.allocUnsafe(size) : this.#buf
      this.#buf.copy(next, 0, this.#start, this.#end)
      this.#scanned -= this.#start
      this.#buf = next
      this.#end = live
      this.#start = 0
    }
    this.#buf.set(chunk, this.#end)
    this.#end += chunk.byteLength
  }

  /** No more bytes will come: a last line without a newline is an item; a cut MessagePack value is a framing error. */
  end (): void {
    this.#ended = true
  }

  next (): Framed {
    return this.format === 'ndjson' ? this.#line() : this.#value()
  }

  #line (): Framed {
    for (;;) {
      if (this.#start === this.#end) return NEED_MORE
      const from = Math.max(this.#start, this.#scanned)
      const nl = this.#buf.indexOf(0x0a, from)
      let stop: number
      if (nl < 0 || nl >= this.#end) {
        this.#scanned = this.#end
        if (this.#end - this.#start > this.#maxItemBytes) return new FramingError(`a line is longer than ${this.#maxItemBytes} bytes`)
        if (!this.#ended) return NEED_MORE
        stop = this.#end
      } else {
        stop = nl
      }
      if (stop - this.#start > this.#maxItemBytes) return new FramingError(`a line is longer than ${this.#maxItemBytes} bytes`)
      let last = stop
      if (last > this.#start && this.#buf[last - 1] === 0x0d) last-- // CRLF
      const item = this.#buf.subarray(this.#start, last)
      this.#start = stop === this.#end ? stop : stop + 1
      this.#scanned = this.#start
      if (isBlank(item)) continue
      return item
    }
  }

  #value (): Framed {
    if (this.#start === this.#end) return NEED_MORE
    const end = msgpackValueEnd(this.#buf, this.#start, this.#end)
    if (end === INVALID) return new FramingError('the bytes are not a MessagePack value (extension types are not accepted)')
    if (end === INCOMPLETE) {
      if (this.#end - this.#start > this.#maxItemBytes) return new FramingError(`a MessagePack value is longer than ${this.#maxItemBytes} bytes`)
      return this.#ended ? new FramingError('the stream ends inside a MessagePack value') : NEED_MORE
    }
    if (end - this.#start > this.#maxItemBytes) return new FramingError(`a MessagePack value is longer than ${this.#maxItemBytes} bytes`)
    const item = this.#buf.subarray(this.#start, end)
    this.#start = end
    return item
  }
}

function isBlank (b: Uint8Array): boolean {
  for (let i = 0; i < b.length; i++) {
    const c = b[i]
    if (c !== 0x20 && c !== 0x09 && c !== 0x0d) return false
  }
  return true
}

const INCOMPLETE = -1
const INVALID = -2
/** Deeper nesting than the strict decoder allows (32) is refused by it anyway; this bounds the walk. */
const MAX_NESTING = 64

/**
 * The end of the MessagePack value starting at `p` (headers only; payloads are
 * skipped by length), INCOMPLETE when it runs past `end`, INVALID for a byte no
 * value starts with here (never used, or an extension type).
 */
export function msgpackValueEnd (b: Uint8Array, p: number, end: number): number {
  let pending = 1 // values still to read at this point
  let depth = 0
  const stack: number[] = []
  while (pending > 0) {
    if (p >= end) return INCOMPLETE
    const t = b[p]!
    let skip = 0
    let children = 0
    let head = 1
    if (t <= 0x7f || t >= 0xe0 || t === 0xc0 || t === 0xc2 || t === 0xc3) { /* fixint, nil, bool */ } else if (t >= 0xa0 && t <= 0xbf) skip = t & 0x1f
    else if (t >= 0x90 && t <= 0x9f) children = t & 0x0f
    else if (t >= 0x80 && t <= 0x8f) children = (t & 0x0f) * 2
    else {
      const lenBytes = t === 0xd9 || t === 0xc4 ? 1 : t === 0xda || t === 0xc5 || t === 0xdc || t === 0xde ? 2 : t === 0xdb || t === 0xc6 || t === 0xdd || t === 0xdf ? 4 : 0
      if (lenBytes > 0) {
        if (p + 1 + lenBytes > end) return INCOMPLETE
        let n = 0
        for (let i = 0; i < lenBytes; i++) n = n * 256 + b[p + 1 + i]!
        head = 1 + lenBytes
        if (t === 0xdc || t === 0xdd) children = n
        else if (t === 0xde || t === 0xdf) children = n * 2
        else skip = n
      } else {
        const fixed = t === 0xcc || t === 0xd0 ? 1 : t === 0xcd || t === 0xd1 ? 2 : t === 0xce || t === 0xd2 || t === 0xca ? 4 : t === 0xcf || t === 0xd3 || t === 0xcb ? 8 : -1
        if (fixed < 0) return INVALID // 0xc1 (never used) and every extension type
        skip = fixed
      }
    }
    p += head + skip
    if (p > end) return INCOMPLETE
    pending--
    if (children > 0) {
      if (++depth > MAX_NESTING) return INVALID
      stack.push(pending)
      pending = children
    }
    while (pending === 0 && stack.length > 0) {
      pending = stack.pop()!
      depth--
    }
  }
  return p
}
