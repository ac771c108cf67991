/**
 * `<storage root>/node-api.json`: where a running node runner's HTTP API is
 * (`{ url, pid }`, never a token), so local CLI commands find it even on a
 * random port. Written when the API listens, removed on stop.
 */
import { readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'

/** File name in the storage root. */
export const API_FILE_NAME = 'node-api.json'

export async function writeApiFile (root: string, url: string): Promise<string> {
  const path = join(root, API_FILE_NAME)
  await writeFile(path, JSON.stringify({ url, pid: process.pid }) + '\n', { mode: 0o600 })
  return path
}

export async function removeApiFile (root: string): Promise<void> {
  await rm(join(root, API_FILE_NAME), { force: true })
}

/** The API URL of the node running from `root`, when its process is alive. */
export async function readRunningApiUrl (root: string): Promise<string | undefined> {
  try {
    const { url, pid } = JSON.parse(await readFile(join(root, API_FILE_NAME), 'utf8'))
    if (typeof url !== 'string' || typeof pid !== 'number') return undefined
    process.kill(pid, 0) // throws when there is no such process
    return url
  } catch {
    return undefined
  }
}
