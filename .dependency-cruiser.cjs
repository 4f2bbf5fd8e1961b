/**
 * The layering of src/, checked in `npm test` (dependency-cruiser):
 *
 *   core          src/*.ts, domain/, store/, http/, files/, population/,
 *                 addresses/ (the units table and address reading)
 *   libraries     signatures/ (RFC 9421), parties/ (the registry and policy),
 *                 merkle/ (RFC 6962 trees, shared by receipts/ and audit/)
 *   capabilities  metrics/, admission/, receipts/, audit/, verify/, chip/, jobs/,
 *                 card-qr/, replication/, fleet-security/: one folder,
 *                 one entry (index.ts), plugged in by src/app/capabilities.ts
 *   tools         bulk-load/, snapshot/, client/, fleet/ (what the command line drives)
 *   app           app/ (the process wiring, the command line)
 *
 * Each layer imports only the layers above it in this list, a capability
 * another only through its index.ts, and nothing in src/ imports bench/ or
 * test/. Imports that run back up are listed one by one with their reason.
 */
const CORE = '^src/([^/]+\\.ts$|domain/|store/|http/|files/|population/|addresses/)'
const LIBRARIES = '^src/(signatures|parties|merkle)/'
const CAPABILITIES = '^src/(metrics|admission|receipts|audit|verify|chip|jobs|card-qr|replication|fleet-security)/'
const TOOLS = '^src/(bulk-load|snapshot|client|fleet)/'

module.exports = {
  forbidden: [
    { name: 'no-circular', severity: 'error', comment: 'A circle makes load order matter and layers meaningless.', from: {}, to: { circular: true } },
    { name: 'src-not-bench-or-test', severity: 'error', comment: 'The product never depends on benchmarks or tests.', from: { path: '^src/' }, to: { path: '^(bench|test)/' } },
    {
      name: 'core-stays-core',
      severity: 'error',
      comment: 'Core imports no library, capability, tool or app code.',
      from: { path: CORE },
      to: { path: `${LIBRARIES}|${CAPABILITIES}|${TOOLS}|^src/app/` }
    },
    {
      name: 'libraries-below-capabilities',
      severity: 'error',
      comment: 'Libraries import core and each other, never a capability, tool or the app.',
      from: { path: LIBRARIES },
      to: { path: `${CAPABILITIES}|${TOOLS}|^src/app/` }
    },
    {
      name: 'capabilities-through-their-entry',
      severity: 'error',
      comment: 'A capability uses another only through what its index.ts exports.',
      from: { path: '^src/([^/]+)/' },
      to: { path: CAPABILITIES, pathNot: ['^src/$1/', '^src/[^/]+/index\\.ts$'] }
    },
    {
      name: 'capabilities-not-tools-or-app',
      severity: 'error',
      comment: 'Capabilities never import tools or the app.',
      from: { path: CAPABILITIES },
      to: { path: `${TOOLS}|^src/app/` }
    },
    {
      name: 'tools-not-app',
      severity: 'error',
      comment: 'Tools are driven by the app, never the other way round.',
      from: { path: TOOLS },
      to: { path: '^src/app/' }
    }
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsConfig: { fileName: 'tsconfig.build.json' },
    tsPreCompilationDeps: true,
    enhancedResolveOptions: { extensions: ['.ts', '.js'] }
  }
}
