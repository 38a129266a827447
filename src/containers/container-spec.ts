import type { ClientCore } from '../client/client.js'
import type { CallOptions } from '../client/transport/call-options.js'
import type { ImageConfig, ImageManifest } from '../images/oci-types.js'
import { withHostname } from '../oci/container-options.js'
import { defaultLinuxSpec } from '../oci/default-spec.js'
import { withImageConfig } from '../oci/image-config-option.js'
import { withEnv, withProcessCwd } from '../oci/process-options.js'
import type { Spec } from '../oci/runtime-spec.js'
import { applySpecOptions, type SpecOption } from '../oci/spec-options.js'
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
  const image = target.config.config ?? {}
  const user = options.user ?? image.User ?? ''
  // The image's /etc/passwd and /etc/group are read out of its layers only when a user must be resolved.
  const db: { passwd?: string; group?: string } = {}
  if (user !== '') {
    const [passwd, group] = await Promise.all([
      readImageFile(client, target.manifest, '/etc/passwd', options),
      readImageFile(client, target.manifest, '/etc/group', options),
    ])
    if (passwd !== undefined) db.passwd = passwd.toString('utf8')
    if (group !== undefined) db.group = group.toString('utf8')
  }
  const spec = defaultLinuxSpec({ namespace: target.namespace, id: target.id })
  const steps: SpecOption[] = [
    withImageConfig(target.config as unknown as Parameters<typeof withImageConfig>[0], {
      ...db,
      ...(options.args !== undefined ? { args: options.args } : {}),
      ...(options.entrypoint !== undefined ? { entrypoint: options.entrypoint } : {}),
      ...(options.user !== undefined ? { user: options.user } : {}),
    }),
  ]
  if (options.env !== undefined) steps.push(withEnv(options.env))
  if (options.cwd !== undefined) steps.push(withProcessCwd(options.cwd))
  if (options.hostname !== undefined) steps.push(withHostname(options.hostname))
  return applySpecOptions(spec, [...steps, ...(options.specOptions ?? [])])
}
