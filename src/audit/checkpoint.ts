/**
 * Checkpoints in the C2SP tlog-checkpoint format, signed as C2SP signed notes
 * (the format of golang.org/x/mod/sumdb/note), so that any witness or
 * verifier of that ecosystem can check them:
 *
 *   <origin>\n<tree size>\n<base64 root hash>\n
 *   \n
 *   — <key name> <base64(key id[4] ‖ Ed25519 signature[64])>\n
 *
 * The signature covers the text up to and including its last newline. The key
 * id is the first 4 bytes of SHA-256(name ‖ 0x0A ‖ 0x01 ‖ public key), 0x01
 * being the Ed25519 algorithm byte. Keys are written as the note package
 * writes them: `PRIVATE+KEY+<name>+<hex id>+<base64(0x01 ‖ seed)>` (the
 * signer, a 0600 file) and `<name>+<hex id>+<base64(0x01 ‖ public key)>` (the
 * verifier key, published at GET /v1/audit/key).
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, hash, sign, verify, type KeyObject } from 'node:crypto'

const ED25519 = 0x01
/** DER prefixes of an Ed25519 PKCS#8 private key and SPKI public key (RFC 8410), followed by the 32 raw bytes. */
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex')
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex')
const NAME = /^[^\s+\u2014]+$/u
const MAX_SIGNATURES = 100

export interface NoteSigner {
  readonly name: string
  readonly keyId: Buffer
  readonly verifierKey: string
  sign: (message: Uint8Array) => Buffer
}

export interface NoteVerifier {
  readonly name: string
  readonly keyId: Buffer
  readonly publicKey: KeyObject
}

export interface Checkpoint {
  readonly origin: string
  readonly size: number
  readonly root: Buffer
  /** The whole signed note, as published. */
  readonly note: string
}

function keyId (name: string, publicKey: Buffer): Buffer {
  return hash('sha256', Buffer.concat([Buffer.from(`${name}\n`), Buffer.from([ED25519]), publicKey]), 'buffer').subarray(0, 4)
}

function rawPublicKey (key: KeyObject): Buffer {
  return (key.export({ format: 'der', type: 'spki' })).subarray(SPKI_PREFIX.length)
}

/** A new signer key for `name`, in the note package's text form. */
export function generateSignerKey (name: string): string {
  if (!NAME.test(name)) throw new RangeError(`a note key name has no spaces, '+' or '—': ${JSON.stringify(name)}`)
  const { privateKey } = generateKeyPairSync('ed25519')
  const seed = privateKey.export({ format: 'der', type: 'pkcs8' }).subarray(PKCS8_PREFIX.length)
  return formatSignerKey(name, seed)
}

export function formatSignerKey (name: string, seed: Buffer): string {
  const publicKey = rawPublicKey(createPublicKey(ed25519PrivateKey(seed)))
  return `PRIVATE+KEY+${name}+${keyId(name, publicKey).toString('hex')}+${Buffer.concat([Buffer.from([ED25519]), seed]).toString('base64')}`
}

function ed25519PrivateKey (seed: Buffer): KeyObject {
  return createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' })
}

/** Parses `PRIVATE+KEY+name+id+key`; throws RangeError on anything else (a wrong id included). */
export function parseSignerKey (text: string): NoteSigner {
  // The base64 key may itself hold '+': the first four fields are fixed.
  const parts = text.trim().split('+')
  if (parts.length < 5 || parts[0] !== 'PRIVATE' || parts[1] !== 'KEY') throw new RangeError('not a note signer key (PRIVATE+KEY+name+id+key)')
  const name = parts[2]!
  const id = parts[3]!
  const b64 = parts.slice(4).join('+')
  const raw = Buffer.from(b64, 'base64')
  if (!NAME.test(name) || raw.length !== 33 || raw[0] !== ED25519) throw new RangeError('not an Ed25519 note signer key')
  const privateKey = ed25519PrivateKey(raw.subarray(1))
  const publicKey = rawPublicKey(createPublicKey(privateKey))
  const kid = keyId(name, publicKey)
  if (kid.toString('hex') !== id) throw new RangeError('the signer key id does not match its key')
  return {
    name,
    keyId: kid,
    verifierKey: `${name}+${id}+${Buffer.concat([Buffer.from([ED25519]), publicKey]).toString('base64')}`,
    sign: (message) => sign(null, message, privateKey)
  }
}

/** Parses `name+id+key` (an Ed25519 verifier key); throws RangeError otherwise. */
export function parseVerifierKey (text: string): NoteVerifier {
  const parts = text.trim().split('+')
  // The base64 key may itself hold '+': the name and id are the first two fields.
  if (parts.length < 3) throw new RangeError('not a note verifier key (name+id+key)')
  const name = parts[0]!
  const id = parts[1]!
  const raw = Buffer.from(parts.slice(2).join('+'), 'base64')
  if (!NAME.test(name) || !/^[0-9a-f]{8}$/.test(id) || raw.length !== 33 || raw[0] !== ED25519) throw new RangeError('not an Ed25519 note verifier key')
  const publicKey = raw.subarray(1)
  const kid = keyId(name, publicKey)
  if (kid.toString('hex') !== id) throw new RangeError('the verifier key id does not match its key')
  return { name, keyId: kid, publicKey: createPublicKey({ key: Buffer.concat([SPKI_PREFIX, publicKey]), format: 'der', type: 'spki' }) }
}

/** Signs a note's text (which must end with a newline): the text, a blank line, the signature line. */
export function signNote (text: string, signer: NoteSigner): string {
  if (!text.endsWith('\n') || text.includes('\n\n')) throw new RangeError('a note text ends with a newline and has no blank line')
  const sig = Buffer.concat([signer.keyId, signer.sign(Buffer.from(text, 'utf8'))]).toString('base64')
  return `${text}\n\u2014 ${signer.name} ${sig}\n`
}

export type NoteCheck = { readonly ok: true, readonly text: string } | { readonly ok: false, readonly reason: string }

/** Splits a signed note and checks that `verifier` signed it; never throws. */
export function openNote (note: string, verifier: NoteVerifier): NoteCheck {
  const split = note.lastIndexOf('\n\n')
  if (split < 0 || !note.endsWith('\n')) return { ok: false, reason: 'not a signed note (no blank line before the signatures)' }
  const text = note.slice(0, split + 1)
  const lines = note.slice(split + 2, -1).split('\n')
  if (lines.length > MAX_SIGNATURES) return { ok: false, reason: 'too many signatures' }
  for (const line of lines) {
    const m = /^\u2014 (\S+) ([A-Za-z0-9+/=]+)$/u.exec(line)
    if (m === null) return { ok: false, reason: `malformed signature line ${JSON.stringify(line.slice(0, 80))}` }
    const blob = Buffer.from(m[2]!, 'base64')
    if (m[1] !== verifier.name || blob.length < 4 || !blob.subarray(0, 4).equals(verifier.keyId)) continue
    if (blob.length !== 68) return { ok: false, reason: 'the signature is not 64 bytes' }
    if (!verify(null, Buffer.from(text, 'utf8'), verifier.publicKey, blob.subarray(4))) return { ok: false, reason: `the signature by ${verifier.name} does not verify` }
    return { ok: true, text }
  }
  return { ok: false, reason: `not signed by ${verifier.name}+${verifier.keyId.toString('hex')}` }
}

/** The checkpoint body: origin, size, base64 root (no extension lines). */
export function checkpointText (origin: string, size: number, root: Uint8Array): string {
  return `${origin}\n${size}\n${Buffer.from(root).toString('base64')}\n`
}

export function signCheckpoint (origin: string, size: number, root: Uint8Array, signer: NoteSigner): Checkpoint {
  return { origin, size, root: Buffer.from(root), note: signNote(checkpointText(origin, size, root), signer) }
}

export type CheckpointCheck = { readonly ok: true, readonly checkpoint: Checkpoint } | { readonly ok: false, readonly reason: string }

/** Verifies a checkpoint note's signature and parses its body; `origin`, when given, must match. Never throws. */
export function openCheckpoint (note: string, verifier: NoteVerifier, origin?: string): CheckpointCheck {
  const opened = openNote(note, verifier)
  if (!opened.ok) return opened
  const lines = opened.text.slice(0, -1).split('\n')
  if (lines.length < 3) return { ok: false, reason: 'a checkpoint has an origin, a size and a root hash' }
  const [o, sizeText, rootText] = lines as [string, string, string]
  if (origin !== undefined && o !== origin) return { ok: false, reason: `the checkpoint is for ${JSON.stringify(o)}, not ${JSON.stringify(origin)}` }
  if (!/^(0|[1-9]\d{0,15})$/.test(sizeText) || !Number.isSafeInteger(Number(sizeText))) return { ok: false, reason: 'the tree size is not a decimal integer' }
  const root = Buffer.from(rootText, 'base64')
  if (root.length !== 32 || root.toString('base64') !== rootText) return { ok: false, reason: 'the root hash is not 32 bytes of base64' }
  return { ok: true, checkpoint: { origin: o, size: Number(sizeText), root, note } }
}
