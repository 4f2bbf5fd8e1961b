/**
 * mulberry32, the seeded PRNG of the tests: it lives in chip-test-pki (which
 * needs it for reproducible face images, and which benchmarks share), so
 * tests that want only a PRNG import it from here.
 */
export { prng } from 'chip-test-pki/prng'
