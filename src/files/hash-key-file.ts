/**
 * The HMAC key for attribute hashes. It lives in its own file (mode 0600) named
 * by configuration, never in the index: a leaked index without the key reveals
 * nothing. Only the demo creates a key; `serve` and `load` require one.
 */
import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { dirname } from 'node:path'
import { ConfigError } from '../errors.js'

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

/**
 * Writes a new random key with mode 0600; refuses to overwrite. `idv keygen`
 * refuses a missing directory too (a typo would put the key somewhere unseen);
 * the demo creates the one beside its data directory.
 */
export function createHashKey (file: string, options: { createDirectory?: boolean } = {}): Buffer {
  const dir = dirname(file)
  if (options.createDirectory === true) mkdirSync(dir, { recursive: true })
  else if (!existsSync(dir)) throw new ConfigError([`the directory ${dir} does not exist: create it first, or choose another --out`])
  if (existsSync(file)) throw new ConfigError([`${file} already exists and a key file is never overwritten: choose another --out`])
  const key = randomBytes(KEY_BYTES)
  writeFileSync(file, `${key.toString('hex')}\n`, { mode: 0o600, flag: 'wx' })
  return key
}

/** Reads the key, creating it first when it does not exist (the demo only). */
export function readOrCreateHashKey (file: string): Buffer {
  try {
    statSync(file)
  } catch {
    return createHashKey(file, { createDirectory: true })
  }
  return readHashKey(file)
}
