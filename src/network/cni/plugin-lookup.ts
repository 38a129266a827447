import { constants } from 'node:fs'
import { access, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { CniError, type CniCommand } from './cni-error.js'

/**
 * Finds a plugin's binary: the first of `dirs` holding an executable file named `type`, like libcni's
 * `FindInPath`.
 * @returns the binary's path.
 * @throws CniError (FailedPrecondition) naming the plugin, the directories searched and the package
 *   that provides the standard plugins.
 */
export async function findPlugin(type: string, dirs: readonly string[], context: { command: CniCommand; network?: string | undefined }): Promise<string> {
  for (const dir of dirs) {
    const path = join(dir, type)
    try {
      // A directory passes the X_OK check too: only an executable file is a plugin.
      if ((await stat(path)).isFile()) {
        await access(path, constants.X_OK)
        return path
      }
    } catch {
      // Missing or not executable here: try the next directory.
    }
  }
  throw new CniError(
    'FailedPrecondition',
    `CNI plugin ${JSON.stringify(type)} not found in ${dirs.join(', ')}${context.network === undefined ? '' : ` (network ${context.network}, ${context.command})`}: ` +
      `install Debian's containernetworking-plugins package (apt-get install containernetworking-plugins), or pass the plugin's directory in pluginDirs`,
    { plugin: type, command: context.command, network: context.network },
  )
}
