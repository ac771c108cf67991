/**
 * The dashboard page's code (a browser ES module, no framework). It talks to
 * the dashboard JSON API under `<prefix>/api` with the session cookie, and
 * refreshes the open view whenever the server-sent event stream reports a
 * change of the workspace.
 */
import { describeError, formatAgo, formatBytes, percent, shortCid } from './format.js'
import type { ApiErrorBody } from './format.js'
import { $, apiBase } from './dom.js'

interface Storage { used: number, quota: number, free: number, reportedAt?: number, driveFree?: number | null }
interface Allocation { nodeId: string, state: string, error: { code: string, message: string } | null }
interface Pin {
  cid: string, name: string | null, size: number | null, replicationMin: number, replicationMax: number,
  copies: number, wanted: number, status: string, allocations: Allocation[]
}
interface Member { id: string, name: string, online: boolean, lastSeen: number | null, peerId: string | null, storage: Storage | null, pins: number }
interface Status {
  workspace: { id: string, name: string }
  nodes: Member[]
  nodesOnline: number
  storage: { used: number, quota: number, free: number }
  pins: Pin[]
  gateway: boolean
}
interface NodeView { node: Member, pins: Array<Pin & { state: string, error: { code: string, message: string } | null }> }
interface Session { role: string, workspaces: Array<{ id: string, name: string }> }


class ApiError extends Error {
  constructor (readonly status: number, readonly body: ApiErrorBody | undefined) {
    super(describeError(body, status))
  }
}

async function api<T> (method: string, path: string, body?: unknown): Promise<T> {
  const init: RequestInit = { method, credentials: 'same-origin', headers: {} }
  if (body !== undefined) {
    init.body = JSON.stringify(body)
    ;(init.headers as Record<string, string>)['content-type'] = 'application/json'
  }
  const res = await fetch(apiBase + path, init)
  const text = await res.text()
  const data = text === '' ? undefined : JSON.parse(text)
  if (!res.ok) throw new ApiError(res.status, data?.error)
  return data as T
}

function h<K extends keyof HTMLElementTagNameMap> (tag: K, attrs: Record<string, string> = {}, ...children: Array<Node | string | null>): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag)
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') el.className = v
    else el.setAttribute(k, v)
  }
  for (const c of children) if (c != null) el.append(c)
  return el
}

function showError (err: unknown): void {
  const msg = err instanceof Error ? err.message : String(err)
  $('error-text').textContent = msg
  $('error').hidden = false
  if (err instanceof ApiError && err.status === 401) showLogin()
}

function clearError (): void {
  $('error').hidden = true
  $('error-text').textContent = ''
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

function usageRow (label: Node | string, used: number, quota: number, extra: string, cls = ''): HTMLElement {
  const pct = percent(used, quota)
  // set through the CSSOM: the page's CSP refuses inline style attributes
  const fill = h('span')
  fill.style.width = String(pct) + '%'
  const bar = h('div', { class: 'bar' + (pct >= 95 ? ' full' : pct >= 80 ? ' high' : ''), role: 'progressbar', 'aria-valuemin': '0', 'aria-valuemax': '100', 'aria-valuenow': String(pct) }, fill)
  return h('div', { class: 'row ' + cls },
    h('div', {}, label),
    bar,
    h('div', { class: 'figures' }, formatBytes(used) + ' of ' + formatBytes(quota) + ' (' + String(pct) + '%)' + extra))
}

function stateBadge (state: string, label: string, error?: { code: string, message: string } | null): HTMLElement {
  const title = error != null ? describeError(error) : state
  return h('span', { class: 'state ' + state, title, 'data-state': state }, label)
}

function renderStorage (s: Status): void {
  $('total-used').textContent = formatBytes(s.storage.used)
  $('total-quota').textContent = formatBytes(s.storage.quota)
  $('total-free').textContent = formatBytes(s.storage.free)
  $('nodes-online').textContent = String(s.nodesOnline) + ' / ' + String(s.nodes.length)

  const bars = $('usage-bars')
  bars.replaceChildren()
  $('no-nodes').hidden = s.nodes.length > 0
  if (s.nodes.length > 0) {
    bars.append(usageRow('All nodes', s.storage.used, s.storage.quota, '', 'total'))
    for (const n of s.nodes) {
      const link = h('a', { href: '#/' + encodeURIComponent(s.workspace.id) + '/node/' + encodeURIComponent(n.id), class: 'node-link', 'data-node': n.id },
        h('span', { class: 'dot' + (n.online ? ' on' : ''), title: n.online ? 'online' : 'offline' }), n.name)
      const row = n.storage != null
        ? usageRow(link, n.storage.used, n.storage.quota, n.online ? '' : ' · offline')
        : usageRow(link, 0, 0, ' · no report yet')
      row.dataset.node = n.id
      bars.append(row)
    }
  }

  const names = new Map(s.nodes.map(n => [n.id, n.name]))
  const body = $('pins-body')
  body.replaceChildren()
  $('pins-table').hidden = s.pins.length === 0
  $('pins-empty').hidden = s.pins.length > 0
  for (const p of s.pins) {
    const states = h('td', { class: 'states' })
    const allocations = [...p.allocations].sort((a, b) => (names.get(a.nodeId) ?? a.nodeId).localeCompare(names.get(b.nodeId) ?? b.nodeId))
    for (const a of allocations) states.append(stateBadge(a.state, (names.get(a.nodeId) ?? a.nodeId) + ': ' + a.state, a.error))
    const download = h('a', { href: apiBase + '/workspaces/' + encodeURIComponent(s.workspace.id) + '/content/' + encodeURIComponent(p.cid) + '?download=1', class: 'download', download: p.name ?? p.cid },
      h('button', { type: 'button', class: 'secondary' }, 'Download'))
    if (!s.gateway) download.hidden = true
    const unpin = h('button', { type: 'button', class: 'danger unpin' }, 'Unpin')
    unpin.addEventListener('click', () => { void unpinCid(p.cid, unpin) })
    const row = h('tr', { 'data-cid': p.cid, 'data-status': p.status },
      h('td', {}, p.name ?? '—'),
      h('td', { class: 'cid', title: p.cid }, shortCid(p.cid)),
      h('td', { class: 'num size' }, formatBytes(p.size)),
      h('td', { class: 'num copies health-' + p.status, title: p.status }, String(p.copies) + ' / ' + String(p.wanted)),
      states,
      h('td', { class: 'buttons' }, download, unpin))
    body.append(row)
  }
  const uploaded = lastUpload != null ? s.pins.find(p => p.cid === lastUpload?.cid) : undefined
  if (lastUpload != null && uploaded != null && uploaded.copies >= uploaded.replicationMin) {
    $('upload-status').textContent = lastUpload.name + ' is stored on ' + String(uploaded.copies) + ' node' + (uploaded.copies === 1 ? '' : 's') + '.'
    lastUpload = undefined
  }
  $('upload-button').toggleAttribute('disabled', !s.gateway)
  if (!s.gateway) $('upload-status').textContent = 'Uploads need the workspace gateway (not enabled).'
}

function renderNode (v: NodeView): void {
  const n = v.node
  $('node-title').textContent = 'Node ' + n.name
  $('tab-node').textContent = n.name
  $('node-status').replaceChildren(h('span', { class: 'dot' + (n.online ? ' on' : '') }), n.online ? 'online' : 'offline · last seen ' + formatAgo(n.lastSeen))
  $('node-quota').textContent = formatBytes(n.storage?.quota)
  $('node-used').textContent = formatBytes(n.storage?.used)
  $('node-free').textContent = formatBytes(n.storage?.free)
  $('node-drive-free').textContent = n.storage?.driveFree != null ? formatBytes(n.storage.driveFree) : 'not reported'
  $('node-pins').textContent = String(n.pins)
  $('node-peer').textContent = n.peerId ?? '—'
  $('node-bar').replaceChildren(usageRow('Usage', n.storage?.used ?? 0, n.storage?.quota ?? 0, ''))
  const body = $('node-pins-body')
  body.replaceChildren()
  $('node-pins-table').hidden = v.pins.length === 0
  $('node-pins-empty').hidden = v.pins.length > 0
  for (const p of v.pins) {
    const unpin = h('button', { type: 'button', class: 'danger unpin' }, 'Unpin here')
    unpin.addEventListener('click', () => { void nodeUnpin(p.cid, unpin) })
    body.append(h('tr', { 'data-cid': p.cid },
      h('td', {}, p.name ?? '—'),
      h('td', { class: 'cid', title: p.cid }, shortCid(p.cid)),
      h('td', { class: 'num' }, formatBytes(p.size)),
      h('td', {}, stateBadge(p.state, p.state, p.error)),
      h('td', { class: 'buttons' }, unpin)))
  }
}

async function refresh (): Promise<void> {
  if (workspaceId == null) return
  try {
    if (nodeId == null) {
      status = await api<Status>('GET', '/workspaces/' + encodeURIComponent(workspaceId))
      renderStorage(status)
    } else {
      renderNode(await api<NodeView>('GET', '/workspaces/' + encodeURIComponent(workspaceId) + '/nodes/' + encodeURIComponent(nodeId)))
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
    await api('DELETE', '/workspaces/' + encodeURIComponent(workspaceId) + '/pins/' + encodeURIComponent(cid))
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
    await api('DELETE', '/workspaces/' + encodeURIComponent(workspaceId) + '/nodes/' + encodeURIComponent(nodeId) + '/pins/' + encodeURIComponent(cid))
    await refresh()
  } catch (err) {
    button.disabled = false
    showError(err)
  }
}

function upload (file: File, replication: number): Promise<void> {
  const ws = workspaceId
  if (ws == null) return Promise.resolve()
  const progress = $<HTMLProgressElement>('upload-progress')
  const statusText = $('upload-status')
  progress.hidden = false
  progress.value = 0
  statusText.textContent = 'Uploading ' + file.name + ' (' + formatBytes(file.size) + ')…'
  return new Promise(resolve => {
    const xhr = new XMLHttpRequest()
    const url = apiBase + '/workspaces/' + encodeURIComponent(ws) + '/upload?name=' + encodeURIComponent(file.name) + '&replication=' + String(replication)
    xhr.open('POST', url)
    xhr.setRequestHeader('content-type', 'application/octet-stream')
    xhr.upload.onprogress = e => { if (e.lengthComputable) progress.value = Math.round((e.loaded / e.total) * 100) }
    xhr.onload = () => {
      progress.hidden = true
      let data: any
      try { data = JSON.parse(xhr.responseText) } catch { data = undefined }
      if (xhr.status >= 200 && xhr.status < 300) {
        statusText.textContent = 'Uploaded ' + file.name + ': placing ' + String(replication) + ' copies…'
        if (typeof data?.cid === 'string') lastUpload = { cid: data.cid, name: file.name }
        void refresh()
      } else {
        statusText.textContent = ''
        showError(new ApiError(xhr.status, data?.error))
      }
      resolve()
    }
    xhr.onerror = () => {
      progress.hidden = true
      statusText.textContent = ''
      showError(new Error('The upload failed: the connection to the orchestrator was lost.'))
      resolve()
    }
    xhr.send(file)
  })
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
        await api('POST', '/workspaces/' + encodeURIComponent(workspaceId ?? '') + '/pins', {
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
        await api('POST', '/workspaces/' + encodeURIComponent(workspaceId ?? '') + '/nodes/' + encodeURIComponent(nodeId ?? '') + '/pins', { cid: cid.value.trim() })
        cid.value = ''
        await refresh()
      } catch (err) { showError(err) }
    })()
  })
  window.addEventListener('hashchange', () => { void route() })
}

wire()
void start()
