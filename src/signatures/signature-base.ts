/**
 * The RFC 9421 signature base of a request (§2.5), shared by the verifier and
 * our own signing client so the two cannot drift apart.
 *
 * Supported components: the derived `@method`, `@authority`, `@scheme`,
 * `@target-uri`, `@request-target`, `@path`, `@query` (§2.2) and header fields
 * by lowercase name without parameters (§2.1). Component parameters (`;sf`,
 * `;bs`, `;key`, `;req`, `@query-param;name`) are refused rather than
 * half-supported: a verifier that computes a different base than the signer
 * only ever says "invalid", which is worse to debug than "unsupported".
 */
import type { ComponentId, SfResult, SignatureInputMember } from './structured-fields.js'
import { clip } from '../clip.js'

/** A request as the verifier sees it, independent of the HTTP server. */
export interface SignedRequestInput {
  /** As sent; uWS lowercases it, so it is upper-cased here (every registered method is upper case). */
  readonly method: string
  /** The request target as sent: absolute path plus `?query` when there is one, not decoded. */
  readonly path: string
  /** The Host header (HTTP/1.1) or :authority (HTTP/2). */
  readonly authority: string
  /** The scheme the client used; behind a TLS terminator this is `https`. Default `https`. */
  readonly scheme?: 'http' | 'https'
  /** A header's value by lowercase name (values of repeated headers joined with `, `), or undefined. */
  readonly headers: (name: string) => string | undefined
  readonly body: Uint8Array
}

/** RFC 9110 token characters, lowercase only: RFC 9421 §2.1 requires lowercase field names. */
const FIELD_NAME = /^[a-z0-9!#$%&'*+.^_`|~-]+$/
const DERIVED = new Set(['@method', '@authority', '@scheme', '@target-uri', '@request-target', '@path', '@query'])

function splitTarget (target: string): { path: string, query: string | undefined } {
  const q = target.indexOf('?')
  const path = q < 0 ? target : target.slice(0, q)
  return { path: path === '' ? '/' : path, query: q < 0 ? undefined : target.slice(q + 1) }
}

/** §2.2.3: lower-case host, default port removed. */
export function normalizeAuthority (authority: string, scheme: 'http' | 'https'): string {
  const lower = authority.trim().toLowerCase()
  const defaultPort = scheme === 'https' ? ':443' : ':80'
  return lower.endsWith(defaultPort) ? lower.slice(0, -defaultPort.length) : lower
}

/** The value of one component, or a reason it has none. */
export function componentValue (req: SignedRequestInput, component: ComponentId): SfResult<string> {
  const { name } = component
  if (component.params.size > 0) return { ok: false, reason: `component ${clip(name)} has parameters, which this service does not support` }
  const scheme = req.scheme ?? 'https'
  if (name.startsWith('@')) {
    if (!DERIVED.has(name)) return { ok: false, reason: `derived component ${clip(name)} is not supported` }
    const { path, query } = splitTarget(req.path)
    switch (name) {
      case '@method': return { ok: true, value: req.method.toUpperCase() }
      case '@authority': return { ok: true, value: normalizeAuthority(req.authority, scheme) }
      case '@scheme': return { ok: true, value: scheme }
      case '@path': return { ok: true, value: path }
      case '@query': return { ok: true, value: `?${query ?? ''}` }
      case '@request-target': return { ok: true, value: req.path }
      default: return { ok: true, value: `${scheme}://${normalizeAuthority(req.authority, scheme)}${req.path}` }
    }
  }
  if (!FIELD_NAME.test(name)) return { ok: false, reason: `component ${JSON.stringify(clip(name))} is not a lowercase field name` }
  const raw = req.headers(name)
  if (raw === undefined) return { ok: false, reason: `covered header ${clip(name)} is absent` }
  // A line break in a value could forge extra lines of the signature base; HTTP parsers refuse them, so do we.
  if (/[\r\n]/.test(raw)) return { ok: false, reason: `header ${clip(name)} contains a line break` }
  return { ok: true, value: trimOws(raw) }
}

/** Strips SP and HTAB at both ends (RFC 9421 §2.1), by index: `[ \t]+$` backtracks quadratically on long runs of spaces. */
function trimOws (s: string): string {
  let start = 0
  let end = s.length
  while (start < end && (s.charCodeAt(start) === 32 || s.charCodeAt(start) === 9)) start++
  while (end > start && (s.charCodeAt(end - 1) === 32 || s.charCodeAt(end - 1) === 9)) end--
  return s.slice(start, end)
}

/** The signature base (§2.5): one line per component, then `@signature-params`; no trailing newline. */
export function signatureBase (req: SignedRequestInput, member: SignatureInputMember): SfResult<string> {
  const seen = new Set<string>()
  let base = ''
  for (const component of member.components) {
    if (seen.has(component.name)) return { ok: false, reason: `component ${clip(component.name)} is covered twice` }
    seen.add(component.name)
    const value = componentValue(req, component)
    if (!value.ok) return value
    base += `"${component.name}": ${value.value}\n`
  }
  return { ok: true, value: `${base}"@signature-params": ${member.serialized}` }
}
