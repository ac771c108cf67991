/**
 * Temp dirs and random test files, written in chunks (never held in memory).
 */
import { randomFill } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import { promisify } from 'node:util'

const randomFillAsync = promisify(randomFill) as <T extends NodeJS.ArrayBufferView>(buf: T) => Promise<T>

/** Make a fresh temp dir `<parent>/otherthing-bench-XXXX`. */
export async function makeTempDir (parent: string, label = 'bench'): Promise<string> {
  await fs.mkdir(parent, { recursive: true })
  return await fs.mkdtemp(path.join(parent, `otherthing-${label}-`))
}

export async function removeDir (dir: string): Promise<void> {
  await fs.rm(dir, { recursive: true, force: true, maxRetries: 3 })
}

/** Random bytes as a stream of `chunkSize` chunks (each a fresh buffer). */
export async function * randomChunks (size: number, chunkSize = 1024 * 1024): AsyncGenerator<Uint8Array> {
  let left = size
  while (left > 0) {
    const n = Math.min(chunkSize, left)
    yield await randomFillAsync(Buffer.allocUnsafe(n))
    left -= n
  }
}

/** Write `size` random bytes to `file`, 4 MiB at a time. */
export async function writeRandomFile (file: string, size: number): Promise<string> {
  const handle = await fs.open(file, 'w')
  try {
    const buf = Buffer.allocUnsafe(Math.min(size, 4 * 1024 * 1024))
    let left = size
    while (left > 0) {
      const n = Math.min(buf.length, left)
      await randomFillAsync(buf)
      await handle.write(buf, 0, n)
      left -= n
    }
    // flush now so background writeback does not slow down what is measured next
    await handle.sync()
  } finally {
    await handle.close()
  }
  return file
}

/** Write `count` random files of `size` bytes into `dir` (created), in 100 subfolders. Returns their paths. */
export async function writeSmallFiles (dir: string, count: number, size: number, folders = 100): Promise<string[]> {
  const files: string[] = []
  const buf = Buffer.allocUnsafe(size * 64)
  for (let i = 0; i < count; i++) {
    if (i % 64 === 0) await randomFillAsync(buf)
    const sub = path.join(dir, String(i % folders).padStart(2, '0'))
    if (i < folders) await fs.mkdir(sub, { recursive: true })
    const file = path.join(sub, `f${i}.bin`)
    const off = (i % 64) * size
    await fs.writeFile(file, buf.subarray(off, off + size))
    files.push(file)
  }
  return files
}

/** Writes the script's random input file (`--size` bytes) into its temp dir and returns its path. */
export async function writeInputFile (ctx: { options: { size: number }, dir: string, log: (msg: string) => void }, script: string): Promise<string> {
  const file = path.join(ctx.dir, 'input.bin')
  ctx.log(`${script}: writing ${ctx.options.size} random bytes`)
  return writeRandomFile(file, ctx.options.size)
}
