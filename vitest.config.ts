import { fileURLToPath } from 'node:url'
import { configDefaults, defineConfig } from 'vitest/config'

/**
 * Unit specs: one module at a time, no network nodes, no orchestrator, no child processes
 * (`npm run test:unit`). Every other spec is an integration spec (`npm run test:integration`):
 * real Helia nodes over loopback TCP, orchestrator + SQLite, node runners, CLI processes,
 * Chromium, the built package. A new spec file is an integration spec unless listed here.
 */
export const UNIT_SPECS = [
  'test/bench-smoke.spec.ts',
  'test/blockstore-compliance.spec.ts',
  'test/http-params.spec.ts',
  'test/ipc.spec.ts',
  'test/node-import-inplace.spec.ts',
  'test/node-perf-import.spec.ts',
  'test/node-transfer-cipher.spec.ts',
  'test/protocol.spec.ts',
  'test/quota-blockstore.spec.ts',
  'test/quota-fast-path.spec.ts',
  'test/quota-reserve.spec.ts',
  'test/storage-*.spec.ts',
  'test/swarm-key.spec.ts',
  'test/util-primitives.spec.ts'
]

export default defineConfig({
  resolve: {
    alias: {
      // interface-blockstore-tests is written for mocha + aegir; point its chai import at our shim
      'aegir/chai': fileURLToPath(new URL('./test/helpers/aegir-chai.ts', import.meta.url))
    }
  },
  test: {
    globals: true,
    testTimeout: 60_000,
    hookTimeout: 60_000,
    setupFiles: ['./test/helpers/setup.ts'],
    server: {
      deps: {
        inline: ['interface-blockstore-tests']
      }
    },
    projects: [
      { extends: true, test: { name: 'unit', include: UNIT_SPECS } },
      { extends: true, test: { name: 'integration', include: ['test/**/*.spec.ts'], exclude: [...configDefaults.exclude, ...UNIT_SPECS] } }
    ]
  }
})
