/**
 * Browser helpers shared by the dashboard's page modules (app.ts, folders.ts,
 * render.ts, upload.ts): the JSON API's base URL under the page's prefix,
 * element lookup by id, element building, and the page's error banner.
 */

/** The page's mount point (`data-prefix` on `<body>`, set by page.ts). */
export const prefix = document.body.dataset.prefix ?? '/dashboard'
/** Base URL of the dashboard's JSON API. */
export const apiBase = prefix + '/api'

/** The element with this id. @throws when the page has none (a bug in page.ts) */
export function $<T extends HTMLElement = HTMLElement> (id: string): T {
  const el = document.getElementById(id)
  if (el == null) throw new Error('missing #' + id)
  return el as T
}

/** A new element with attributes (`class` sets the class name) and children. */
export function h<K extends keyof HTMLElementTagNameMap> (tag: K, attrs: Record<string, string> = {}, ...children: Array<Node | string | null>): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag)
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') el.className = v
    else el.setAttribute(k, v)
  }
  for (const c of children) if (c != null) el.append(c)
  return el
}

/** Shows `message` in the page's error banner. */
export function showErrorText (message: string): void {
  $('error-text').textContent = message
  $('error').hidden = false
}

export function clearError (): void {
  $('error').hidden = true
  $('error-text').textContent = ''
}
