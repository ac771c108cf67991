/**
 * The dashboard's folder routes through fastify inject, over a real
 * orchestrator and a real workspace gateway (an embedded storage node):
 * upload a folder that keeps its paths, browse it, download one file from
 * inside it and the whole folder as a tar.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { extract } from 'tar-stream'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildDashboardApp, createWorkspaceGateway } from '../src/dashboard/index.js'
import type { DashboardApp, WorkspaceGateway } from '../src/dashboard/index.js'
import { createStorageNode } from '../src/node/index.js'
import { createOrchestrator } from '../src/orchestrator/index.js'
import type { Orchestrator } from '../src/orchestrator/index.js'

const MiB = 1024 * 1024

function multipart (files: Record<string, string>): { payload: Buffer, headers: Record<string, string> } {
  const boundary = '----dashfolders1234'
  const parts = Object.entries(files).map(([path, content]) =>
    `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${path}"\r\nContent-Type: text/plain\r\n\r\n${content}\r\n`)
  return { payload: Buffer.from(parts.join('') + `--${boundary}--\r\n`), headers: { 'content-type': `multipart/form-data; boundary=${boundary}` } }
}

async function tarNames (body: Buffer): Promise<string[]> {
  const ex = extract()
  const names: string[] = []
  const done = (async () => { for await (const e of ex) { names.push(e.header.name); e.resume() } })()
  ex.end(body)
  await done
  return names
}

describe('dashboard folders (inject)', () => {
  let dir: string
  let orch: Orchestrator
  let gateway: WorkspaceGateway
  let dash: DashboardApp
  let cookie: string
  let ws: string
  let root: string

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dash-folders-'))
    orch = createOrchestrator({ dataDir: dir, port: 0 })
    await orch.start()
    ws = (await orch.createWorkspace({ id: 'ws-f', name: 'Folders' })).id
    await orch.addMember(ws, (await orch.createNode({ name: 'member' })).node.id)
    const storageNode = await createStorageNode({ storagePath: join(dir, 'gw'), quotaBytes: 64 * MiB, listenAddresses: ['/ip4/127.0.0.1/tcp/0'], reserveBytes: 0 })
    gateway = createWorkspaceGateway({ storageNode, orchestrator: orch })
    dash = buildDashboardApp({ orchestrator: orch, gateway, maxUploadBytes: 1 * MiB })
    const login = await dash.app.inject({ method: 'POST', url: '/dashboard/api/login', payload: { token: orch.adminToken } })
    cookie = String(login.headers['set-cookie']).split(';')[0]
  })

  afterAll(async () => {
    await dash?.close()
    await gateway?.stop()
    await orch?.stop()
    await rm(dir, { recursive: true, force: true })
  })

  it('uploads a folder with its paths and pins it on the workspace under the folder name', async () => {
    const { payload, headers } = multipart({ 'trip/notes.txt': 'day one', 'trip/photos/a.jpg': 'jpeg bytes', 'trip/photos/b.jpg': 'more jpeg' })
    const res = await dash.app.inject({ method: 'POST', url: `/dashboard/api/workspaces/${ws}/upload-folder?replication=1`, payload, headers: { ...headers, cookie } })
    expect(res.statusCode).toBe(201)
    const body = res.json()
    expect(body).toMatchObject({ name: 'trip', size: 'day one'.length + 'jpeg bytes'.length + 'more jpeg'.length, entries: 5 })
    root = body.cid
    expect(await orch.pinStatus(ws, root)).toMatchObject({ name: 'trip', size: body.size })
  })

  it('browses the folder and a folder inside it', async () => {
    const res = await dash.app.inject({ method: 'GET', url: `/dashboard/api/workspaces/${ws}/browse/${root}`, headers: { cookie } })
    expect(res.statusCode).toBe(200)
    expect(res.json().entries.map((e: any) => `${e.name}:${e.type}`).sort()).toEqual(['notes.txt:file', 'photos:directory'])
    const sub = await dash.app.inject({ method: 'GET', url: `/dashboard/api/workspaces/${ws}/browse/${root}/photos`, headers: { cookie } })
    expect(sub.json().entries.map((e: any) => e.name)).toEqual(['a.jpg', 'b.jpg'])
  })

  it('downloads one file from inside it, and the whole folder as a tar', async () => {
    const file = await dash.app.inject({ method: 'GET', url: `/dashboard/api/workspaces/${ws}/files/${root}/photos/b.jpg`, headers: { cookie } })
    expect(file.statusCode).toBe(200)
    expect(file.body).toBe('more jpeg')
    expect(file.headers['content-disposition']).toContain('filename="b.jpg"')
    const tar = await dash.app.inject({ method: 'GET', url: `/dashboard/api/workspaces/${ws}/files/${root}?format=tar`, headers: { cookie } })
    expect(tar.statusCode).toBe(200)
    expect(tar.headers['content-type']).toBe('application/x-tar')
    expect(await tarNames(tar.rawPayload)).toEqual(expect.arrayContaining([root, `${root}/notes.txt`, `${root}/photos`, `${root}/photos/a.jpg`]))
  })

  it('needs a login; refuses a folder above the upload limit and pins nothing', async () => {
    const anon = await dash.app.inject({ method: 'GET', url: `/dashboard/api/workspaces/${ws}/browse/${root}` })
    expect(anon.statusCode).toBe(401)
    const pins = (await orch.workspaceStatus(ws)).pins.length
    const { payload, headers } = multipart({ 'big/a.txt': 'x'.repeat(700 * 1024), 'big/b.txt': 'y'.repeat(700 * 1024) })
    const res = await dash.app.inject({ method: 'POST', url: `/dashboard/api/workspaces/${ws}/upload-folder`, payload, headers: { ...headers, cookie } })
    expect(res.statusCode).toBe(507)
    expect(res.json().error.code).toBe('ERR_QUOTA_EXCEEDED')
    expect((await orch.workspaceStatus(ws)).pins.length).toBe(pins)
    expect((await gateway.storageNode.workspace(ws).pins()).map(p => p.cid.toString())).toEqual([root])
  })

  it('a folder upload is staged like a file upload: removing its pin drops the gateway copy, and gc gives the quota back', async () => {
    const node = gateway.storageNode.workspace(ws)
    await node.gc()
    const before = (await gateway.storageNode.stats()).usedBytes
    const { payload, headers } = multipart({ 'release/a.txt': 'a'.repeat(200 * 1024), 'release/sub/b.txt': 'b'.repeat(100 * 1024) })
    const res = await dash.app.inject({ method: 'POST', url: `/dashboard/api/workspaces/${ws}/upload-folder?replication=1`, payload, headers: { ...headers, cookie } })
    expect(res.statusCode).toBe(201)
    const { cid } = res.json()
    expect(await node.isPinned(cid)).toBe(true)
    expect((await gateway.storageNode.stats()).usedBytes).toBeGreaterThanOrEqual(before + 300 * 1024)

    const removed = await dash.app.inject({ method: 'DELETE', url: `/dashboard/api/workspaces/${ws}/pins/${cid}`, headers: { cookie } })
    expect(removed.statusCode).toBe(204)
    // the gateway drops its pin on the orchestrator's pin:removed event
    await expect.poll(async () => await node.isPinned(cid), { timeout: 10_000 }).toBe(false)
    await node.gc()
    expect((await gateway.storageNode.stats()).usedBytes).toBe(before)
    // the earlier upload (whose members have not taken it yet) is still staged here
    expect(await node.isPinned(root)).toBe(true)
  })
})
