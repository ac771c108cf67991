/**
 * The package's version for `--version`: read from its package.json, found by
 * walking up from this file (the same from `src/` under tsx and from `dist/`).
 */
import { readFileSync } from 'node:fs'

export function packageVersion (): string {
  let url = new URL('.', import.meta.url)
  for (let i = 0; i < 6; i++) {
    try {
      const pkg = JSON.parse(readFileSync(new URL('package.json', url), 'utf8'))
      if (pkg?.name === 'otherthing-storage' && typeof pkg.version === 'string') return pkg.version
    } catch { /* no package.json at this level: go up */ }
    url = new URL('..', url)
  }
  return '0.0.0'
}
