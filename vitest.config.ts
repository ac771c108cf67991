import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vitest/config'

export default defineConfig({
  resolve: {
    alias: {
      // interface-blockstore-tests is written for mocha + aegir; point its chai import at our shim
      'aegir/chai': fileURLToPath(new URL('./test/helpers/aegir-chai.ts', import.meta.url))
    }
  },
  test: {
    globals: true,
    include: ['test/**/*.spec.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    setupFiles: ['./test/helpers/setup.ts'],
    server: {
      deps: {
        inline: ['interface-blockstore-tests']
      }
    }
  }
})
