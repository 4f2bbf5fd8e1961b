/**
 * Vietnamese addresses across the 2025 reorganisation (docs/design/addresses.md):
 * the units table (units.ts), the folding of names and street parts (fold.ts)
 * and the reading of an address into canonical places (place.ts), used where
 * places are hashed (src/domain/record.ts) and compared (src/verify/).
 */
export { readPlace, storedPlace, textPlace, MAX_PLACE_CHARS, ADDRESS_MATCHING, type AddressMatching, type PlaceForm, type PlaceReading } from './place.js'
export { adminUnits, type AdminUnits, type NewWard, type OldWard, type OldDistrict, type OldProvince, type NewProvince } from './units.js'
export { streetKey, unitKey } from './fold.js'
