/**
 * Browser helpers shared by the dashboard's page modules (app.ts, folders.ts):
 * the JSON API's base URL under the page's prefix, and element lookup by id.
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
