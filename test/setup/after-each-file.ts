/**
 * Runs in every test file: the temporary directories it made through
 * test/helpers/temp.ts are removed after its tests (test processes are reused,
 * so they never see 'exit').
 */
import { afterAll } from 'vitest'
import { removeTempDirs } from '../helpers/temp.js'

afterAll(removeTempDirs)
