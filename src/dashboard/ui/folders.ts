/**
 * Browser module of the dashboard's folder features: upload a folder with
 * `<input webkitdirectory>` (each file sent with its relative path, with
 * upload progress), browse a pinned directory, download one file from it or
 * the whole folder as a tar. DOM built with createElement only.
 */
import { formatBytes } from './format.js'
import { $, apiBase, showErrorText as fail } from './dom.js'
import { sendWithProgress } from './upload.js'

function workspace (): string {
  return $<HTMLSelectElement>('workspace-select').value
}

function encodePath (path: string): string {
  return path.split('/').map(encodeURIComponent).join('/')
}

// ---- upload ---------------------------------------------------------------

async function uploadFolder (files: File[], replication: number): Promise<void> {
  const status = $('folder-status')
  const button = $<HTMLButtonElement>('folder-upload-button')
  const form = new FormData()
  for (const f of files) form.append('file', f, f.webkitRelativePath !== '' ? f.webkitRelativePath : f.name)
  const total = files.reduce((n, f) => n + f.size, 0)
  button.disabled = true
  status.textContent = 'Uploading ' + String(files.length) + ' files (' + formatBytes(total) + ')…'
  try {
    const path = '/workspaces/' + encodeURIComponent(workspace()) + '/upload-folder?replication=' + String(replication)
    const { status: code, body } = await sendWithProgress(path, form, $<HTMLProgressElement>('folder-progress'))
    if (code === 201 && body != null) {
      status.textContent = body.name + ' uploaded: ' + String(body.entries) + ' files and folders, ' + formatBytes(body.size) + '.'
      $<HTMLInputElement>('browse-cid').value = body.cid
      void browse(body.cid, '')
    } else {
      status.textContent = ''
      fail(body?.error?.message ?? 'The upload failed (HTTP ' + String(code) + ')')
    }
  } catch (err) {
    status.textContent = ''
    fail(err instanceof Error ? err.message : String(err))
  } finally {
    button.disabled = false
  }
}

// ---- browse ---------------------------------------------------------------

interface Entry { name: string, cid: string, size: number, type: string }

async function browse (cid: string, path: string): Promise<void> {
  const ws = encodeURIComponent(workspace())
  const where = encodeURIComponent(cid) + (path !== '' ? '/' + encodePath(path) : '')
  const res = await fetch(apiBase + '/workspaces/' + ws + '/browse/' + where, { credentials: 'same-origin' })
  const body = await res.json().catch(() => null)
  if (!res.ok || body == null) {
    fail(body?.error?.message ?? 'Could not open the folder (HTTP ' + String(res.status) + ')')
    return
  }
  $('browse-card').hidden = false
  $('browse-path').textContent = cid + (path !== '' ? '/' + path : '')
  $<HTMLAnchorElement>('browse-tar').href = apiBase + '/workspaces/' + ws + '/files/' + where + '?format=tar'
  const up = $<HTMLAnchorElement>('browse-up')
  up.hidden = path === ''
  up.onclick = (e) => {
    e.preventDefault()
    void browse(cid, path.split('/').slice(0, -1).join('/'))
  }
  const tbody = $('browse-body')
  tbody.replaceChildren()
  for (const entry of body.entries as Entry[]) {
    const inner = path !== '' ? path + '/' + entry.name : entry.name
    const tr = document.createElement('tr')
    const name = document.createElement('td')
    const size = document.createElement('td')
    const action = document.createElement('td')
    if (entry.type === 'directory') {
      const open = document.createElement('a')
      open.href = '#'
      open.textContent = entry.name + '/'
      open.addEventListener('click', e => { e.preventDefault(); void browse(cid, inner) })
      name.append(open)
      size.textContent = '—'
    } else {
      name.textContent = entry.name
      size.textContent = formatBytes(entry.size)
      const link = document.createElement('a')
      link.href = apiBase + '/workspaces/' + ws + '/files/' + encodeURIComponent(cid) + '/' + encodePath(inner)
      link.setAttribute('download', entry.name)
      link.textContent = 'Download'
      action.append(link)
    }
    tr.append(name, size, action)
    tbody.append(tr)
  }
}

function wire (): void {
  $('folder-upload-form').addEventListener('submit', e => {
    e.preventDefault()
    const input = $<HTMLInputElement>('folder-input')
    const files = Array.from(input.files ?? [])
    if (files.length === 0) return
    const n = Number($<HTMLInputElement>('folder-replication').value)
    void uploadFolder(files, Number.isInteger(n) && n > 0 ? n : 2).then(() => { input.value = '' })
  })
  $('browse-form').addEventListener('submit', e => {
    e.preventDefault()
    const cid = $<HTMLInputElement>('browse-cid').value.trim()
    if (cid !== '') void browse(cid, '')
  })
}

wire()
