/**
 * The relying-party registry: loaded from a JSON or YAML file, reloadable
 * without a restart (explicitly, or by watching the file), and the resolver of
 * keyids for the request verifier.
 *
 * A reload that finds a broken file keeps serving the previous registry and
 * reports the problems: a typo in the file must not lock every party out.
 *
 * Key validity: a key answers only inside [notBefore, notAfter). Rotation adds a
 * new key and sets notAfter on the old one, so both verify during the overlap
 * and the old one is refused after it (IDV_ERR_KEY_EXPIRED).
 */
import { watch, readFileSync, type FSWatcher } from 'node:fs'
import { basename, dirname, extname, resolve } from 'node:path'
import { parse as parseYaml } from 'yaml'
import { failure } from '../errors.js'
import type { KeyLookup } from '../signatures/message-signature.js'
import { checkPartyFile, type Party, type PartyFileSpec, type PartyKey } from './schema.js'
import { clip } from '../clip.js'

export type { Party, PartyKey, PartySpec, PartyKeySpec, PartyFileSpec, ResultDetail, PartyStatus } from './schema.js'
export { PARTY_ENDPOINTS, checkPartyFile } from './schema.js'

/** A party file that cannot be used, with every problem found. */
export class PartyFileError extends Error {
  readonly problems: readonly string[]
  constructor (file: string, problems: readonly string[]) {
    super(`party file ${file} is invalid:\n  - ${problems.join('\n  - ')}`)
    this.name = 'PartyFileError'
    this.problems = problems
  }
}

/** Parses the file by extension: .json strictly as JSON, anything else as YAML. */
export function readPartyDocument (file: string): { ok: true, doc: unknown } | { ok: false, problems: string[] } {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (err) {
    return { ok: false, problems: [`cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`] }
  }
  try {
    return { ok: true, doc: extname(file).toLowerCase() === '.json' ? JSON.parse(text) : parseYaml(text) }
  } catch (err) {
    return { ok: false, problems: [`${file} does not parse: ${err instanceof Error ? err.message : 'error'}`] }
  }
}

/** Reads and validates a party file; throws PartyFileError listing every problem. */
export function loadPartyFile (file: string): { spec: PartyFileSpec, parties: readonly Party[] } {
  const read = readPartyDocument(file)
  if (!read.ok) throw new PartyFileError(file, read.problems)
  const checked = checkPartyFile(read.doc, dirname(resolve(file)))
  if (!checked.ok) throw new PartyFileError(file, checked.problems)
  return checked
}

export type ReloadResult = { readonly ok: true, readonly parties: number } | { readonly ok: false, readonly problems: readonly string[] }

interface KeyEntry { readonly party: Party, readonly key: PartyKey }

export class PartyRegistry {
  readonly file: string
  #parties = new Map<string, Party>()
  #keys = new Map<string, KeyEntry>()
  #generation = 0
  #watcher: FSWatcher | undefined
  #debounce: NodeJS.Timeout | undefined

  private constructor (file: string, parties: readonly Party[]) {
    this.file = resolve(file)
    this.#install(parties)
  }

  /** Loads the file; throws PartyFileError when it is unusable. */
  static load (file: string): PartyRegistry {
    return new PartyRegistry(file, loadPartyFile(file).parties)
  }

  /** Bumped on every successful reload (threads can compare). */
  get generation (): number {
    return this.#generation
  }

  list (): readonly Party[] {
    return [...this.#parties.values()]
  }

  get (id: string): Party | undefined {
    return this.#parties.get(id)
  }

  /** KeyResolver for RequestVerifier (an arrow, so it can be passed unbound). */
  readonly resolveKey = (keyId: string, nowMs: number): KeyLookup => {
    const entry = this.#keys.get(keyId)
    if (entry === undefined) return failure('IDV_ERR_UNKNOWN_KEY', `no registered key has keyid ${JSON.stringify(clip(keyId))}`)
    const { party, key } = entry
    if (key.notBefore !== undefined && nowMs < key.notBefore) {
      return failure('IDV_ERR_KEY_EXPIRED', `key ${keyId} is valid from ${new Date(key.notBefore).toISOString()}`)
    }
    if (key.notAfter !== undefined && nowMs >= key.notAfter) {
      return failure('IDV_ERR_KEY_EXPIRED', `key ${keyId} expired at ${new Date(key.notAfter).toISOString()}`)
    }
    return { ok: true, key: { keyId, partyId: party.id, algorithm: key.algorithm, key: key.key, partyActive: party.status === 'active' } }
  }

  /** Re-reads the file; on failure keeps the current registry and returns the problems. */
  reload (): ReloadResult {
    const read = readPartyDocument(this.file)
    if (!read.ok) return read
    const checked = checkPartyFile(read.doc, dirname(this.file))
    if (!checked.ok) return checked
    this.#install(checked.parties)
    return { ok: true, parties: checked.parties.length }
  }

  /**
   * Reloads when the file changes. The directory is watched, not the file:
   * atomic writes rename a new file over the old one, which a watch on the old
   * inode would never see. Events are debounced (editors write several times).
   */
  watch (onReload?: (result: ReloadResult) => void, debounceMs = 50): void {
    if (this.#watcher !== undefined) return
    const name = basename(this.file)
    this.#watcher = watch(dirname(this.file), { persistent: false }, (_event, changed) => {
      if (changed !== null && changed.toString() !== name) return
      clearTimeout(this.#debounce)
      this.#debounce = setTimeout(() => {
        const result = this.reload()
        onReload?.(result)
      }, debounceMs)
      this.#debounce.unref()
    })
  }

  close (): void {
    clearTimeout(this.#debounce)
    this.#watcher?.close()
    this.#watcher = undefined
  }

  #install (parties: readonly Party[]): void {
    const byId = new Map<string, Party>()
    const keys = new Map<string, KeyEntry>()
    for (const party of parties) {
      byId.set(party.id, party)
      for (const key of party.keys) keys.set(key.keyId, { party, key })
    }
    // Swapped whole, so a request sees either the old registry or the new one.
    this.#parties = byId
    this.#keys = keys
    this.#generation++
  }
}
