/**
 * The files a build reads on this machine, found and read before anything connects, so a missing
 * context, Dockerfile or secret file is a typed error that changed nothing.
 */

import { readFile, stat } from 'node:fs/promises'
import { basename, dirname, resolve } from 'node:path'
import { InvalidArgumentError, NotFoundError, PermissionDeniedError } from '../grpc/errors.js'
import type { BuildSecret } from './build-options.js'

/** The build's local directories and secrets. */
export interface BuildInputs {
  /** The context directory, absolute. */
  contextDir: string
  /** The directory holding the Dockerfile (the frontend's `dockerfile` local), absolute. */
  dockerfileDir: string
  /** The Dockerfile's name in that directory. */
  dockerfileName: string
  /** Secret values by id. */
  secrets: Map<string, Uint8Array>
  /** SSH agent sockets by id, when forwarding was asked for. */
  ssh: Map<string, { socket: string }> | undefined
}

/**
 * Resolves the context and the Dockerfile (relative to the context, as `docker build -f` is when given
 * inside it) and reads the secrets.
 * @throws NotFoundError for a missing context, Dockerfile, secret file or variable; InvalidArgumentError
 * when the context is not a directory or the Dockerfile not a file; PermissionDeniedError when unreadable.
 */
export async function readBuildInputs(context: string, dockerfile: string | undefined, secrets: readonly BuildSecret[] = [], ssh?: true | Readonly<Record<string, string>>): Promise<BuildInputs> {
  const contextDir = resolve(context)
  const contextStat = await stat(contextDir).catch((err: unknown) => { throw fileError(err, `the build context ${contextDir}`) })
  if (!contextStat.isDirectory()) throw new InvalidArgumentError(`the build context ${contextDir} is not a directory`)
  const dockerfilePath = resolve(contextDir, dockerfile ?? 'Dockerfile')
  const dockerfileStat = await stat(dockerfilePath).catch((err: unknown) => { throw fileError(err, `the Dockerfile ${dockerfilePath}`) })
  if (!dockerfileStat.isFile()) throw new InvalidArgumentError(`the Dockerfile ${dockerfilePath} is not a file`)
  const values = new Map<string, Uint8Array>()
  for (const secret of secrets) values.set(secret.id, await secretValue(secret))
  return { contextDir, dockerfileDir: dirname(dockerfilePath), dockerfileName: basename(dockerfilePath), secrets: values, ssh: sshAgents(ssh) }
}

/** `true` is `$SSH_AUTH_SOCK` as the `default` agent (buildx's `--ssh default`). */
function sshAgents(ssh: true | Readonly<Record<string, string>> | undefined): Map<string, { socket: string }> | undefined {
  if (ssh === undefined) return undefined
  if (ssh !== true) return new Map(Object.entries(ssh).map(([id, socket]) => [id, { socket }]))
  const socket = process.env['SSH_AUTH_SOCK']
  if (socket === undefined || socket === '') throw new NotFoundError('ssh: true forwards $SSH_AUTH_SOCK, which is not set (start ssh-agent, or give { default: <socket> })')
  return new Map([['default', { socket }]])
}

async function secretValue(secret: BuildSecret): Promise<Uint8Array> {
  if ('value' in secret) return typeof secret.value === 'string' ? Buffer.from(secret.value, 'utf8') : secret.value
  if ('env' in secret) {
    const value = process.env[secret.env]
    if (value === undefined) throw new NotFoundError(`secret ${JSON.stringify(secret.id)}: the environment variable ${secret.env} is not set`)
    return Buffer.from(value, 'utf8')
  }
  // The path may name the secret's purpose but never its value: safe in a message.
  return readFile(secret.src).catch((err: unknown) => { throw fileError(err, `secret ${JSON.stringify(secret.id)}'s file ${secret.src}`) })
}

function fileError(err: unknown, what: string): Error {
  const code = (err as NodeJS.ErrnoException | undefined)?.code
  if (code === 'ENOENT' || code === 'ENOTDIR') return new NotFoundError(`${what} does not exist`, { cause: err })
  if (code === 'EACCES' || code === 'EPERM') return new PermissionDeniedError(`${what} cannot be read (permission denied)`, { cause: err })
  if (code === 'EISDIR') return new InvalidArgumentError(`${what} is a directory`, { cause: err })
  return new InvalidArgumentError(`${what} cannot be read: ${err instanceof Error ? err.message : String(err)}`, { cause: err })
}
