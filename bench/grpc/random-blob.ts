/**
 * The blob the streaming measurements move: random bytes in a temp file, with their sha256. Random so no
 * layer can shortcut it; a file so `ctr content ingest` and our writer read the same source the same way.
 */
import { createHash, randomFillSync } from 'node:crypto'
import { open } from 'node:fs/promises'
import { join } from 'node:path'
import type { Digest } from '../../src/client/content/digest.js'

export interface RandomBlob {
  path: string
  size: number
  digest: Digest
}

const CHUNK = 1024 * 1024

/** Writes `size` random bytes to `<dir>/blob.bin`. */
export async function createRandomBlob(dir: string, size: number): Promise<RandomBlob> {
  const path = join(dir, 'blob.bin')
  const hash = createHash('sha256')
  const chunk = Buffer.allocUnsafe(CHUNK)
  const file = await open(path, 'w')
  try {
    for (let written = 0; written < size; written += CHUNK) {
      const part = chunk.subarray(0, Math.min(CHUNK, size - written))
      randomFillSync(part)
      hash.update(part)
      await file.write(part)
    }
  } finally {
    await file.close()
  }
  return { path, size, digest: `sha256:${hash.digest('hex')}` }
}
