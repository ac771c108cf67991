/**
 * The dashboard's two views drawn from API answers: the workspace's storage
 * tab (totals, a usage bar per node, the pins table) and one node's tab. DOM
 * built with createElement only; what a button does is handed in.
 */
import { describeError, formatAgo, formatBytes, percent, shortCid } from './format.js'
import { $, apiBase, h } from './dom.js'
import type { NodeView, Status } from './api.js'

/** What the views' buttons call. */
export interface ViewActions {
  /** "Unpin": removes the workspace's pin. */
  unpin: (cid: string, button: HTMLButtonElement) => void
  /** "Unpin here": removes the copy on the node shown. */
  nodeUnpin: (cid: string, button: HTMLButtonElement) => void
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

function renderUsage (s: Status): void {
  $('total-used').textContent = formatBytes(s.storage.used)
  $('total-quota').textContent = formatBytes(s.storage.quota)
  $('total-free').textContent = formatBytes(s.storage.free)
  $('nodes-online').textContent = String(s.nodesOnline) + ' / ' + String(s.nodes.length)

  const bars = $('usage-bars')
  bars.replaceChildren()
  $('no-nodes').hidden = s.nodes.length > 0
  if (s.nodes.length === 0) return
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

function renderPins (s: Status, actions: ViewActions): void {
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
    unpin.addEventListener('click', () => { actions.unpin(p.cid, unpin) })
    const row = h('tr', { 'data-cid': p.cid, 'data-status': p.status },
      h('td', {}, p.name ?? '—'),
      h('td', { class: 'cid', title: p.cid }, shortCid(p.cid)),
      h('td', { class: 'num size' }, formatBytes(p.size)),
      h('td', { class: 'num copies health-' + p.status, title: p.status }, String(p.copies) + ' / ' + String(p.wanted)),
      states,
      h('td', { class: 'buttons' }, download, unpin))
    body.append(row)
  }
}

/** The storage tab: totals, usage bars, pins, and the upload form's state. */
export function renderStorage (s: Status, actions: ViewActions): void {
  renderUsage(s)
  renderPins(s, actions)
  $('upload-button').toggleAttribute('disabled', !s.gateway)
  if (!s.gateway) $('upload-status').textContent = 'Uploads need the workspace gateway (not enabled).'
}

/** One node's tab: its figures, usage bar and pins. */
export function renderNode (v: NodeView, actions: ViewActions): void {
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
    unpin.addEventListener('click', () => { actions.nodeUnpin(p.cid, unpin) })
    body.append(h('tr', { 'data-cid': p.cid },
      h('td', {}, p.name ?? '—'),
      h('td', { class: 'cid', title: p.cid }, shortCid(p.cid)),
      h('td', { class: 'num' }, formatBytes(p.size)),
      h('td', {}, stateBadge(p.state, p.state, p.error)),
      h('td', { class: 'buttons' }, unpin)))
  }
}
