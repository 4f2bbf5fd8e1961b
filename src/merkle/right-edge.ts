/**
 * The right edge of an append-only RFC 6962 tree: the roots of the complete
 * subtrees that make up its leaves, largest first (one per 1-bit of the size,
 * so at most 64). It is all an appender needs: adding a leaf merges equal
 * subtrees (each merge is a new complete subtree hash, reported so it can be
 * stored for proofs), and the tree's root folds the edge from the right.
 */
import { hash } from 'node:crypto'
import { nodeHash } from './rfc6962.js'

/** A complete subtree: level L covers leaves [index·2^L, (index+1)·2^L). */
export interface SubtreeHash {
  readonly level: number
  readonly index: number
  readonly hash: Buffer
}

export class RightEdge {
  #size: number
  readonly #edge: SubtreeHash[]

  /** The edge of a tree of `size` leaves, given its complete subtrees largest first (empty for a new tree). */
  constructor (size = 0, edge: readonly SubtreeHash[] = []) {
    const expected = RightEdge.pieces(size)
    if (expected.length !== edge.length || expected.some((p, i) => p.level !== edge[i]!.level || p.index !== edge[i]!.index)) {
      throw new RangeError(`the right edge given does not fit a tree of ${size} leaves`)
    }
    this.#size = size
    this.#edge = [...edge]
  }

  /** The complete subtrees (level, index) that make up a tree of `size` leaves, largest first. */
  static pieces (size: number): Array<{ level: number, index: number }> {
    const out: Array<{ level: number, index: number }> = []
    let start = 0
    for (let level = 52; level >= 0; level--) {
      const span = 2 ** level
      if (size - start >= span) { out.push({ level, index: start / span }); start += span }
    }
    return out
  }

  get size (): number {
    return this.#size
  }

  get edge (): readonly SubtreeHash[] {
    return this.#edge
  }

  /** Appends a leaf hash; calls `stored` with it and every complete subtree it completes (level 0 first). */
  append (leafHash: Buffer, stored?: (s: SubtreeHash) => void): void {
    let top: SubtreeHash = { level: 0, index: this.#size, hash: leafHash }
    stored?.(top)
    while (this.#edge.length > 0 && this.#edge[this.#edge.length - 1]!.level === top.level) {
      const left = this.#edge.pop()!
      top = { level: top.level + 1, index: left.index / 2, hash: nodeHash(left.hash, top.hash) }
      stored?.(top)
    }
    this.#edge.push(top)
    this.#size++
  }

  /** MTH of the whole tree (SHA-256 of nothing when empty). */
  root (): Buffer {
    if (this.#edge.length === 0) return hash('sha256', '', 'buffer')
    let r = this.#edge[this.#edge.length - 1]!.hash
    for (let i = this.#edge.length - 2; i >= 0; i--) r = nodeHash(this.#edge[i]!.hash, r)
    return r
  }
}
