import type { ClientCore } from '../client/client.js'
import type { CallOptions } from '../grpc/call-options.js'
import type { ImageConfig } from '../image-spec/image-config.js'
import type { ImageManifest } from '../image-spec/manifest.js'
import { defaultLinuxSpec } from '../oci/default-spec.js'
import { withImageConfig } from '../oci/image-config-option.js'
import type { Spec } from '../oci/runtime-spec.js'
import { readSpecFlagInputs } from '../oci/spec-flag-inputs.js'
import { specFlagOptions, type SpecFlags } from '../oci/spec-flags.js'
import { applySpecOptions, type SpecOption } from '../oci/spec-options.js'
import type { UserDatabase } from '../oci/user-database.js'
import { readUserDatabase } from './image-file.js'

/**
 * What a container's process runs as, on top of the image config: the command, the user, and the Docker
 * `run` flags (`SpecFlags`: env, resources, capabilities, security options, mounts, devices, init, …).
 */
export interface ContainerSpecOptions extends SpecFlags {
  /** Replaces the image's Cmd (kept after its Entrypoint). */
  args?: string[]
  /** Replaces the image's Entrypoint (`[]` clears it); the image's Cmd is then dropped, as in Docker. */
  entrypoint?: string[]
  /** `user`, `uid`, `user:group` or `uid:gid`, resolved from the image's /etc/passwd and /etc/group. Default: the image's. */
  user?: string
  /** Further spec changes, applied last in order (after every flag). */
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
 * from the image's own /etc/passwd and /etc/group, read out of its layers), then the flags with nerdctl's
 * defaults (see `specFlagOptions`), then `specOptions`. Host files the flags name (env files, seccomp
 * profiles, devices, the init binary) are read here; nothing is created.
 * @throws InvalidArgumentError for a malformed flag value, a host file that cannot be read, a user or group
 *   the image does not know, or an empty command; FailedPreconditionError when the host lacks what a flag
 *   needs (an init binary, block I/O weight support).
 */
export async function buildContainerSpec(client: ClientCore, target: SpecTarget, options: ContainerSpecOptions & CallOptions): Promise<Spec> {
  const inputs = await readSpecFlagInputs(options, target.id)
  const image = target.config.config ?? {}
  const user = options.user ?? image.User ?? ''
  // The image's /etc/passwd and /etc/group are read out of its layers only when a name must be resolved.
  const namedGroups = (options.groupAdd ?? []).some((g) => typeof g === 'string' && !/^\d+$/.test(g))
  const db: UserDatabase = user !== '' || namedGroups ? await readUserDatabase(client, target.manifest, options) : {}
  const spec = defaultLinuxSpec({ namespace: target.namespace, id: target.id })
  const steps: SpecOption[] = [
    withImageConfig(target.config, {
      ...db,
      ...(options.args !== undefined ? { args: options.args } : {}),
      ...(options.entrypoint !== undefined ? { entrypoint: options.entrypoint } : {}),
      ...(options.user !== undefined ? { user: options.user } : {}),
    }),
    ...specFlagOptions(options, { ...inputs, userDatabase: db }),
  ]
  return applySpecOptions(spec, [...steps, ...(options.specOptions ?? [])])
}
