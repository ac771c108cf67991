/**
 * The `npm start` demo, run as a process with `--exit`: orchestrator + two
 * node runners, upload on A, orchestrator pin on B, download from B, sha256.
 */
import { PassThrough } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { runDemo } from '../src/runner/demo.js'
import { awaitedLater } from '../src/util/promise.js'
import { runBin } from './helpers/bin.js'

describe('demo', () => {
  it('otherthing-storage demo --exit prints every step and exits 0', async () => {
    // LOG_LEVEL as the user's shell has it (the demo prints its steps itself)
    const { code, stdout, stderr } = await runBin(['demo', '--exit', '--size', '1MiB'], { env: { LOG_LEVEL: process.env.LOG_LEVEL } })
    expect(code, stderr).toBe(0)
    for (let i = 1; i <= 7; i++) expect(stdout).toContain(`[${i}/7]`)
    expect(stdout).toMatch(/node A: API http:\/\/127\.0\.0\.1:\d+/)
    expect(stdout).toMatch(/node B: API http:\/\/127\.0\.0\.1:\d+/)
    expect(stdout).toMatch(/curl -H 'Authorization: Bearer [^']+' .*\/storage\/upload\?workspace=demo/)
    expect(stdout).toMatch(/node B pinned Qm\w+/)
    expect(stdout).toMatch(/OK: [0-9a-f]{64}/)
    expect(stdout).toContain('demo finished')
    // the workspace key is shown as a fingerprint only
    expect(stdout).toMatch(/swarm key fingerprint [0-9a-f]{16}/)
    // the dashboard is served by the orchestrator, with the login explained
    expect(stdout).toMatch(/dashboard http:\/\/127\.0\.0\.1:\d+\/dashboard\//)
    expect(stdout).toMatch(/log in to the dashboard with the admin token \S+/)
  })

  it('serves the dashboard while it runs: the printed URL loads and the printed token logs in', async () => {
    const out = new PassThrough()
    let text = ''
    out.setEncoding('utf8').on('data', (d: string) => { text += d })
    const abort = new AbortController()
    const running = runDemo({ stdout: out, signal: abort.signal, sampleSize: 64 * 1024 })
    awaitedLater(running) // awaited below, after the page is checked
    let url = ''
    try {
      await expect.poll(() => text.includes('demo running'), { timeout: 60_000, interval: 100 }).toBe(true)
      url = /dashboard (http:\/\/127\.0\.0\.1:\d+\/dashboard\/)/.exec(text)?.[1] ?? ''
      const token = /log in to the dashboard with the admin token (\S+)/.exec(text)?.[1] ?? ''
      const page = await fetch(url)
      expect(page.status).toBe(200)
      expect(page.headers.get('content-type')).toMatch(/^text\/html/)
      const login = await fetch(`${url}api/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token }) })
      expect(login.status).toBe(200)
      const cookie = String(login.headers.get('set-cookie')).split(';')[0]
      const status = await (await fetch(`${url}api/workspaces/demo`, { headers: { cookie } })).json()
      expect(status).toMatchObject({ gateway: true, nodesOnline: 2 })
      expect(status.pins).toHaveLength(1)
    } finally {
      abort.abort()
    }
    const result = await running
    expect(result.dashboardUrl).toBe(url)
    expect(text).toContain('stopping...')
  }, 90_000)
})
