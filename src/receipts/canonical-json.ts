/**
 * Canonical JSON (the JSON Canonicalization Scheme of RFC 8785 for the values
 * a receipt holds): object members sorted by UTF-16 code units, no whitespace,
 * strings and numbers as ECMAScript's JSON.stringify writes them (which is what
 * RFC 8785 specifies). The same leaf therefore always has the same bytes, and a
 * verifier in another language can rebuild them with any JCS library.
 */

export type JsonValue = null | boolean | number | string | readonly JsonValue[] | { readonly [k: string]: JsonValue }

/** Throws TypeError for anything JSON cannot represent exactly (undefined, NaN, functions, class instances). */
export function canonicalJson (value: unknown): string {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return JSON.stringify(value)
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError('canonical JSON cannot hold a non-finite number')
    return JSON.stringify(value)
  }
  if (Array.isArray(value)) {
    let out = '['
    for (let i = 0; i < value.length; i++) out += (i === 0 ? '' : ',') + canonicalJson(value[i])
    return out + ']'
  }
  if (typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    const obj = value as Record<string, unknown>
    // Default sort compares UTF-16 code units, as RFC 8785 §3.2.3 requires.
    const keys = Object.keys(obj).sort()
    let out = '{'
    for (const k of keys) {
      if (obj[k] === undefined) continue
      out += (out.length === 1 ? '' : ',') + JSON.stringify(k) + ':' + canonicalJson(obj[k])
    }
    return out + '}'
  }
  throw new TypeError(`canonical JSON cannot hold a ${typeof value}`)
}
