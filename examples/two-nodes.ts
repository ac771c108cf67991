/**
 * Two storage nodes in one private workspace share a file; a third node with
 * another swarm key is refused.
 *
 *   npx tsx examples/two-nodes.ts
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createStorageNode, generateSwarmKey, parseSwarmKey } from 'otherthing-storage'

const dirs = await Promise.all([1, 2, 3].map(async i => mkdtemp(join(tmpdir(), `two-nodes-${i}-`))))
const listenAddresses = ['/ip4/127.0.0.1/tcp/0']
const key = generateSwarmKey()
console.log('workspace key fingerprint', parseSwarmKey(key).fingerprint)

const [a, b, outsider] = await Promise.all(dirs.map(async storagePath =>
  createStorageNode({ storagePath, quotaBytes: 100 * 2 ** 20, listenAddresses, blockTimeout: 2000, blockRetries: 1, dialTimeout: 2000 })))
try {
  const wa = await a.join('demo', key)
  const wb = await b.join('demo', key, { bootstrapPeers: wa.multiaddrs() })
  console.log('A', wa.peerId, '\nB', wb.peerId, 'connected to', wb.peers().map(p => p.peerId))

  const { cid, size } = await wa.add(new TextEncoder().encode('hello from a private workspace\n'), { name: 'hello.txt' })
  console.log('A added', cid.toString(), `${size} bytes`)
  await wb.pin(cid, { timeout: 10_000 })
  let text = ''
  for await (const chunk of wb.cat(cid)) text += new TextDecoder().decode(chunk)
  console.log('B pinned and read:', JSON.stringify(text))

  const wx = await outsider.join('demo', generateSwarmKey(), { bootstrapPeers: wa.multiaddrs() })
  try {
    await wx.connect(wa.multiaddrs()[0], { signal: AbortSignal.timeout(2000) })
    console.log('unexpected: the outsider connected')
  } catch (err) {
    console.log('outsider refused:', (err as { code?: string }).code)
  }
  try {
    await wx.pin(cid, { timeout: 2000 })
  } catch (err) {
    console.log('outsider cannot fetch:', (err as { code?: string }).code)
  }
} finally {
  await Promise.all([a.stop(), b.stop(), outsider.stop()])
  await Promise.all(dirs.map(async d => rm(d, { recursive: true, force: true })))
}
