import { writeFile } from 'node:fs/promises'
import { runTool } from './run-tool.js'

/**
 * Writes an htpasswd file with one bcrypt entry per user, the only hash distribution's htpasswd
 * backend accepts. Passwords go to `htpasswd -i` on stdin so they never appear in a process listing.
 */
export async function writeHtpasswd(file: string, users: Readonly<Record<string, string>>): Promise<void> {
  const lines: string[] = []
  for (const [user, password] of Object.entries(users)) {
    if (user.includes(':')) throw new Error(`htpasswd user names cannot contain ':' (${JSON.stringify(user)})`)
    const { stdout } = await runTool('htpasswd', ['-niB', user], { input: password, timeoutMs: 10_000 })
    lines.push(stdout.toString('utf8').trim())
  }
  await writeFile(file, `${lines.join('\n')}\n`, { mode: 0o600 })
}
