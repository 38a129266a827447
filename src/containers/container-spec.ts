import type { ClientCore } from '../client/client.js'
import { InvalidArgumentError } from '../client/errors.js'
import type { CallOptions } from '../client/transport/call-options.js'
import type { ImageConfig, ImageManifest } from '../images/oci-types.js'
import { defaultLinuxSpec, DEFAULT_PATH_ENV } from '../oci/default-spec.js'
import { mergeEnv } from '../oci/environment.js'
import type { Spec } from '../oci/runtime-spec.js'
import { applySpecOptions, type SpecOption } from '../oci/spec-options.js'
import { resolveUser } from '../oci/user-database.js'
import { readImageFile } from './image-file.js'

/** What a container's process runs as, on top of the image config. */
export interface ContainerSpecOptions {
  /** Replaces the image's Cmd (kept after its Entrypoint). */
  args?: string[]
  /** Replaces the image's Entrypoint (`[]` clears it). */
  entrypoint?: string[]
  /** `KEY=value` entries added to (or replacing) the image's environment. */
  env?: string[]
  /** Working directory. Default: the image's, else `/`. */
  cwd?: string
  /** `user`, `uid`, `user:group` or `uid:gid`, resolved from the image's /etc/passwd and /etc/group. Default: the image's. */
  user?: string
  /** Host name inside the container. */
  hostname?: string
  /** Further spec changes, applied last in order. */
  specOptions?: SpecOption[]
}

/** The container the spec is for. */
interface SpecTarget {
  namespace: string
  id: string
  manifest: ImageManifest
  config: ImageConfig
}

/**
 * Builds a container's OCI spec like the Go client's `WithNewSpec(WithImageConfig(image), …)`: containerd's
 * default Linux spec, then the image config (env, entrypoint + cmd, working directory, user resolved
 * from the image's own /etc/passwd and /etc/group, read out of its layers), then the options.
 * @throws InvalidArgumentError for a user the image does not know, or an empty command.
 */
export async function buildContainerSpec(client: ClientCore, target: SpecTarget, options: ContainerSpecOptions & CallOptions): Promise<Spec> {
  const spec = defaultLinuxSpec({ namespace: target.namespace, id: target.id })
  const image = target.config.config ?? {}
  const process = spec.process ?? (spec.process = { cwd: '/', args: [], user: { uid: 0, gid: 0 } } as NonNullable<Spec['process']>)
  process.env = mergeEnv(image.Env !== undefined && image.Env.length > 0 ? image.Env : [DEFAULT_PATH_ENV], options.env ?? [])
  const entrypoint = options.entrypoint ?? image.Entrypoint ?? []
  const cmd = options.args ?? (options.entrypoint !== undefined ? [] : image.Cmd ?? [])
  process.args = [...entrypoint, ...cmd]
  if (process.args.length === 0) {
    throw new InvalidArgumentError(`container ${target.id}: no command to run (the image has no Entrypoint or Cmd; pass args)`)
  }
  process.cwd = options.cwd ?? (image.WorkingDir !== undefined && image.WorkingDir !== '' ? image.WorkingDir : '/')
  const user = options.user ?? image.User ?? ''
  if (user !== '' && user !== '0' && user !== 'root' && user !== '0:0') {
    // Only read the layers when a name (or a uid whose groups matter) has to be resolved.
    const [passwd, group] = await Promise.all([
      readImageFile(client, target.manifest, '/etc/passwd', options),
      readImageFile(client, target.manifest, '/etc/group', options),
    ])
    const resolved = resolveUser(user, {
      ...(passwd !== undefined ? { passwd: passwd.toString('utf8') } : {}),
      ...(group !== undefined ? { group: group.toString('utf8') } : {}),
    }, options.user !== undefined ? 'user' : 'image USER')
    process.user = { uid: resolved.uid, gid: resolved.gid, ...(resolved.additionalGids.length > 0 ? { additionalGids: resolved.additionalGids } : {}) }
  }
  if (options.hostname !== undefined) spec.hostname = options.hostname
  return applySpecOptions(spec, options.specOptions ?? [])
}
