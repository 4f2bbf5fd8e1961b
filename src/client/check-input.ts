/**
 * The rows of an operator's file, as verification items, one NDJSON line each:
 * a CSV export (header `pin,fullName,dateOfBirth,…`, optional `ref`; quoted
 * fields, a BOM, CRLF line ends: parsed by csv-parse) or NDJSON items
 * (`{ref?, pin, attributes}`, passed through as they are). A CSV row's ref is
 * its `ref` column, or else its number (0 for the first row after the
 * header). Empty CSV cells are attributes not asked.
 *
 * The same file always gives the same lines, so a resumed run can skip the
 * rows (or bytes) already sent and send the rest.
 */
import { createReadStream, openSync, readSync, closeSync } from 'node:fs'
import { createInterface } from 'node:readline'
import { parse } from 'csv-parse'
import { ATTRIBUTES } from '../domain/record.js'
import { UsageError } from '../errors.js'

export type InputKind = 'csv' | 'ndjson'

/** CSV unless the file's first character (after a BOM and blanks) opens a JSON object. */
export function inputKind (file: string): InputKind {
  const fd = openSync(file, 'r')
  try {
    const head = Buffer.alloc(256)
    const n = readSync(fd, head, 0, head.length, 0)
    const text = head.subarray(0, n).toString('utf8').replace(/^\uFEFF/, '').trimStart()
    return text.startsWith('{') ? 'ndjson' : 'csv'
  } finally {
    closeSync(fd)
  }
}

const KNOWN = new Set<string>(ATTRIBUTES)

/** The file's rows as NDJSON item lines (no newline), in order. */
export async function * itemLines (file: string): AsyncGenerator<string> {
  if (inputKind(file) === 'ndjson') {
    const lines = createInterface({ input: createReadStream(file, { encoding: 'utf8' }), crlfDelay: Infinity })
    let first = true
    for await (let line of lines) {
      if (first) { line = line.replace(/^\uFEFF/, ''); first = false }
      if (line.trim() === '') continue
      yield line
    }
    return
  }
  const parser = createReadStream(file).pipe(parse({ bom: true, columns: (header: string[]) => checkHeader(header), skip_empty_lines: true, trim: true, relax_column_count: false }))
  let n = 0
  for await (const record of parser as AsyncIterable<Record<string, string>>) {
    const attributes: Record<string, string> = {}
    for (const name of ATTRIBUTES) {
      const v = record[name]
      if (v !== undefined && v !== '') attributes[name] = v
    }
    const ref = record.ref !== undefined && record.ref !== '' ? record.ref : n
    yield JSON.stringify({ ref, pin: record.pin ?? '', attributes })
    n++
  }
}

function checkHeader (header: string[]): string[] {
  const names = header.map((h) => h.trim())
  if (!names.includes('pin')) throw new UsageError(`the CSV header has no pin column (it has ${names.join(', ')}); expected pin,${ATTRIBUTES.join(',')} (any of the attributes, and optionally ref)`)
  const unknown = names.filter((h) => h !== 'pin' && h !== 'ref' && !KNOWN.has(h))
  if (unknown.length > 0) throw new UsageError(`the CSV header names unknown columns: ${unknown.join(', ')} (known: ref, pin, ${ATTRIBUTES.join(', ')})`)
  return names
}

/** Rows in the file (one pass, for the progress bar's total). */
export async function countRows (file: string): Promise<number> {
  let n = 0
  for await (const _ of itemLines(file)) n++
  return n
}
