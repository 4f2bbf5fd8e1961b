/**
 * A signed service for the jobs tests: a party registry with two operators
 * (Ed25519 keys written where `idv check --key` reads them), a receipt key
 * ring, and the real service over it.
 */
import { createPrivateKey, generateKeyPairSync } from 'node:crypto'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { partyAdd } from '../../src/parties/party-cli.js'
import { ReceiptKeyRing } from '../../src/receipts/keys.js'
import { signRequest, type SigningKey } from '../../src/signatures/request-signer.js'
import type { ConfigInput } from '../../src/config.js'
import { startTestServer, type TestServer } from '../helpers/server.js'
import { tempDir } from '../helpers/temp.js'

export const ATTRS = ['fullName', 'dateOfBirth', 'gender', 'placeOfOrigin', 'placeOfResidence', 'cardIssueDate', 'cardExpiryDate']

export interface SignedWorld {
  readonly dir: string
  readonly server: TestServer
  readonly receiptKeyFile: string
  /** Party id → its signing key and the PEM file holding it. */
  readonly parties: Record<string, { signer: SigningKey, keyFile: string }>
}

export async function startSignedWorld (config: ConfigInput = {}, rate = 1_000_000, dir = tempDir('idv-jobs')): Promise<SignedWorld> {
  const partiesFile = join(dir, 'parties.yaml')
  const parties: SignedWorld['parties'] = {}
  // A second start on the same directory (a restart) keeps the parties and keys of the first.
  const fresh = !existsSync(partiesFile)
  for (const id of ['telco-a', 'telco-b']) {
    const pub = join(dir, `${id}.pub.pem`)
    const keyFile = join(dir, `${id}.key.pem`)
    if (fresh) {
      const pair = generateKeyPairSync('ed25519')
      writeFileSync(pub, pair.publicKey.export({ type: 'spki', format: 'pem' }))
      writeFileSync(keyFile, pair.privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 })
      partyAdd({ file: partiesFile, id, name: id, attributes: ATTRS, rate, burst: Math.max(1, rate), publicKey: pub, keyId: `${id}-k1` })
    }
    parties[id] = { signer: { keyId: `${id}-k1`, algorithm: 'ed25519', key: createPrivateKey(readFileSync(keyFile)) }, keyFile }
  }
  const receiptKeyFile = join(dir, 'receipt-keys.json')
  ReceiptKeyRing.loadOrCreate(receiptKeyFile)
  const server = await startTestServer({ config: { auth: 'signatures', partiesFile, receiptKeyFile, ...config } })
  return { dir, server, receiptKeyFile, parties }
}

/** A request signed by `party` (RFC 9421, Content-Digest over the body when there is one). */
export async function signedFetch (world: SignedWorld, party: string, method: string, path: string, headers: Record<string, string> = {}, body?: Uint8Array): Promise<Response> {
  const url = new URL(world.server.url)
  const signed = signRequest({ method, path, authority: url.host, scheme: 'http', headers, body: body ?? new Uint8Array(0) }, world.parties[party]!.signer)
  return await fetch(`${world.server.url}${path}`, { method, headers: signed, ...(body !== undefined ? { body } : {}) })
}
