/**
 * The lock nerdctl takes around its CNI conf dir writes: an exclusive `flock(2)` on the *file*
 * `<confDir>/.nerdctl.lock` (created 0600; nerdctl `pkg/netutil/store.go` and
 * `pkg/internal/filesystem/lock.go`), not on the directory as its other stores do (src/nerdctl/dir-lock.ts).
 * Taken as those are (src/nerdctl/flock.ts).
 */

import { constants } from 'node:fs'
import { mkdir, open } from 'node:fs/promises'
import { dirname, resolve } from 'node:path'
import type { CallOptions } from '../grpc/call-options.js'
import { flockHandle, queuedPerPath } from '../nerdctl/flock.js'

/** The permission nerdctl creates its lock files with (`privateFilePermission`). */
const LOCK_FILE_MODE = 0o600

/**
 * Runs `fn` while holding an exclusive `flock` on the file `path` (created 0600 if missing, its directory
 * 0755), the lock nerdctl takes on the same file. Released when `fn` settles, whatever its outcome.
 * `timeoutMs` bounds the wait for the lock (default 30 s), not `fn`.
 * @throws DeadlineExceededError when the lock is not obtained in time; CanceledError on abort;
 *   FailedPreconditionError when no `flock` program is installed (util-linux provides it).
 */
export async function withFileLock<T>(path: string, fn: () => Promise<T>, options: CallOptions = {}): Promise<T> {
  const key = resolve(path)
  return queuedPerPath(key, async () => {
    await mkdir(dirname(key), { recursive: true, mode: 0o755 })
    const handle = await open(key, constants.O_RDONLY | constants.O_CREAT, LOCK_FILE_MODE)
    try {
      await flockHandle(handle, key, options)
      return await fn()
    } finally {
      // Closing our (last) descriptor of the open file description releases the lock.
      await handle.close()
    }
  })
}
