/**
 * The HMAC key for attribute hashes. It lives in its own file (mode 0600) named
 * by configuration, never in the index: a leaked index without the key reveals
 * nothing. Only the demo creates a key; `serve` and `load` require one.
 */
import { randomBytes } from 'node:crypto'
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { dirname } from 'node:path'
import { ConfigError } from './errors.js'

const KEY_BYTES = 32

/** Reads a key file holding 64 hex characters (32 bytes), or throws a ConfigError saying how to make one. */
export function readHashKey (file: string): Buffer {
  let text: string
  try {
    text = readFileSync(file, 'utf8').trim()
  } catch (err) {
    throw new ConfigError([`hash key file ${file} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'}); ` +
      'create one with `idv keygen --out FILE` and set IDV_HASH_KEY_FILE'])
  }
  if (!/^[0-9a-f]{64}$/i.test(text)) throw new ConfigError([`hash key file ${file} must hold 64 hex characters (32 bytes)`])
  const mode = statSync(file).mode & 0o077
  if (mode !== 0) throw new ConfigError([`hash key file ${file} is readable by group or others; chmod 600 it`])
  return Buffer.from(text, 'hex')
}

/** Writes a new random key with mode 0600; refuses to overwrite. */
export function createHashKey (file: string): Buffer {
  const key = randomBytes(KEY_BYTES)
  mkdirSync(dirname(file), { recursive: true })
  writeFileSync(file, `${key.toString('hex')}\n`, { mode: 0o600, flag: 'wx' })
  return key
}

/** Reads the key, creating it first when it does not exist (the demo only). */
export function readOrCreateHashKey (file: string): Buffer {
  try {
    statSync(file)
  } catch {
    return createHashKey(file)
  }
  return readHashKey(file)
}
