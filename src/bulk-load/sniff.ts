/**
 * What a file that loaded nothing looks like, so `idv load` can say why in one
 * line instead of leaving the user with a rejects file of "not JSON" lines.
 * Reads the first 64 KiB only.
 */
import { closeSync, openSync, readSync } from 'node:fs'

const SAMPLE_BYTES = 64 * 1024

export function describeContent (file: string): string {
  const sample = Buffer.alloc(SAMPLE_BYTES)
  const fd = openSync(file, 'r')
  let n: number
  try {
    n = readSync(fd, sample, 0, SAMPLE_BYTES, 0)
  } finally {
    closeSync(fd)
  }
  const head = sample.subarray(0, n)
  if (n === 0) return 'the file is empty'
  if (head[0] === 0x1f && head[1] === 0x8b) return 'it is gzip-compressed, and no line of its content holds a valid citizen record (the rejects file says why, line by line)'
  if (head.subarray(0, 4).equals(Buffer.from('PK\x03\x04', 'latin1'))) return 'it is a zip archive: extract the NDJSON file first'
  if (head.subarray(0, 3).equals(Buffer.from('BZh', 'latin1'))) return 'it is bzip2-compressed: decompress it first'
  if (head.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))) return 'it is xz-compressed: decompress it first'
  if (head.includes(0)) return 'it is binary, not text (it holds NUL bytes)'
  if (!isUtf8Prefix(head, n < SAMPLE_BYTES)) return 'it is not UTF-8 text (convert it to UTF-8)'
  const text = head.toString('utf8').replace(/^\uFEFF/, '').trimStart()
  if (text.startsWith('[')) return 'it looks like one JSON array; write one JSON object per line (NDJSON)'
  if (!text.startsWith('{')) return 'its lines are not JSON objects (is it CSV? write one JSON object per line, NDJSON)'
  return 'no line holds a valid citizen record (the rejects file says why, line by line)'
}

/** Valid UTF-8, allowing a sequence cut by the end of the sample unless the sample is the whole file. */
function isUtf8Prefix (bytes: Buffer, whole: boolean): boolean {
  const cut = whole ? 0 : Math.min(3, bytes.length)
  for (let trim = 0; trim <= cut; trim++) {
    try {
      new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(0, bytes.length - trim))
      return true
    } catch { /* try without a cut sequence at the end */ }
  }
  return false
}
