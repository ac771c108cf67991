/**
 * Formatting helpers shared by the dashboard page (served to the browser as
 * `ui/format.js`) and the server. No imports: this file must run as-is in a
 * browser.
 */

const BINARY_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB']

/**
 * A byte count for people, in binary units.
 *
 * @example
 * ```ts
 * formatBytes(0)          // '0 B'
 * formatBytes(1536)       // '1.5 KiB'
 * formatBytes(10 * 2**30) // '10 GiB'
 * ```
 */
export function formatBytes (bytes: number | null | undefined): string {
  if (bytes == null || !Number.isFinite(bytes)) return '—'
  if (bytes < 0) return '-' + formatBytes(-bytes)
  let value = bytes
  let unit = 0
  while (value >= 1024 && unit < BINARY_UNITS.length - 1) {
    value /= 1024
    unit++
  }
  const rounded = unit === 0 ? String(Math.round(value)) : (value >= 100 ? value.toFixed(0) : value >= 10 ? value.toFixed(1) : value.toFixed(2))
  return rounded.replace(/\.0+$|(\.\d*[1-9])0+$/, '$1') + ' ' + BINARY_UNITS[unit]
}

/** `used / quota` as a whole percentage between 0 and 100 (0 when the quota is 0 or unknown). */
export function percent (used: number, quota: number): number {
  if (!(quota > 0) || !(used > 0)) return 0
  return Math.min(100, Math.max(0, Math.round((used / quota) * 100)))
}

/** "just now", "5 s ago", "3 min ago", "2 h ago", "4 d ago"; '—' when unknown. */
export function formatAgo (at: number | null | undefined, now: number = Date.now()): string {
  if (at == null) return 'never'
  const s = Math.max(0, Math.round((now - at) / 1000))
  if (s < 5) return 'just now'
  if (s < 60) return String(s) + ' s ago'
  if (s < 3600) return String(Math.floor(s / 60)) + ' min ago'
  if (s < 86400) return String(Math.floor(s / 3600)) + ' h ago'
  return String(Math.floor(s / 86400)) + ' d ago'
}

/** Shortens a CID for display: `bafybe…x7q4`. */
export function shortCid (cid: string): string {
  return cid.length <= 16 ? cid : cid.slice(0, 8) + '…' + cid.slice(-6)
}

export interface ApiErrorBody {
  code?: string
  message?: string
  used?: number
  limit?: number
  requested?: number
  nodeId?: string
}

/** A sentence a person can act on, for an API error body. */
export function describeError (error: ApiErrorBody | undefined, status?: number): string {
  const code = error?.code ?? ''
  switch (code) {
    case 'ERR_QUOTA_EXCEEDED':
      if (error?.requested != null && error.limit != null && error.used != null) {
        return 'Not enough storage: this needs ' + formatBytes(error.requested) + ' but only ' +
          formatBytes(Math.max(0, error.limit - error.used)) + ' of ' + formatBytes(error.limit) + ' is free. Free some space or add a node.'
      }
      return 'Not enough storage for this file. Free some space or add a node.'
    case 'ERR_DISK_RESERVE':
      return 'The drive is almost full: the node keeps a reserve of free space. Free some disk space.'
    case 'ERR_NODE_OFFLINE':
      return 'That node is offline: it will act when it reconnects. ' + (error?.message ?? '')
    case 'ERR_UNAUTHORIZED':
      return 'Your session has expired or the token is wrong. Please log in again.'
    case 'ERR_FORBIDDEN':
      return 'You do not have access to this workspace.'
    case 'ERR_INVALID_CID':
      return 'That is not a valid CID (it should look like Qm… or bafy…).'
    case 'ERR_NOT_FOUND':
    case 'ERR_RECORD_NOT_FOUND':
      return error?.message ?? 'Not found.'
    case 'ERR_TIMEOUT':
      return 'The content could not be fetched in time: are the nodes holding it online?'
    case 'ERR_GATEWAY_DISABLED':
      return 'Uploads and downloads need the workspace gateway, which is not enabled on this orchestrator.'
    default:
      if (error?.message != null && error.message !== '') return error.message
      return status != null ? 'Request failed (HTTP ' + String(status) + ').' : 'Request failed.'
  }
}
