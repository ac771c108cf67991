/**
 * An orchestrator and two storage nodes on this machine (127.0.0.1 only):
 * the nodes join a workspace, one adds a file, the orchestrator places it on
 * both, and the admin API shows the workspace status. The orchestrator also
 * serves the dashboard on its port and runs the workspace gateway (an
 * always-on peer the nodes bootstrap from).
 *
 *   npx tsx examples/orchestrator.ts
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createOrchestratorClient, createStorageNode } from 'otherthing-storage'
import { createOrchestratorServer } from 'otherthing-storage/server'

const dir = await mkdtemp(join(tmpdir(), 'orchestrator-example-'))
const orchestrator = createOrchestratorServer({
  dataDir: dir,
  port: 0,
  repinGraceMs: 5_000,
  dashboard: true,
  gateway: { storagePath: join(dir, 'gateway'), quotaBytes: 64 * 2 ** 20 }
})
const { url, adminUrl, dashboardUrl } = await orchestrator.start()
console.log('orchestrator', { url, adminUrl, dashboardUrl })
orchestrator.onChange(e => { if (e.type === 'allocation') console.log('  allocation', e.nodeId, e.state) })

const workspace = await orchestrator.createWorkspace({ id: 'demo', name: 'Demo' })
console.log('workspace', workspace.id, 'key fingerprint', workspace.keyFingerprint)

const machines = []
for (const name of ['left', 'right']) {
  const { node, token } = await orchestrator.createNode({ name })
  await orchestrator.addMember(workspace.id, node.id)
  const storageNode = await createStorageNode({ storagePath: join(dir, name), quotaBytes: 64 * 2 ** 20, listenAddresses: ['/ip4/127.0.0.1/tcp/0'] })
  const client = createOrchestratorClient({ url, token, storageNode, nodeName: name })
  await client.start()
  await client.waitConnected({ signal: AbortSignal.timeout(10_000) })
  machines.push({ name, storageNode, client })
}

// wait until both nodes run the workspace
while ((await orchestrator.workspaceStatus('demo')).nodes.some(n => n.peerId == null)) await new Promise(resolve => setTimeout(resolve, 100))

const left = machines[0].storageNode.workspace('demo')
const { cid, size } = await left.add(new TextEncoder().encode('hello from the orchestrator example\n'), { pin: false })
console.log('added', cid.toString(), size, 'bytes')
await orchestrator.pin('demo', { cid: cid.toString(), replicationMin: 2, replicationMax: 2, name: 'hello.txt' })
while ((await orchestrator.pinStatus('demo', cid.toString())).copies < 2) await new Promise(resolve => setTimeout(resolve, 100))

// the same status through the admin API
const res = await fetch(`${adminUrl}/workspaces/demo/status`, { headers: { authorization: `Bearer ${orchestrator.adminToken}` } })
const status = await res.json() as { nodesOnline: number, pins: Array<{ cid: string, copies: number, status: string }> }
console.log('status', { nodesOnline: status.nodesOnline, pins: status.pins })
const page = await fetch(dashboardUrl ?? '')
console.log('dashboard page', page.status, '(log in with orchestrator.adminToken)')

for (const m of machines) {
  await m.client.stop()
  await m.storageNode.stop()
}
await orchestrator.stop()
await rm(dir, { recursive: true, force: true })
