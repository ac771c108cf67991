/**
 * `<storage root>/node-api.json`: where a running node runner's HTTP API is
 * (`{ url, pid }`, never a token), so local CLI commands find it even on a
 * random port. Written when the API listens, removed on stop.
 */
import { readFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
import writeFileAtomic from 'write-file-atomic'
import { silentLogger } from './logger.js'
import type { Logger } from './logger.js'

/** File name in the storage root. */
export const API_FILE_NAME = 'node-api.json'

export async function writeApiFile (root: string, url: string): Promise<string> {
  const path = join(root, API_FILE_NAME)
  await writeFileAtomic(path, JSON.stringify({ url, pid: process.pid }) + '\n', { mode: 0o600 })
  return path
}

export async function removeApiFile (root: string): Promise<void> {
  await rm(join(root, API_FILE_NAME), { force: true })
}

/**
 * The API URL of the node running from `root`, when its process is alive.
 * A missing file or a dead process is the normal "no node running" answer;
 * anything else (unreadable or corrupt file) is logged too.
 */
export async function readRunningApiUrl (root: string, logger: Pick<Logger, 'debug' | 'warn'> = silentLogger()): Promise<string | undefined> {
  const path = join(root, API_FILE_NAME)
  try {
    const { url, pid } = JSON.parse(await readFile(path, 'utf8'))
    if (typeof url !== 'string' || typeof pid !== 'number') {
      logger.warn({ path }, 'ignoring a malformed API file')
      return undefined
    }
    process.kill(pid, 0) // throws ESRCH when there is no such process
    return url
  } catch (err: any) {
    const expected = err?.code === 'ENOENT' || err?.code === 'ESRCH'
    logger[expected ? 'debug' : 'warn']({ path, err: String(err?.message ?? err) }, 'no running node API found')
    return undefined
  }
}
