/**
 * Which methods a path has routes for, so that a request with another method
 * is answered 405 Method Not Allowed (with `Allow`) instead of 404. Fastify's
 * router answers "not found" for both; this table is filled from the
 * `onRoute` hook with the same patterns (`/storage/:cid`, `/api/v0/*`).
 */

export interface RouteTable {
  add(method: string | string[], url: string): void
  /** The methods with a route matching `path` (sorted), empty when none. */
  methodsOf(path: string): string[]
}

function patternOf (url: string): RegExp {
  const source = url.split('/').map(segment => {
    if (segment === '*') return '.*'
    if (segment.startsWith(':')) return '[^/]+'
    return segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
  }).join('/')
  return new RegExp(`^${source}/?$`)
}

export function createRouteTable (): RouteTable {
  const routes: Array<{ pattern: RegExp, methods: string[] }> = []
  return {
    add (method, url) {
      const methods = (Array.isArray(method) ? method : [method]).map(m => m.toUpperCase())
      routes.push({ pattern: patternOf(url), methods })
    },
    methodsOf (path) {
      const found = new Set<string>()
      for (const r of routes) {
        // the CORS preflight route matches every path: it does not make a method allowed
        if (r.methods.length === 1 && r.methods[0] === 'OPTIONS') continue
        if (r.pattern.test(path)) for (const m of r.methods) found.add(m)
      }
      return [...found].sort()
    }
  }
}
