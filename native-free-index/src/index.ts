/**
 * native-free-index: a persistent, crash-safe index from 40-bit integer keys (PINs)
 * to opaque byte values, in pure TypeScript over Node built-ins. See README.md.
 */
export { open, Engine } from './engine.js'
export type { OpenOptions, EngineStats } from './engine.js'
export { openShared, SharedView } from './shared-view.js'
export type { SharedHandle } from './shared-view.js'
export type { KeyRange } from './reader.js'
export type { BatchEntry } from './log-format.js'
export { NativeFreeIndexError, ERROR_CODES } from './errors.js'
export type { ErrorCode } from './errors.js'
export { KEY_LIMIT } from './keys.js'
