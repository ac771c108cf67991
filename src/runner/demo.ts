/**
 * The `npm start` / `otherthing-storage demo` walk-through, with no setup:
 * an orchestrator (SQLite in a temp folder) serving the dashboard and running
 * the workspace gateway, two node runners (temp storage paths, small quota),
 * one workspace; a sample file goes up through node A's HTTP API, the
 * orchestrator pins it on node B, and it comes back down from node B's API
 * with the same SHA-256. Every step prints the URL and a curl command to try,
 * and the dashboard URL with how to log in. Runs until the signal aborts
 * unless `exit` is set.
 */
import { createHash, randomBytes } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pipeline } from 'node:stream/promises'
import { StorageError, TimeoutError } from '../errors.js'
import { formatBytes } from '../storage/bytes.js'
import { createOrchestratorServer } from '../server/index.js'
import type { OrchestratorServer } from '../server/index.js'
import { silentLogger } from './logger.js'
import { startNodeRunner } from './node-runner.js'
import { downloadToFile, uploadFile } from './api-client.js'
import type { Logger } from './logger.js'
import type { NodeRunner } from './node-runner.js'
import { throwIfAborted } from '../util/abort.js'

export interface DemoInit {
  /** Stop after the checks instead of running until `signal` aborts. @default false */
  exit?: boolean
  /** Bytes of the random sample file. @default 3 MiB */
  sampleSize?: number
  /** Quota of each node. @default 256 MiB */
  quota?: number | string
  /** Where the steps are printed. @default process.stdout */
  stdout?: NodeJS.WritableStream
  /** Logger of the services. @default silent */
  logger?: Logger
  /** Ends the demo (the CLI aborts it on Ctrl+C). */
  signal?: AbortSignal
  /** Give up waiting for a step after this many ms. @default 60000 */
  stepTimeout?: number
}

export interface DemoResult {
  cid: string
  sha256: string
  bytes: number
  /** The dashboard page (gone once the demo has stopped). */
  dashboardUrl: string
}

async function sha256File (path: string): Promise<string> {
  const hash = createHash('sha256')
  await pipeline(createReadStream(path), hash)
  return hash.digest('hex')
}

/** Polls `check` until it returns a value other than undefined. @throws {TimeoutError} */
async function waitFor<T> (what: string, timeout: number, check: () => T | undefined | Promise<T | undefined>, signal?: AbortSignal): Promise<T> {
  const deadline = Date.now() + timeout
  for (;;) {
    throwIfAborted(signal)
    const value = await check()
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new TimeoutError(`Timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 100))
  }
}

function shellQuote (s: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, "'\\''")}'`
}

/**
 * Runs the demo.
 *
 * @example
 * ```ts
 * const { cid, sha256 } = await runDemo({ exit: true })
 * ```
 */
export async function runDemo (init: DemoInit = {}): Promise<DemoResult> {
  const out = init.stdout ?? process.stdout
  const logger = init.logger ?? silentLogger()
  const timeout = init.stepTimeout ?? 60_000
  const { signal } = init
  const print = (line = ''): void => { out.write(line + '\n') }
  const steps = 7
  let step = 0
  const title = (text: string): void => { print(); print(`[${++step}/${steps}] ${text}`) }

  const dir = await mkdtemp(join(tmpdir(), 'otherthing-demo-'))
  let started: OrchestratorServer | undefined
  const runners: NodeRunner[] = []
  try {
    title('Starting an orchestrator with its dashboard and workspace gateway (SQLite in a temp folder)')
    const o = started = createOrchestratorServer({
      databasePath: join(dir, 'orchestrator.db'),
      host: '127.0.0.1',
      port: 0,
      logger: logger.child({ service: 'orchestrator' }),
      dashboard: true,
      gateway: { storagePath: join(dir, 'gateway'), quotaBytes: 256 * 2 ** 20, replication: 2 }
    })
    const orch = await o.start()
    const dashboardUrl = orch.dashboardUrl ?? `${orch.adminUrl}/dashboard/`
    const admin = `-H 'Authorization: Bearer ${o.adminToken}'`
    print(`      nodes connect to ${orch.url}`)
    print(`      admin API ${orch.adminUrl}`)
    print(`      curl ${admin} ${orch.adminUrl}/workspaces`)
    print(`      dashboard ${dashboardUrl}`)
    print(`      log in to the dashboard with the admin token ${o.adminToken}`)

    title('Creating workspace "demo" and two nodes')
    const ws = await o.createWorkspace({ id: 'demo', name: 'Demo workspace' })
    const a = await o.createNode({ name: 'node-a' })
    const b = await o.createNode({ name: 'node-b' })
    await o.addMember(ws.id, a.node.id)
    await o.addMember(ws.id, b.node.id)
    print(`      workspace ${ws.id}, swarm key fingerprint ${ws.keyFingerprint} (the key itself stays secret)`)
    print(`      nodes: node-a ${a.node.id}, node-b ${b.node.id}`)
    const gateway = o.gateway
    if (gateway != null) {
      await gateway.join(ws.id, { signal })
      const peer = gateway.workspaces().find(w => w.workspaceId === ws.id)?.peerId ?? ''
      print(`      the gateway (peer ${peer}) joined ${ws.id}: members dial it as an always-on bootstrap peer`)
    }

    title('Starting node runners A and B (temp storage, small quota)')
    for (const [name, created] of [['a', a], ['b', b]] as const) {
      const runner = await startNodeRunner({
        storagePath: join(dir, `node-${name}`),
        appDataDir: join(dir, `node-${name}-app-data`),
        quota: init.quota ?? '256MiB',
        orchestratorUrl: orch.url,
        orchestratorToken: created.token,
        apiPort: 0,
        listen: ['/ip4/127.0.0.1/tcp/0'],
        logger: logger.child({ service: `node-${name}` }),
        signal
      })
      runners.push(runner)
      print(`      node ${name.toUpperCase()}: API ${runner.url}, storage ${runner.storageNode.root}`)
      print(`      curl -H 'Authorization: Bearer ${runner.token ?? ''}' ${runner.url}/storage/stats`)
    }
    const [runnerA, runnerB] = runners
    await waitFor('both nodes to join the workspace', timeout, async () => {
      const joined = runners.every(r => r.storageNode.workspaces().some(w => w.workspaceId === ws.id))
      const ready = (await o.workspaceStatus(ws.id)).nodes.filter(n => n.online && n.peerId !== null).length === 2
      return joined && ready ? true : undefined
    }, signal)
    print(`      both nodes joined ${ws.id} and found each other through the orchestrator`)
    print(`      dashboard: ${dashboardUrl}#/${ws.id} shows both nodes and their storage`)

    title(`Uploading a ${formatBytes(init.sampleSize ?? 3 * 2 ** 20)} sample file through node A's HTTP API`)
    const samplePath = join(dir, 'sample.bin')
    await writeFile(samplePath, randomBytes(init.sampleSize ?? 3 * 2 ** 20))
    const sha256 = await sha256File(samplePath)
    const tokenA = `-H 'Authorization: Bearer ${runnerA.token ?? ''}'`
    const uploaded = await uploadFile({ api: runnerA.url, token: runnerA.token, workspace: ws.id }, samplePath, { signal })
    print(`      CID ${uploaded.cid} (${formatBytes(uploaded.size)}, sha256 ${sha256.slice(0, 16)}...)`)
    print(`      curl ${tokenA} --data-binary @${shellQuote(samplePath)} -H 'Content-Type: application/octet-stream' '${runnerA.url}/storage/upload?workspace=${ws.id}'`)

    title('Asking the orchestrator to pin it on node B')
    await o.pin(ws.id, { cid: uploaded.cid, replicationMin: 2, name: 'sample.bin', size: uploaded.size })
    await waitFor('node B to pin the sample', timeout, async () => {
      const status = await o.pinStatus(ws.id, uploaded.cid)
      const onB = status.allocations.find(al => al.nodeId === b.node.id)
      if (onB?.state === 'failed') throw new StorageError(`node B failed to pin: ${onB.error?.message ?? 'unknown error'}`)
      return onB?.state === 'pinned' ? true : undefined
    }, signal)
    print(`      node B pinned ${uploaded.cid} (fetched from node A over the private swarm)`)
    print(`      curl ${admin} ${orch.adminUrl}/workspaces/${ws.id}/pins/${uploaded.cid}`)

    title('Downloading it from node B\'s HTTP API')
    const downloadPath = join(dir, 'downloaded.bin')
    const bytes = await downloadToFile({ api: runnerB.url, token: runnerB.token, workspace: ws.id }, uploaded.cid, downloadPath, { signal })
    print(`      ${formatBytes(bytes)} written to ${downloadPath}`)
    print(`      curl -H 'Authorization: Bearer ${runnerB.token ?? ''}' -o copy.bin '${runnerB.url}/storage/${uploaded.cid}?workspace=${ws.id}'`)

    title('Checking the SHA-256')
    const downloadedSha = await sha256File(downloadPath)
    if (downloadedSha !== sha256) {
      throw new StorageError(`SHA-256 mismatch: uploaded ${sha256}, downloaded ${downloadedSha}`)
    }
    print(`      OK: ${downloadedSha}`)

    print()
    if (init.exit === true) {
      print('demo finished: the file went A -> orchestrator pin -> B and came back intact')
    } else {
      print(`demo running: open ${dashboardUrl} (log in with the admin token ${o.adminToken}) or try the curl commands above; press Ctrl+C to stop`)
      if (signal !== undefined && !signal.aborted) {
        await new Promise<void>(resolve => { signal.addEventListener('abort', () => { resolve() }, { once: true }) })
      } else if (signal === undefined) {
        await new Promise<void>(() => {})
      }
      print('stopping...')
    }
    return { cid: uploaded.cid, sha256, bytes, dashboardUrl }
  } finally {
    for (const r of runners.reverse()) await r.stop().catch((err: unknown) => { logger.warn({ err }, 'stopping a node runner failed') })
    await started?.stop().catch((err: unknown) => { logger.warn({ err }, 'stopping the orchestrator failed') })
    await rm(dir, { recursive: true, force: true, maxRetries: 3 })
  }
}
