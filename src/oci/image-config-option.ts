/**
 * Applying an image's runtime defaults (ENTRYPOINT, CMD, ENV, WORKDIR, USER) to a spec, as containerd's
 * `WithImageConfig`/`WithImageConfigArgs` do, with the Docker overrides `--entrypoint`, args and `--user`.
 */

import { InvalidArgumentError } from '../grpc/errors.js'
import { DEFAULT_PATH_ENV } from './default-spec.js'
import { mergeEnv } from './environment.js'
import type { ImageConfig, ImageRuntimeConfig } from '../image-spec/image-config.js'
import { ensureProcess } from './spec-sections.js'
import type { SpecOption } from './spec-options.js'
import { resolveUser, supplementaryGids, withPrimary, type UserDatabase } from './user-database.js'

/** Overrides and the account files for {@link withImageConfig}. */
export interface ImageConfigOptions extends UserDatabase {
  /** Replaces the image's CMD (the arguments after the entrypoint), like `docker run IMAGE args…`. */
  args?: readonly string[]
  /**
   * Replaces the image's ENTRYPOINT (`--entrypoint`). As in Docker, the image's CMD is then dropped: the
   * command is this entrypoint followed by `args`. An empty list clears the entrypoint.
   */
  entrypoint?: readonly string[]
  /** Replaces the image's USER (`--user`). */
  user?: string
}

/**
 * Applies an image config: the whole config blob ({@link ImageConfig}) or just its `config` member ({@link ImageRuntimeConfig}).
 *
 * - env: the image's Env (or the default PATH when it has none), then the env already in the spec on top,
 *   replacing by key; a default PATH is added when the result has none (nerdctl does so too).
 * - args: Entrypoint + (`args` or Cmd); with `entrypoint`, that entrypoint + `args`.
 * - cwd: WorkingDir, or `/`.
 * - user: USER (or `user`) resolved against the passed `/etc/passwd` and `/etc/group` text, with the
 *   user's supplementary groups; without USER the process stays root with root's supplementary groups.
 *
 * @throws InvalidArgumentError when there is no command at all, or the user or group is unknown.
 */
export function withImageConfig(image: ImageConfig | ImageRuntimeConfig, options: ImageConfigOptions = {}): SpecOption {
  const config = isImage(image) ? (image.config ?? {}) : image
  const args = commandOf(config, options)
  const db: UserDatabase = {}
  if (options.passwd !== undefined) db.passwd = options.passwd
  if (options.group !== undefined) db.group = options.group
  const userString = options.user ?? config.User ?? ''
  const resolved = userString === '' ? undefined : resolveUser(userString, db, options.user === undefined ? 'image USER' : '--user')

  return (spec) => {
    const process = ensureProcess(spec)
    const imageEnv = config.Env !== undefined && config.Env !== null && config.Env.length > 0 ? config.Env : [DEFAULT_PATH_ENV]
    const env = mergeEnv(imageEnv, process.env ?? [])
    if (!env.some((e) => e.startsWith('PATH='))) env.push(DEFAULT_PATH_ENV)
    process.env = env
    process.args = [...args]
    process.cwd = config.WorkingDir !== undefined && config.WorkingDir !== '' ? config.WorkingDir : '/'
    if (resolved !== undefined) {
      process.user = { ...process.user, uid: resolved.uid, gid: resolved.gid, additionalGids: [...resolved.additionalGids] }
    } else {
      // containerd looks root's groups up by name even when the spec's uid is not 0.
      process.user = { ...process.user, additionalGids: withPrimary(process.user.gid, supplementaryGids('root', db)) }
    }
  }
}

function commandOf(config: ImageRuntimeConfig, options: ImageConfigOptions): string[] {
  let args: string[]
  if (options.entrypoint !== undefined) {
    args = [...options.entrypoint, ...(options.args ?? [])]
  } else {
    const cmd = options.args !== undefined && options.args.length > 0 ? options.args : (config.Cmd ?? [])
    args = [...(config.Entrypoint ?? []), ...cmd]
  }
  if (args.length === 0 || args[0] === '') {
    throw new InvalidArgumentError('no command: the image defines no ENTRYPOINT or CMD; pass args (or an entrypoint) to withImageConfig')
  }
  return args
}

// The blob has lower-case top-level members; a bare config only has capitalised ones.
function isImage(value: ImageConfig | ImageRuntimeConfig): value is ImageConfig {
  return 'config' in value || 'rootfs' in value || 'architecture' in value || 'os' in value
}
