import { readdir, readlink } from 'node:fs/promises'

/** Paths under `dir` this process holds open (Linux /proc), to prove file handles are closed. */
export async function openFilesUnder(dir: string): Promise<string[]> {
  const fds = await readdir('/proc/self/fd')
  const targets = await Promise.all(fds.map((fd) => readlink(`/proc/self/fd/${fd}`).catch(() => '')))
  return targets.filter((t) => t.startsWith(dir))
}
