/**
 * The API reference (`npm run docs:api`, TypeDoc over the package's subpath
 * entry points, typedoc.json) builds without an error or a warning: every
 * type a public signature names is exported somewhere, every `{@link}`
 * resolves. Run without writing the HTML (`--emit none`).
 */
import { execFile } from 'node:child_process'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'

const root = fileURLToPath(new URL('..', import.meta.url))
const typedocBin = join(dirname(createRequire(import.meta.url).resolve('typedoc/package.json')), 'bin', 'typedoc')

describe('API reference (TypeDoc)', () => {
  it('converts every entry point with no error and no warning', async () => {
    // treatWarningsAsErrors is set in typedoc.json: a warning fails the run
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [typedocBin, '--emit', 'none', '--logLevel', 'Warn'], { cwd: root })
    const output = stdout + stderr
    expect(output).not.toMatch(/\[(warning|error)\]/)
  }, 120_000)
})
