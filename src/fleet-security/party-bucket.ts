/**
 * The fleet's relying-party registry: one JSON document (the party file's
 * shape, src/parties/schema.ts) under one key of the KV bucket `idv_parties`.
 * One document rather than a key per party, so a change is one write that
 * every node takes whole or not at all, and the key's revision is the fleet's
 * config version: one number that says which registry a node enforces.
 *
 * Writers (`idv party … --nats`) edit it with the file-based party commands
 * themselves (src/parties/party-cli.ts) on a private copy, then write it back
 * conditional on the revision they read (another admin's edit in between makes
 * them read and edit again), so the file and the fleet share one validation.
 *
 * Nodes (`watchFleetParties`) validate every revision with the same check and
 * write it to their own parties file, which the admission gate already reloads
 * when it changes: the request path reads the registry from memory as before.
 * A revision that fails the check is refused whole: the node keeps the last
 * good one, counts and logs it.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import type { NatsConnection } from '@nats-io/transport-node'
import { jetstreamManager } from '@nats-io/jetstream'
import { Kvm, type KV } from '@nats-io/kv'
import { writeFileAtomic } from '../files/atomic-file.js'
import { checkPartyFile } from '../parties/registry.js'

export const PARTIES_BUCKET = 'idv_parties'
export const PARTIES_KEY = 'parties'
/** JetStream's code for a write whose expected revision was not the key's. */
export const WRONG_LAST_SEQUENCE = 10071
const STREAM_NOT_FOUND = 10059

/** The bucket, made if missing: R3 where the cluster has three servers, else what it has. */
export async function openPartiesBucket (nc: NatsConnection): Promise<KV> {
  return await ensureBucket(nc, PARTIES_BUCKET, { history: 10 })
}

/** A KV bucket, created if missing (R3, or R1 on a single server), else opened as it is. */
export async function ensureBucket (nc: NatsConnection, name: string, o: { history?: number, ttlMs?: number }): Promise<KV> {
  const kvm = new Kvm(nc)
  // Kvm.open only binds (it never asks whether the bucket exists): ask its stream.
  const jsm = await jetstreamManager(nc, { timeout: 5_000 })
  const exists = await jsm.streams.info(`KV_${name}`).then(() => true, (err: unknown) => {
    if ((err as { code?: unknown }).code === STREAM_NOT_FOUND) return false
    throw err
  })
  if (exists) return await kvm.open(name)
  const opts = { history: o.history ?? 1, ...(o.ttlMs === undefined ? {} : { ttl: o.ttlMs }) }
  try {
    return await kvm.create(name, { ...opts, replicas: 3 })
  } catch (err) {
    // Fewer than three JetStream servers (a local experiment): one replica.
    if (!/replicas|insufficient resources|no suitable peers/i.test(String((err as Error).message))) throw err
    return await kvm.create(name, { ...opts, replicas: 1 })
  }
}

export interface FleetParties {
  /** The document's text, or undefined when no party was ever added to the fleet. */
  readonly text: string | undefined
  /** The key's revision: the fleet config version (0 when none). */
  readonly revision: number
}

export async function readFleetParties (kv: KV): Promise<FleetParties> {
  const entry = await kv.get(PARTIES_KEY)
  if (entry === null || entry.operation !== 'PUT') return { text: undefined, revision: 0 }
  return { text: entry.string(), revision: entry.revision }
}

/**
 * Runs a file-based party command (`edit(file)`) against the fleet's document:
 * copies it to a private file, runs the command there (its validation
 * included), writes the result back conditional on the revision read. Retries
 * when another edit landed in between. Returns what the command returned and the
 * new config version.
 */
export async function editFleetParties<T> (kv: KV, edit: (file: string) => T, o: { readOnly?: boolean } = {}): Promise<{ result: T, revision: number }> {
  for (let attempt = 0; ; attempt++) {
    const current = await readFleetParties(kv)
    const dir = mkdtempSync(join(tmpdir(), 'idv-fleet-parties-'))
    try {
      const file = join(dir, 'parties.json')
      // Nothing in the fleet yet: an edit creates the document; a listing lists an empty one.
      if (current.text !== undefined) writeFileSync(file, current.text, { mode: 0o600 })
      else if (o.readOnly === true) writeFileSync(file, '{"parties": []}\n', { mode: 0o600 })
      const result = edit(file)
      if (o.readOnly === true || !existsSync(file)) return { result, revision: current.revision }
      const text = readFileSync(file, 'utf8')
      if (text === current.text) return { result, revision: current.revision }
      try {
        const revision = current.revision === 0 ? await kv.create(PARTIES_KEY, text) : await kv.update(PARTIES_KEY, text, current.revision)
        return { result, revision }
      } catch (err) {
        if (!isWrongRevision(err) || attempt >= 4) throw err
      }
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  }
}

function isWrongRevision (err: unknown): boolean {
  const code = (err as { code?: unknown }).code
  return code === WRONG_LAST_SEQUENCE || /wrong last sequence/i.test(String((err as Error).message))
}

export type PartiesUpdate =
  | { readonly ok: true, readonly revision: number, readonly parties: number }
  | { readonly ok: false, readonly revision: number, readonly problems: readonly string[] }

/**
 * Validates one revision of the fleet document as the node would load it
 * (secret files resolved beside the node's parties file) and, if it passes,
 * writes it over the node's parties file atomically. JSON is also YAML, so
 * the file may keep a .yaml name.
 */
export function installFleetParties (partiesFile: string, text: string, revision: number): PartiesUpdate {
  let doc: unknown
  try {
    doc = JSON.parse(text)
  } catch (err) {
    return { ok: false, revision, problems: [`the fleet's party document does not parse: ${err instanceof Error ? err.message : 'error'}`] }
  }
  const checked = checkPartyFile(doc, dirname(resolve(partiesFile)))
  if (!checked.ok) return { ok: false, revision, problems: checked.problems }
  writeFileAtomic(partiesFile, text.endsWith('\n') ? text : `${text}\n`, 0o600)
  return { ok: true, revision, parties: checked.parties.length }
}
