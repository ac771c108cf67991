/**
 * The dashboard page's entry module (a browser ES module, no framework): the
 * session, the `#/<workspace>[/node/<id>]` routing, the live refresh from the
 * server-sent event stream, and the page's actions (log in and out, upload a
 * file, pin, unpin). The views are drawn by render.ts, requests go through
 * api.ts, uploads through upload.ts; folders.ts adds the folder features.
 */
import { formatBytes } from './format.js'
import { $, apiBase, clearError, h, showErrorText } from './dom.js'
import { api, ApiError, workspacePath } from './api.js'
import type { NodeView, Session, Status } from './api.js'
import { renderNode, renderStorage } from './render.js'
import type { ViewActions } from './render.js'
import { sendWithProgress } from './upload.js'

function showError (err: unknown): void {
  showErrorText(err instanceof Error ? err.message : String(err))
  if (err instanceof ApiError && err.status === 401) showLogin()
}

// ---- state --------------------------------------------------------------

let session: Session | undefined
let workspaceId: string | undefined
let nodeId: string | undefined
let status: Status | undefined
let events: EventSource | undefined
let refreshTimer: ReturnType<typeof setTimeout> | undefined
/** The last upload of this page, to say when its copies are in place. */
let lastUpload: { cid: string, name: string } | undefined

function parseHash (): void {
  const parts = location.hash.replace(/^#\/?/, '').split('/').map(decodeURIComponent)
  workspaceId = parts[0] !== '' ? parts[0] : undefined
  nodeId = parts[1] === 'node' && parts[2] != null && parts[2] !== '' ? parts[2] : undefined
}

function go (ws: string, node?: string): void {
  location.hash = '#/' + encodeURIComponent(ws) + (node != null ? '/node/' + encodeURIComponent(node) : '')
}

// ---- views --------------------------------------------------------------

function showOnly (view: 'login-view' | 'no-workspace-view' | 'workspace-view'): void {
  for (const id of ['login-view', 'no-workspace-view', 'workspace-view']) $(id).hidden = id !== view
  $('session-bar').hidden = view === 'login-view'
}

function showLogin (): void {
  session = undefined
  events?.close()
  events = undefined
  showOnly('login-view')
  $<HTMLInputElement>('login-token').focus()
}

/** Says when the page's last upload has its copies in place. */
function reportUpload (s: Status): void {
  const uploaded = lastUpload != null ? s.pins.find(p => p.cid === lastUpload?.cid) : undefined
  if (lastUpload != null && uploaded != null && uploaded.copies >= uploaded.replicationMin) {
    $('upload-status').textContent = lastUpload.name + ' is stored on ' + String(uploaded.copies) + ' node' + (uploaded.copies === 1 ? '' : 's') + '.'
    lastUpload = undefined
  }
}

async function refresh (): Promise<void> {
  if (workspaceId == null) return
  try {
    if (nodeId == null) {
      status = await api<Status>('GET', workspacePath(workspaceId))
      renderStorage(status, actions)
      reportUpload(status)
    } else {
      renderNode(await api<NodeView>('GET', workspacePath(workspaceId, 'nodes', nodeId)), actions)
    }
  } catch (err) {
    showError(err)
  }
}

function scheduleRefresh (): void {
  if (refreshTimer != null) return
  refreshTimer = setTimeout(() => {
    refreshTimer = undefined
    void refresh()
  }, 150)
}

function listen (ws: string): void {
  events?.close()
  const live = $('live')
  const source = new EventSource(apiBase + '/events?workspace=' + encodeURIComponent(ws))
  events = source
  source.onopen = () => { live.textContent = 'live'; live.classList.add('on') }
  source.onerror = () => { live.textContent = 'reconnecting'; live.classList.remove('on') }
  source.onmessage = () => { scheduleRefresh() }
}

async function route (): Promise<void> {
  if (session == null) return
  parseHash()
  if (session.workspaces.length === 0) {
    showOnly('no-workspace-view')
    return
  }
  if (workspaceId == null || !session.workspaces.some(w => w.id === workspaceId)) {
    go(session.workspaces[0].id)
    return
  }
  showOnly('workspace-view')
  $<HTMLSelectElement>('workspace-select').value = workspaceId
  $('storage-tab').hidden = nodeId != null
  $('node-tab').hidden = nodeId == null
  $('tab-node').hidden = nodeId == null
  $('tab-node-sep').hidden = nodeId == null
  $<HTMLAnchorElement>('tab-storage').href = '#/' + encodeURIComponent(workspaceId)
  if (events == null || !events.url.endsWith('workspace=' + encodeURIComponent(workspaceId))) listen(workspaceId)
  await refresh()
}

async function start (): Promise<void> {
  try {
    session = await api<Session>('GET', '/session')
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) {
      showLogin()
      return
    }
    showError(err)
    return
  }
  const select = $<HTMLSelectElement>('workspace-select')
  select.replaceChildren(...session.workspaces.map(w => h('option', { value: w.id }, w.name)))
  await route()
}

// ---- actions ------------------------------------------------------------

function replicationOf (id: string): number {
  const v = Number($<HTMLInputElement>(id).value)
  return Number.isInteger(v) && v > 0 ? v : 1
}

async function unpinCid (cid: string, button: HTMLButtonElement): Promise<void> {
  if (workspaceId == null) return
  button.disabled = true
  try {
    clearError()
    await api('DELETE', workspacePath(workspaceId, 'pins', cid))
    await refresh()
  } catch (err) {
    button.disabled = false
    showError(err)
  }
}

async function nodeUnpin (cid: string, button: HTMLButtonElement): Promise<void> {
  if (workspaceId == null || nodeId == null) return
  button.disabled = true
  try {
    clearError()
    await api('DELETE', workspacePath(workspaceId, 'nodes', nodeId, 'pins', cid))
    await refresh()
  } catch (err) {
    button.disabled = false
    showError(err)
  }
}

const actions: ViewActions = {
  unpin: (cid, button) => { void unpinCid(cid, button) },
  nodeUnpin: (cid, button) => { void nodeUnpin(cid, button) }
}

async function upload (file: File, replication: number): Promise<void> {
  const ws = workspaceId
  if (ws == null) return
  const statusText = $('upload-status')
  statusText.textContent = 'Uploading ' + file.name + ' (' + formatBytes(file.size) + ')…'
  try {
    const path = workspacePath(ws, 'upload') + '?name=' + encodeURIComponent(file.name) + '&replication=' + String(replication)
    const answer = await sendWithProgress(path, file, $<HTMLProgressElement>('upload-progress'), 'application/octet-stream')
    if (answer.status >= 200 && answer.status < 300) {
      statusText.textContent = 'Uploaded ' + file.name + ': placing ' + String(replication) + ' copies…'
      if (typeof answer.body?.cid === 'string') lastUpload = { cid: answer.body.cid, name: file.name }
      void refresh()
    } else {
      statusText.textContent = ''
      showError(new ApiError(answer.status, answer.body?.error))
    }
  } catch (err) {
    statusText.textContent = ''
    showError(err)
  }
}

function wire (): void {
  $('error-close').addEventListener('click', clearError)
  $('login-form').addEventListener('submit', e => {
    e.preventDefault()
    const input = $<HTMLInputElement>('login-token')
    void (async () => {
      try {
        clearError()
        await api('POST', '/login', { token: input.value })
        input.value = ''
        await start()
      } catch (err) {
        showError(err instanceof ApiError && err.status === 401 ? new Error('That token is not valid for this orchestrator.') : err)
      }
    })()
  })
  $('logout').addEventListener('click', () => {
    void api('POST', '/logout').catch((err: unknown) => { console.warn('logout request failed', err) }).then(() => { showLogin() })
  })
  $<HTMLSelectElement>('workspace-select').addEventListener('change', e => { go((e.target as HTMLSelectElement).value) })
  $('upload-form').addEventListener('submit', e => {
    e.preventDefault()
    const input = $<HTMLInputElement>('upload-file')
    const file = input.files?.[0]
    if (file == null) return
    clearError()
    void upload(file, replicationOf('upload-replication')).then(() => { input.value = '' })
  })
  $('pin-form').addEventListener('submit', e => {
    e.preventDefault()
    if (workspaceId == null) return
    const cid = $<HTMLInputElement>('pin-cid')
    const name = $<HTMLInputElement>('pin-name')
    const n = replicationOf('pin-replication')
    void (async () => {
      try {
        clearError()
        await api('POST', workspacePath(workspaceId ?? '', 'pins'), {
          cid: cid.value.trim(), name: name.value.trim() === '' ? undefined : name.value.trim(), replicationMin: n, replicationMax: n
        })
        cid.value = ''
        name.value = ''
        await refresh()
      } catch (err) { showError(err) }
    })()
  })
  $('node-pin-form').addEventListener('submit', e => {
    e.preventDefault()
    if (workspaceId == null || nodeId == null) return
    const cid = $<HTMLInputElement>('node-pin-cid')
    void (async () => {
      try {
        clearError()
        await api('POST', workspacePath(workspaceId ?? '', 'nodes', nodeId ?? '', 'pins'), { cid: cid.value.trim() })
        cid.value = ''
        await refresh()
      } catch (err) { showError(err) }
    })()
  })
  window.addEventListener('hashchange', () => { void route() })
}

wire()
void start()
