/**
 * The demo's relying party, so `npm start` answers signed requests out of the
 * box: on first start it creates an Ed25519 key pair (private key beside the
 * data, mode 0600) and a party file registering its public key for every
 * endpoint and attribute. A party file the operator already has is left alone.
 */
import { generateKeyPairSync } from 'node:crypto'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { besideDataDir, type Config } from '../config.js'
import { ATTRIBUTES } from '../domain/record.js'
import { writeFileAtomic } from '../files/atomic-file.js'
import { loadPartyFile } from './registry.js'
import { partyAdd } from './party-cli.js'

export const DEMO_PARTY_ID = 'demo-portal'

export interface DemoParty {
  readonly keyId: string
  readonly keyFile: string
}

/** The demo party's key id and private key file; undefined when the party file is the operator's own. */
export function ensureDemoParty (config: Config): DemoParty | undefined {
  const keyFile = besideDataDir(config.dataDir, 'demo-party.pem')
  if (!existsSync(config.partiesFile)) {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519')
    writeFileAtomic(keyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), 0o600)
    const dir = mkdtempSync(join(tmpdir(), 'idv-demo-party-'))
    try {
      const publicKeyFile = join(dir, 'demo-party.pub.pem')
      writeFileSync(publicKeyFile, publicKey.export({ type: 'spki', format: 'pem' }))
      partyAdd({ file: config.partiesFile, id: DEMO_PARTY_ID, name: 'Demo portal', publicKey: publicKeyFile, keyId: `${DEMO_PARTY_ID}-1`, attributes: ATTRIBUTES, rate: 1000 })
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  }
  const party = loadPartyFile(config.partiesFile).parties.find((p) => p.id === DEMO_PARTY_ID)
  const key = party?.keys.find((k) => k.algorithm === 'ed25519')
  return key === undefined || !existsSync(keyFile) ? undefined : { keyId: key.keyId, keyFile }
}
