import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    // forks, not threads: native addons (lmdb, uWS) and worker_threads clash in one isolate pool
    pool: 'forks',
    include: ['test/**/*.test.ts', 'native-free-index/test/**/*.test.ts'],
    // A temporary directory per run, checked empty at the end (test/setup/temp-dir.ts).
    globalSetup: ['test/setup/temp-dir.ts'],
    setupFiles: ['test/setup/after-each-file.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000
  }
})
