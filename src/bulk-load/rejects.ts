/**
 * Rejected lines as NDJSON: line number and reason only; the source line holds
 * personal data and stays in the source. The file is created on the first reject.
 */
import { createWriteStream, type WriteStream } from 'node:fs'

export class RejectWriter {
  readonly #file: string
  #out: WriteStream | undefined
  #first: string | undefined

  constructor (file: string) { this.#file = file }

  write (rejects: ReadonlyArray<readonly [number, string]>): void {
    if (rejects.length === 0) return
    this.#out ??= createWriteStream(this.#file, { flags: 'w', mode: 0o600 })
    this.#first ??= `line ${rejects[0]![0]}: ${rejects[0]![1]}`
    let text = ''
    for (const [line, reason] of rejects) text += `${JSON.stringify({ line, reason })}\n`
    this.#out.write(text)
  }

  /** Every line of a PIN that appears more than once: none of them is loaded. */
  duplicate (lines: readonly number[]): void {
    const shown = (others: number[]): string => others.length <= 5 ? others.join(', ') : `${others.slice(0, 5).join(', ')} and ${others.length - 5} more`
    this.write(lines.map((line) => [line, `duplicate PIN: the same PIN is also on line ${shown(lines.filter((l) => l !== line))}; none of these lines is loaded`] as const))
  }

  /** The first reject, for a one-line message. */
  first (): string { return this.#first ?? 'none' }

  async close (): Promise<void> {
    const out = this.#out
    if (out === undefined) return
    await new Promise<void>((resolve, reject) => { out.end((err?: Error | null) => { err == null ? resolve() : reject(err) }) })
  }
}
