/**
 * What `idv party add|list|disable|enable|rotate-key` do, as functions of parsed
 * options (src/app/cli.ts wires them to commander). Every change is validated as a
 * whole file before it is written, and written atomically, so a running service
 * that reloads on change never sees a half-written or invalid registry.
 */
import { createPublicKey, hash, randomBytes, timingSafeEqual } from 'node:crypto'
import { existsSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs'
import { basename, dirname, extname, join, relative, resolve } from 'node:path'
import { stringify as stringifyYaml } from 'yaml'
import { writeFileAtomic } from '../files/atomic-file.js'
import type { SignatureAlgorithm } from '../signatures/message-signature.js'
import { PartyFileError, readPartyDocument } from './registry.js'
import { checkPartyFile, PARTY_ENDPOINTS, PARTY_ID, type PartyFileSpec, type PartyKeySpec, type PartySpec } from './schema.js'

/** A command that cannot be carried out (bad option, unknown party); the message says what to do. */
export class PartyCliError extends Error {
  constructor (message: string) {
    super(message)
    this.name = 'PartyCliError'
  }
}

export interface KeySource {
  /** SPKI PEM file of an Ed25519 or ECDSA P-256 public key. */
  readonly publicKey?: string | undefined
  /** File of the HMAC shared secret (hex, mode 0600); stored in the registry by path. */
  readonly hmacSecretFile?: string | undefined
  /** Default: `<party id>-<UTC timestamp>`. */
  readonly keyId?: string | undefined
  /**
   * The index's hash key file (IDV_HASH_KEY_FILE): an HMAC secret that is the
   * same key (same file, or the same bytes) is refused, since the party would
   * then hold the key of every attribute hash in the index.
   */
  readonly hashKeyFile?: string | undefined
}

export interface PartyAddOptions extends KeySource {
  /**
   * Generate the party's HMAC-SHA-256 secret: 32 random bytes as hex in
   * `<parties file without extension>.<party id>.hmac-secret` beside the
   * registry, mode 0600, never overwriting (instead of publicKey or hmacSecretFile).
   */
  readonly hmac?: boolean | undefined
  readonly file: string
  readonly id: string
  readonly name: string
  readonly attributes: readonly string[]
  /** Default: every endpoint. */
  readonly endpoints?: readonly string[] | undefined
  /** Sustained requests per second. */
  readonly rate: number
  /** Default: twice the rate (at least 1). */
  readonly burst?: number | undefined
  readonly dailyQuota?: number | undefined
  readonly overallOnly?: boolean | undefined
  /** Addresses compare as the same units only (policy `addressMatching: exact`). */
  readonly exactAddresses?: boolean | undefined
  /** Default 1000. */
  readonly maxBatchItems?: number | undefined
  /** PARTY_ROLES it holds (citizen-portal, auditor: reading citizens' access histories). */
  readonly roles?: readonly string[] | undefined
  readonly now?: (() => number) | undefined
}

export interface RotateKeyOptions extends KeySource {
  readonly file: string
  readonly id: string
  /** How long the party's current keys stay valid beside the new one. Default 86400 (one day). */
  readonly overlapSeconds?: number | undefined
  readonly now?: (() => number) | undefined
}

export interface PartyListRow {
  readonly id: string
  readonly name: string
  readonly status: string
  readonly keys: string
  readonly endpoints: string
  readonly attributes: string
  readonly detail: string
  readonly rate: string
  readonly dailyQuota: string
}

function readSpec (file: string, mustExist: boolean): PartyFileSpec {
  if (!existsSync(file)) {
    if (mustExist) throw new PartyCliError(`party file ${file} does not exist; create it with \`idv party add\``)
    return { parties: [] }
  }
  const read = readPartyDocument(file)
  if (!read.ok) throw new PartyFileError(file, read.problems)
  const checked = checkPartyFile(read.doc, dirname(resolve(file)))
  if (!checked.ok) throw new PartyFileError(file, checked.problems)
  return checked.spec
}

function writeSpec (file: string, spec: PartyFileSpec): void {
  const checked = checkPartyFile(spec, dirname(resolve(file)))
  if (!checked.ok) throw new PartyFileError(file, checked.problems)
  const json = extname(file).toLowerCase() === '.json'
  const text = json ? `${JSON.stringify(spec, null, 2)}\n` : stringifyYaml(spec, { lineWidth: 0 })
  // Owner-only, created and rewritten alike: the registry names every party's keys and secret files.
  writeFileAtomic(file, text, 0o600)
}

function stamp (ms: number): string {
  return new Date(ms).toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')
}

/** Reads the key a command names into a key spec (algorithm from the key itself). */
function keySpec (file: string, id: string, src: KeySource, nowMs: number): PartyKeySpec {
  if ((src.publicKey === undefined) === (src.hmacSecretFile === undefined)) throw new PartyCliError('give exactly one of --public-key FILE.pem, --hmac-secret-file FILE and --hmac')
  const keyId = src.keyId ?? `${id}-${stamp(nowMs)}`
  if (src.hmacSecretFile !== undefined) {
    if (src.hashKeyFile !== undefined) refuseHashKeyAsSecret(src.hmacSecretFile, src.hashKeyFile)
    // Stored relative to the registry, so the registry and its secrets can move together.
    const secretFile = relative(dirname(resolve(file)), resolve(src.hmacSecretFile))
    return { keyId, algorithm: 'hmac-sha256', secretFile }
  }
  let pem: string
  try {
    pem = readFileSync(src.publicKey as string, 'utf8')
  } catch (err) {
    throw new PartyCliError(`cannot read ${src.publicKey as string} (${(err as NodeJS.ErrnoException).code ?? 'error'})`)
  }
  let algorithm: SignatureAlgorithm
  try {
    const key = createPublicKey(pem)
    if (key.asymmetricKeyType === 'ed25519') algorithm = 'ed25519'
    else if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') algorithm = 'ecdsa-p256-sha256'
    else throw new PartyCliError(`${src.publicKey as string} is a ${key.asymmetricKeyType ?? 'unknown'} key; use Ed25519 or ECDSA P-256`)
    // Normalised to SPKI PEM whatever the file held (e.g. a certificate's key).
    pem = key.export({ type: 'spki', format: 'pem' }).toString()
  } catch (err) {
    if (err instanceof PartyCliError) throw err
    throw new PartyCliError(`${src.publicKey as string} is not a PEM public key (SPKI, "BEGIN PUBLIC KEY")`)
  }
  return { keyId, algorithm, publicKeyPem: pem }
}

/** A hex key file's bytes, or undefined when it cannot be read or is not hex (the registry check reports that). */
function hexFileBytes (file: string): Buffer | undefined {
  try {
    const text = readFileSync(file, 'utf8').trim()
    return /^(?:[0-9a-fA-F]{2})+$/.test(text) ? Buffer.from(text, 'hex') : undefined
  } catch {
    return undefined
  }
}

/** RFC 2104: the block an HMAC-SHA-256 key really is (longer than 64 bytes: hashed; shorter: zero-padded), so equal blocks are the same key. */
function hmacKeyBlock (key: Buffer): Buffer {
  const block = Buffer.alloc(64)
  ;(key.length > 64 ? hash('sha256', key, 'buffer') : key).copy(block)
  return block
}

function sameFile (a: string, b: string): boolean {
  try {
    return realpathSync(a) === realpathSync(b)
  } catch {
    return resolve(a) === resolve(b)
  }
}

/** Refuses the index's hash key as a party's HMAC secret: by path, and by content (a copy, or the same key padded with zero bytes). */
function refuseHashKeyAsSecret (secretFile: string, hashKeyFile: string): void {
  const refusal = new PartyCliError(`${secretFile} holds the index's hash key (${hashKeyFile}); a party holding it could compute every attribute hash in the index. ` +
    'Give the party a secret of its own: `idv party add --hmac` makes one')
  if (sameFile(secretFile, hashKeyFile)) throw refusal
  const secret = hexFileBytes(secretFile)
  const hashKey = hexFileBytes(hashKeyFile)
  if (secret !== undefined && hashKey !== undefined && timingSafeEqual(hmacKeyBlock(secret), hmacKeyBlock(hashKey))) throw refusal
}

/** Where `idv party add --hmac` puts a party's generated secret: beside the registry. */
export function generatedSecretFile (partiesFile: string, id: string): string {
  const base = basename(partiesFile, extname(partiesFile))
  return join(dirname(resolve(partiesFile)), `${base}.${id}.hmac-secret`)
}

function findParty (spec: PartyFileSpec, id: string, file: string): PartySpec {
  const party = spec.parties.find((p) => p.id === id)
  if (party === undefined) throw new PartyCliError(`no party ${id} in ${file}; see \`idv party list\``)
  return party
}

export function partyAdd (o: PartyAddOptions): PartySpec {
  const now = (o.now ?? Date.now)()
  const spec = readSpec(o.file, false)
  if (spec.parties.some((p) => p.id === o.id)) throw new PartyCliError(`party ${o.id} already exists; use \`idv party rotate-key\` to change its key`)
  if (o.hmac === true) {
    if (o.publicKey !== undefined || o.hmacSecretFile !== undefined) throw new PartyCliError('give exactly one of --public-key FILE.pem, --hmac-secret-file FILE and --hmac')
    if (!PARTY_ID.test(o.id)) throw new PartyCliError(`party id ${JSON.stringify(o.id)}: 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit`)
    const secretFile = generatedSecretFile(o.file, o.id)
    try {
      writeFileSync(secretFile, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600, flag: 'wx' })
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code
      throw new PartyCliError(code === 'EEXIST' ? `${secretFile} already exists and is never overwritten; move it away or give it with --hmac-secret-file` : `cannot create ${secretFile} (${code ?? 'error'})`)
    }
    try {
      return partyAdd({ ...o, hmac: false, hmacSecretFile: secretFile })
    } catch (err) {
      rmSync(secretFile, { force: true }) // nothing refers to it
      throw err
    }
  }
  const party: PartySpec = {
    id: o.id,
    name: o.name,
    status: 'active',
    keys: [keySpec(o.file, o.id, o, now)],
    allowedEndpoints: [...(o.endpoints ?? PARTY_ENDPOINTS)],
    allowedAttributes: [...o.attributes],
    resultDetail: o.overallOnly === true ? 'overall-only' : 'per-attribute',
    maxBatchItems: o.maxBatchItems ?? 1000,
    rate: { perSecond: o.rate, burst: o.burst ?? Math.max(1, Math.ceil(o.rate * 2)) },
    ...(o.dailyQuota !== undefined ? { dailyQuota: o.dailyQuota } : {}),
    ...(o.roles !== undefined && o.roles.length > 0 ? { roles: [...o.roles] } : {}),
    ...(o.exactAddresses === true ? { addressMatching: 'exact' as const } : {})
  }
  writeSpec(o.file, { parties: [...spec.parties, party] })
  return party
}

export function partyList (file: string): PartyListRow[] {
  return readSpec(file, true).parties.map((p) => ({
    id: p.id,
    name: p.name,
    status: p.status,
    keys: p.keys.map((k) => `${k.keyId} (${k.algorithm}${k.notAfter !== undefined ? `, until ${k.notAfter}` : ''})`).join('; '),
    endpoints: p.allowedEndpoints.join(','),
    attributes: p.allowedAttributes.join(','),
    detail: p.resultDetail + (p.addressMatching === 'exact' ? ', exact addresses' : ''),
    rate: `${p.rate.perSecond}/s burst ${p.rate.burst}`,
    dailyQuota: p.dailyQuota === undefined ? '-' : String(p.dailyQuota)
  }))
}

/** A plain-text table of partyList rows. */
export function formatPartyList (rows: readonly PartyListRow[]): string {
  if (rows.length === 0) return 'no parties\n'
  const cols = ['id', 'name', 'status', 'keys', 'endpoints', 'attributes', 'detail', 'rate', 'dailyQuota'] as const
  const widths = cols.map((c) => Math.max(c.length, ...rows.map((r) => r[c].length)))
  const line = (cells: readonly string[]): string => cells.map((s, i) => s.padEnd(widths[i] ?? 0)).join('  ').trimEnd()
  return [line(cols), ...rows.map((r) => line(cols.map((c) => r[c])))].join('\n') + '\n'
}

function setStatus (file: string, id: string, status: PartySpec['status']): PartySpec {
  const spec = readSpec(file, true)
  const party = findParty(spec, id, file)
  party.status = status
  writeSpec(file, spec)
  return party
}

export function partyDisable (file: string, id: string): PartySpec {
  return setStatus(file, id, 'disabled')
}

export function partyEnable (file: string, id: string): PartySpec {
  return setStatus(file, id, 'active')
}

/** Adds a new key and ends the party's other keys after the overlap (earlier ends are kept). */
export function partyRotateKey (o: RotateKeyOptions): PartySpec {
  const now = (o.now ?? Date.now)()
  const overlap = o.overlapSeconds ?? 86_400
  if (!Number.isInteger(overlap) || overlap < 0) throw new PartyCliError('--overlap-seconds must be a non-negative integer')
  const spec = readSpec(o.file, true)
  const party = findParty(spec, o.id, o.file)
  const end = now + overlap * 1000
  for (const key of party.keys) {
    const current = key.notAfter === undefined ? Infinity : Date.parse(key.notAfter)
    if (current > end) key.notAfter = new Date(end).toISOString()
  }
  const fresh = keySpec(o.file, o.id, o, now)
  if (party.keys.some((k) => k.keyId === fresh.keyId)) throw new PartyCliError(`party ${o.id} already has key ${fresh.keyId}; give another --key-id`)
  party.keys.push(fresh)
  writeSpec(o.file, spec)
  return party
}
