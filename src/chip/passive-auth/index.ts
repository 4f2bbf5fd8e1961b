/**
 * Chip passive authentication (ICAO 9303) for Vietnamese CCCD cards: the
 * library's public surface. Pure functions, no HTTP, no registry access; the
 * HTTP layer and the worker pool build on these.
 */
export { verifyChip, verifyChips } from './verify.js'
export { loadTrustStore, TrustStore, TrustStoreError } from './trust-store.js'
export type { CrlInfo, CscaEntry, DsVerdict, TrustStoreOptions } from './trust-store.js'
export { REASONS, CHECKS } from './reasons.js'
export type { ReasonCode, CheckName } from './reasons.js'
export type { ChipInput, ChipResult, ChipIdentity, CheckResult, VerifyOptions } from './types.js'
export { checkDigit, parseDg1, parseTd1 } from './mrz.js'
export type { MrzData, MrzResult } from './mrz.js'
export { parseDg13, DG13_FIELDS } from './dg13.js'
export type { Dg13Data, Dg13Result } from './dg13.js'
