/**
 * Echoing a client's input (a header, a key, a signature label) into a problem
 * detail or a log line: clipped, so a client cannot make every answer to it
 * carry kilobytes of its own text. No imports: the signature parser and the
 * signing client use it too.
 */

/** Longest echo of a client's input, before the ellipsis. */
export const ECHO_CHARS = 100

/** At most `max` characters of `input`, then an ellipsis; never a lone half of a surrogate pair at the cut. */
export function clip (input: string, max = ECHO_CHARS): string {
  if (input.length <= max) return input
  let end = max
  const last = input.charCodeAt(end - 1)
  if (last >= 0xd800 && last <= 0xdbff) end--
  return `${input.slice(0, end)}…`
}
