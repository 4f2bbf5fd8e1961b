/**
 * Runs in every test file: the temporary directories it made through
 * test/helpers/temp.ts, and the chip test PKI's work directories
 * (chip-test-pki), are removed after its tests (test processes are reused,
 * so they never see 'exit').
 */
import { afterAll } from 'vitest'
import { removeTestPkiDirs } from 'chip-test-pki/work-dirs'
import { removeTempDirs } from '../helpers/temp.js'

afterAll(removeTempDirs)
afterAll(removeTestPkiDirs)
