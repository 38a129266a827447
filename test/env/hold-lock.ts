import { spawn } from 'node:child_process'

/**
 * Holds an exclusive flock on `path` from another process (util-linux's `flock`, as nerdctl would hold
 * it) until `release`; resolves once the lock is held.
 */
export async function holdLockElsewhere(path: string): Promise<{ release: () => Promise<void> }> {
  const child = spawn('flock', ['-x', path, 'sh', '-c', 'echo held; read _'], { stdio: ['pipe', 'pipe', 'inherit'] })
  await new Promise<void>((resolve, reject) => {
    child.stdout.once('data', () => resolve())
    child.once('error', reject)
  })
  const closed = new Promise((resolve) => child.once('close', resolve))
  return {
    release: async () => {
      child.stdin.end()
      await closed
    },
  }
}
