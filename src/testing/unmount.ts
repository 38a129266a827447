import { execFile } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { promisify } from 'node:util'

const run = promisify(execFile)

/**
 * Lazily unmounts every mount point below `dir`, deepest first. A stopped containerd can leave overlay
 * and shm mounts of killed containers behind, and `rm -rf` over a mount would fail or reach into it.
 */
export async function unmountUnder(dir: string): Promise<void> {
  const prefix = dir.endsWith('/') ? dir : `${dir}/`
  const mountinfo = await readFile('/proc/self/mountinfo', 'utf8')
  const points = mountinfo
    .split('\n')
    .map((line) => unescapeMountPath(line.split(' ')[4] ?? ''))
    .filter((p) => p.startsWith(prefix))
    .sort((a, b) => b.length - a.length)
  for (const point of points) {
    try {
      await run('umount', ['-l', point])
    } catch {
      // Already unmounted through a parent.
    }
  }
}

/** mountinfo escapes space, tab, newline and backslash as octal. */
function unescapeMountPath(path: string): string {
  return path.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)))
}
