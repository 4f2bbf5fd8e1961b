/**
 * The DG13 reference parser: asn1js builds the tree, then the liberal field
 * walk takes as a field any SEQUENCE whose first element is an INTEGER and
 * whose other elements are strings (or, for 13/14, anything containing
 * strings). Slow (asn1js costs microseconds per element) and the arbiter: the
 * fast parser (dg13-fast.ts) must answer exactly what this one answers, or
 * decline (test/chip/dg13-agreement.test.ts).
 */
import * as asn1js from 'asn1js'
import { DerError, decodeWhole, errorText } from './der.js'
import { MAX_STRING_DEPTH, NESTED_FIELDS, toData, type Dg13Result } from './dg13-fields.js'

export function parseDg13Reference (bytes: Uint8Array): Dg13Result {
  try {
    const root = decodeWhole(bytes, 'DG13')
    if (root.idBlock.tagClass !== 2 || root.idBlock.tagNumber !== 13 || !(root instanceof asn1js.Constructed)) {
      return { ok: false, detail: 'DG13 is not tag 0x6D' }
    }
    const fields = new Map<number, string[]>()
    collectFields(root, fields, 0)
    return toData(fields)
  } catch (err) {
    return { ok: false, detail: err instanceof DerError ? err.message : `DG13 does not parse: ${errorText(err)}` }
  }
}

function collectFields (node: asn1js.AsnType, fields: Map<number, string[]>, depth: number): void {
  if (depth > 12 || !isConstructed(node)) return
  const children = node.valueBlock.value
  const first = children[0]
  if (node instanceof asn1js.Sequence && first instanceof asn1js.Integer && children.length >= 2 && first.valueBlock.valueHexView.byteLength <= 2) {
    const n = first.valueBlock.valueDec
    const rest = children.slice(1)
    if (NESTED_FIELDS.has(n)) {
      // Parents/spouse: take every string below, whatever the nesting (they differ between generations).
      if (!fields.has(n)) fields.set(n, rest.flatMap(c => stringsIn(c, 0)))
      return
    }
    if (rest.every(c => stringOf(c) !== undefined)) {
      if (!fields.has(n)) fields.set(n, rest.map(c => stringOf(c) ?? ''))
      return
    }
  }
  for (const child of children) collectFields(child, fields, depth + 1)
}

function isConstructed (node: asn1js.AsnType): node is asn1js.Constructed {
  return node instanceof asn1js.Constructed
}

/** A string-typed block's text (NFC, trimmed, spaces collapsed), else undefined. */
function stringOf (node: asn1js.AsnType): string | undefined {
  if (node instanceof asn1js.BaseStringBlock) return node.getValue().normalize('NFC').replace(/\s+/g, ' ').trim()
  return undefined
}

function stringsIn (node: asn1js.AsnType, depth: number): string[] {
  const s = stringOf(node)
  if (s !== undefined) return s === '' ? [] : [s]
  if (depth >= MAX_STRING_DEPTH || !isConstructed(node)) return []
  return node.valueBlock.value.flatMap(c => stringsIn(c, depth + 1))
}

