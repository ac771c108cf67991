/**
 * The page's static assets. The browser code is TypeScript in `ui/*.ts`:
 * the package build (tsc) compiles it next to this file as `ui/*.js`, which
 * is served as-is; when running from source (tsx, vitest) there is no `.js`,
 * so the `.ts` is transpiled once with the `typescript` package (a dev
 * dependency) and cached. The HTML and CSS are string modules so that they
 * ship inside `dist/` without a copy step. Nothing is fetched from a CDN.
 */
import { readFile } from 'node:fs/promises'
import { createHash } from 'node:crypto'
import { pageHtml } from './ui/page.js'
import { STYLE_CSS } from './ui/style.js'

/** Browser modules served under `<prefix>/ui/<name>.js`. */
export const UI_MODULES = ['app', 'api', 'dom', 'format', 'folders', 'render', 'upload'] as const
export type UiModule = typeof UI_MODULES[number]

export interface Asset {
  body: string
  contentType: string
  etag: string
}

function asset (body: string, contentType: string): Asset {
  return { body, contentType, etag: '"' + createHash('sha256').update(body).digest('base64url').slice(0, 27) + '"' }
}

async function loadModule (name: UiModule): Promise<string> {
  try {
    const js = await readFile(new URL(`./ui/${name}.js`, import.meta.url), 'utf8')
    // drop the source-map comment of the tsc build: the .map is not served
    return js.replace(/\n\/\/# sourceMappingURL=.*\s*$/, '\n')
  } catch (err: any) {
    if (err?.code !== 'ENOENT') throw err
  }
  const source = await readFile(new URL(`./ui/${name}.ts`, import.meta.url), 'utf8')
  const ts = await import('typescript')
  const out = (ts.default ?? ts).transpileModule(source, {
    compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ES2022, sourceMap: false, removeComments: false },
    fileName: `${name}.ts`
  })
  return out.outputText
}

export interface Assets {
  page(): Asset
  style(): Asset
  module(name: string): Promise<Asset | undefined>
}

/** Builds the page for `prefix` and loads the browser modules lazily (once). */
export function createAssets (prefix: string): Assets {
  const page = asset(pageHtml(prefix), 'text/html; charset=utf-8')
  const style = asset(STYLE_CSS, 'text/css; charset=utf-8')
  const modules = new Map<string, Promise<Asset>>()
  return {
    page: () => page,
    style: () => style,
    async module (name) {
      if (!(UI_MODULES as readonly string[]).includes(name)) return undefined
      let loading = modules.get(name)
      if (loading == null) {
        loading = loadModule(name as UiModule).then(body => asset(body, 'text/javascript; charset=utf-8'))
        // a failed load is retried on the next request (the error reaches that request's caller)
        loading.catch(() => modules.delete(name))
        modules.set(name, loading)
      }
      return await loading
    }
  }
}

/** Headers of every page response: no framing, no sniffing, only same-origin scripts, styles and connections. */
export const PAGE_SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY'
}
