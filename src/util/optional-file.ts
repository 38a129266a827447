/** File checks the stores share: a file that may be missing is not an error. */

import { access, readFile } from 'node:fs/promises'

/** The file's text, or undefined when it does not exist; other errors (permission, a directory) throw. */
export async function readOptional(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
}

/** Whether something is at `path` (any error reaching it counts as no). */
export async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  )
}
