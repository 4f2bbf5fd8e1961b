/**
 * Checkpoints as C2SP signed notes, checked against the published example of
 * golang.org/x/mod/sumdb/note (the PeterNeumann key pair and its signed
 * note): Ed25519 is deterministic, so signing the example text with the
 * example key must give the published signature byte for byte, and the
 * published note must verify with the published verifier key. The checkpoint
 * body is then checked line by line against the C2SP tlog-checkpoint layout
 * with an independent parser written here from the spec (node:crypto only).
 */
import { createHash, createPublicKey, verify } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { generateSignerKey, openCheckpoint, openNote, parseSignerKey, parseVerifierKey, signCheckpoint, signNote } from '../../src/audit/checkpoint.js'

const VKEY = 'PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW'
const SKEY = 'PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz'
const TEXT = 'If you think cryptography is the answer to your problem,\nthen you don\'t know what your problem is.\n'
const NOTE = `${TEXT}\n\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n`

/** An independent signed-note check (C2SP signed-note): key id, signature over the text, from the spec. */
function independentlyVerify (note: string, vkey: string): { origin: string, size: number, root: Buffer } {
  const [name, id, b64] = [vkey.split('+')[0]!, vkey.split('+')[1]!, vkey.split('+').slice(2).join('+')]
  const key = Buffer.from(b64, 'base64')
  expect(key[0]).toBe(1) // Ed25519
  const keyId = createHash('sha256').update(`${name}\n`).update(key).digest().subarray(0, 4)
  expect(keyId.toString('hex')).toBe(id)
  const cut = note.indexOf('\n\n')
  const text = note.slice(0, cut + 1)
  const sigLine = note.slice(cut + 2)
  const m = /^\u2014 (\S+) (\S+)\n$/u.exec(sigLine)
  expect(m?.[1]).toBe(name)
  const blob = Buffer.from(m![2]!, 'base64')
  expect(blob.subarray(0, 4).equals(keyId)).toBe(true)
  const spki = Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), key.subarray(1)])
  expect(verify(null, Buffer.from(text), createPublicKey({ key: spki, format: 'der', type: 'spki' }), blob.subarray(4))).toBe(true)
  const lines = text.split('\n')
  expect(lines).toHaveLength(4) // origin, size, root, and the empty string after the final newline
  expect(lines[1]).toMatch(/^(0|[1-9][0-9]*)$/)
  return { origin: lines[0]!, size: Number(lines[1]), root: Buffer.from(lines[2]!, 'base64') }
}

describe('C2SP signed notes', () => {
  it('reproduces the Go note package\'s published example byte for byte', () => {
    const signer = parseSignerKey(SKEY)
    expect(signer.verifierKey).toBe(VKEY)
    expect(signNote(TEXT, signer)).toBe(NOTE)
    expect(openNote(NOTE, parseVerifierKey(VKEY))).toEqual({ ok: true, text: TEXT })
  })

  it('refuses a changed text, another key, a wrong key id and malformed keys', () => {
    const v = parseVerifierKey(VKEY)
    expect(openNote(NOTE.replace('cryptography', 'Cryptography'), v).ok).toBe(false)
    const other = parseSignerKey(generateSignerKey('PeterNeumann'))
    expect(openNote(signNote(TEXT, other), v).ok).toBe(false)
    expect(() => parseVerifierKey('PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW')).toThrow(RangeError)
    expect(() => parseVerifierKey('PeterNeumann+c74f20a3')).toThrow(RangeError)
    expect(() => parseSignerKey('PRIVATE+KEY+PeterNeumann+c74f20a4+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz')).toThrow(RangeError)
  })
})

describe('checkpoints', () => {
  const signer = parseSignerKey(generateSignerKey('idv.audit/node-a'))
  const root = createHash('sha256').update('root').digest()

  it('are tlog-checkpoint notes an independent verifier accepts', () => {
    const cp = signCheckpoint('idv.audit/node-a', 12345, root, signer)
    expect(cp.note.startsWith(`idv.audit/node-a\n12345\n${root.toString('base64')}\n\n\u2014 idv.audit/node-a `)).toBe(true)
    expect(independentlyVerify(cp.note, signer.verifierKey)).toEqual({ origin: 'idv.audit/node-a', size: 12345, root })
    const opened = openCheckpoint(cp.note, parseVerifierKey(signer.verifierKey), 'idv.audit/node-a')
    expect(opened.ok && opened.checkpoint.size).toBe(12345)
  })

  it('refuses a forged size or root, another origin and an unsigned body', () => {
    const v = parseVerifierKey(signer.verifierKey)
    const note = signCheckpoint('idv.audit/node-a', 7, root, signer).note
    expect(openCheckpoint(note.replace('\n7\n', '\n8\n'), v).ok).toBe(false)
    expect(openCheckpoint(note.replace(root.toString('base64'), Buffer.alloc(32).toString('base64')), v).ok).toBe(false)
    expect(openCheckpoint(note, v, 'idv.audit/node-b')).toMatchObject({ ok: false })
    expect(openCheckpoint(note.slice(0, note.indexOf('\n\n') + 1), v).ok).toBe(false)
  })
})
