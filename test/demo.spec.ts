/**
 * The `npm start` demo, run as a process with `--exit`: orchestrator + two
 * node runners, upload on A, orchestrator pin on B, download from B, sha256.
 */
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const BIN = fileURLToPath(new URL('../bin/otherthing-storage.js', import.meta.url))

describe('demo', () => {
  it('otherthing-storage demo --exit prints every step and exits 0', async () => {
    const { code, stdout, stderr } = await new Promise<{ code: number | null, stdout: string, stderr: string }>((resolve, reject) => {
      const child = spawn(process.execPath, [BIN, 'demo', '--exit', '--size', '1MiB'], { stdio: ['ignore', 'pipe', 'pipe'] })
      let stdout = ''
      let stderr = ''
      child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d })
      child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d })
      child.once('error', reject)
      child.once('close', (code) => { resolve({ code, stdout, stderr }) })
    })
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
  })
})
