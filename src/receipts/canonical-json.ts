/**
 * Canonical JSON (the JSON Canonicalization Scheme of RFC 8785 for the values
 * a receipt holds): object members sorted by UTF-16 code units, no whitespace,
 * strings and numbers as ECMAScript's JSON.stringify writes them (which is what
 * RFC 8785 specifies). The same leaf therefore always has the same bytes, and a
 * verifier in another language can rebuild them with any JCS library.
 *
 * Every signed answer's leaf goes through here, so strings that need no escape
 * (nearly all) are quoted directly: half the cost of a JSON.stringify call each.
 */

export type JsonValue = null | boolean | number | string | readonly JsonValue[] | { readonly [k: string]: JsonValue }

/** Throws TypeError for anything JSON cannot represent exactly (undefined, NaN, functions, class instances). */
export function canonicalJson (value: unknown): string {
  switch (typeof value) {
    case 'string': return quote(value)
    case 'boolean': return value ? 'true' : 'false'
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError('canonical JSON cannot hold a non-finite number')
      return JSON.stringify(value)
    case 'object': {
      if (value === null) return 'null'
      if (Array.isArray(value)) {
        let out = '['
        for (let i = 0; i < value.length; i++) out += (i === 0 ? '' : ',') + canonicalJson(value[i])
        return out + ']'
      }
      if (Object.getPrototypeOf(value) !== Object.prototype) break
      const obj = value as Record<string, unknown>
      // Default sort compares UTF-16 code units, as RFC 8785 §3.2.3 requires.
      const keys = Object.keys(obj)
      if (keys.length > 1) keys.sort()
      let out = ''
      for (const k of keys) {
        const v = obj[k]
        if (v === undefined) continue
        out += (out === '' ? '{' : ',') + quote(k) + ':' + canonicalJson(v)
      }
      return out === '' ? '{}' : out + '}'
    }
  }
  throw new TypeError(`canonical JSON cannot hold a ${typeof value}`)
}

/** JSON.stringify(s), written directly when no character needs an escape (quote, backslash, control, any surrogate). */
function quote (s: string): string {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c < 0x20 || c === 0x22 || c === 0x5c || (c >= 0xd800 && c <= 0xdfff)) return JSON.stringify(s)
  }
  return `"${s}"`
}
