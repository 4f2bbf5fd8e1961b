/**
 * The openssl chip corpus (test/fixtures/chip-corpus/): chips whose every byte
 * was made without the project's code. openssl made the keys, the CSCA, link
 * and Document Signer certificates, the CRLs and the CMS signatures; a python
 * standard-library encoder made DG1, DG13 and the LDSSecurityObject.
 * make-corpus.sh regenerates it and checks each expectation against
 * `openssl cms -verify` first; this test reads the committed output and holds
 * the library to manifest.json: valid where it says valid (with the identity
 * the encoder put in), else the named reason from the named check and no
 * other failure.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { loadTrustStore, TrustStoreError, verifyChip, type ChipResult, type TrustStore } from '../../src/chip/passive-auth/index.js'

const CORPUS = join(import.meta.dirname, '..', 'fixtures', 'chip-corpus')

interface StoreSpec { readonly dir: string, readonly crls?: readonly string[], readonly loadError?: string }
interface CorpusCase {
  readonly name: string
  readonly note: string
  readonly trust: string
  readonly sod: string
  readonly dataGroups: Readonly<Record<string, string>>
  readonly expect:
  | { readonly valid: true, readonly signatureAlgorithm: string, readonly digestAlgorithm: string, readonly identity: Record<string, string> }
  | { readonly valid: false, readonly reason: string, readonly check: string }
}
interface Manifest { readonly trustStores: Readonly<Record<string, StoreSpec>>, readonly cases: readonly CorpusCase[] }

const manifest = JSON.parse(readFileSync(join(CORPUS, 'manifest.json'), 'utf8')) as Manifest
const file = (path: string): Uint8Array => new Uint8Array(readFileSync(join(CORPUS, path)))

const stores = new Map<string, TrustStore>()
function store (name: string): TrustStore {
  let s = stores.get(name)
  if (s === undefined) {
    const spec = manifest.trustStores[name]
    if (spec === undefined) throw new Error(`manifest names unknown trust store ${name}`)
    s = loadTrustStore(join(CORPUS, spec.dir), { crlFiles: (spec.crls ?? []).map(c => join(CORPUS, c)) })
    stores.set(name, s)
  }
  return s
}

function run (c: CorpusCase): ChipResult {
  const dataGroups = new Map(Object.entries(c.dataGroups).map(([n, path]) => [Number(n), file(path)] as const))
  return verifyChip({ sod: file(c.sod), dataGroups }, store(c.trust))
}

describe('openssl chip corpus: trust stores', () => {
  it('loads every store the cases use, with its CRLs', () => {
    const main = store('main')
    // The old CSCA, the brainpool CSCA, and the new CSCA's key through its link certificate.
    expect(main.cscas.length).toBe(3)
    expect(main.crls.map(c => c.revoked)).toEqual([2, 1, 0])
    expect(store('master-list').cscas.length).toBe(3)
  })

  for (const [name, spec] of Object.entries(manifest.trustStores)) {
    if (spec.loadError === undefined) continue
    it(`${name}: refuses to load, naming ${spec.loadError}`, () => {
      let error: unknown
      try {
        loadTrustStore(join(CORPUS, spec.dir), { crlFiles: (spec.crls ?? []).map(c => join(CORPUS, c)) })
      } catch (err) {
        error = err
      }
      expect(error).toBeInstanceOf(TrustStoreError)
      expect((error as TrustStoreError).problems.join('; ')).toContain(spec.loadError)
    })
  }
})

describe('openssl chip corpus: cases', () => {
  const results = new Map<string, ChipResult>()

  it.each(manifest.cases.map(c => [c.name, c] as const))('%s', (_name, c) => {
    const r = run(c)
    results.set(c.name, r)
    const failed = r.checks.filter(k => !k.ok)
    if (c.expect.valid) {
      expect(failed, c.note).toEqual([])
      expect(r.valid).toBe(true)
      expect(r.signatureAlgorithm).toBe(c.expect.signatureAlgorithm)
      expect(r.digestAlgorithm).toBe(c.expect.digestAlgorithm)
      expect(r.identity).toEqual(c.expect.identity)
    } else {
      expect(r.valid).toBe(false)
      expect(r.reason, `${c.note}: ${JSON.stringify(failed)}`).toBe(c.expect.reason)
      // The named check fails and nothing else does: the corpus breaks one thing per case.
      expect(failed.map(k => [k.check, k.reason])).toEqual([[c.expect.check, c.expect.reason]])
      expect(r.identity).toBeUndefined()
    }
  })

  it('a second pass (SOD layout templates and DS verdicts now cached) gives the same answers', () => {
    expect(results.size).toBe(manifest.cases.length)
    for (const c of [...manifest.cases].reverse()) expect(run(c), c.name).toEqual(results.get(c.name))
  })
})
