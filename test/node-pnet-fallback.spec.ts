/**
 * The pure-JS XSalsa20 fallback where `sodium-native` cannot be loaded (an
 * unsupported platform, a bundle without the `.node` file): a child process
 * whose `require('sodium-native')` throws gets the pure-JS keystream by
 * default, the same bytes as libsodium's in this process, and a named error
 * when it insists on `cipher: 'native'`. (Forcing the fallback with
 * `OTHERTHING_PNET_CIPHER=js` is tested in node-transfer-cipher.spec.ts,
 * on the wire against libsodium and @libp2p/pnet in node-pnet-guard.spec.ts.)
 */
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'
import { createKeyStream } from '../src/node/pnet.js'

const repoRoot = fileURLToPath(new URL('..', import.meta.url))

// runs in the child: sodium-native fails to load, as where the addon is missing
const script = `
import Module from 'node:module'
const load = Module._load
Module._load = function (request, ...rest) {
  if (request === 'sodium-native') throw new Error('Cannot find module sodium-native (hidden by the test)')
  return load.call(this, request, ...rest)
}
const { createKeyStream } = await import('./src/node/pnet.ts')
const key = new Uint8Array(32).fill(7)
const nonce = new Uint8Array(24).fill(9)
const stream = createKeyStream(nonce, key)
const out = Buffer.from(stream.update(new Uint8Array(1000).fill(1))).toString('hex')
let native
try { createKeyStream(nonce, key, 'native') } catch (err) { native = { name: err.name, code: err.code } }
console.log(JSON.stringify({ implementation: stream.implementation, out, native }))
`

describe('pnet cipher where sodium-native cannot be loaded', () => {
  it('falls back to pure JS with the same keystream; cipher "native" is refused with InvalidConfigError', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: repoRoot,
      env: { ...process.env, OTHERTHING_PNET_CIPHER: '' }
    })
    const child = JSON.parse(stdout.trim().split('\n').at(-1) as string)
    expect(child.implementation).toBe('js')
    expect(child.native).toEqual({ name: 'InvalidConfigError', code: 'ERR_INVALID_CONFIG' })
    const here = createKeyStream(new Uint8Array(24).fill(9), new Uint8Array(32).fill(7), 'native')
    expect(here.implementation).toBe('native')
    expect(child.out).toBe(Buffer.from(here.update(new Uint8Array(1000).fill(1))).toString('hex'))
    here.destroy()
  })
})
