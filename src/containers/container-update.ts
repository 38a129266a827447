/**
 * Changing a container record (Containers.Update with a field mask): labels, spec, image, snapshot key.
 *
 * Only the fields given are sent and named in the mask, so a concurrent change to another field is not
 * overwritten. containerd refuses to change the runtime and the snapshotter, so they are not offered.
 * A new spec applies to the next task: a running task keeps the limits it started with (change those
 * with `task.update()`).
 */

import type { ClientCore } from '../client/client.js'
import { InvalidArgumentError, NotFoundError } from '../grpc/errors.js'
import { labelPatch } from '../client/label-patch.js'
import type { CallOptions } from '../grpc/call-options.js'
import type { Container as ContainerMessage } from '../gen/containerd/services/containers/v1/containers_pb.js'
import type { Spec } from '../oci/runtime-spec.js'
import { decodeSpec, encodeSpec } from '../oci/spec-json.js'
import { applySpecOptions, type SpecOption } from '../oci/spec-options.js'

/** Type URL of a container's spec `Any`, as the Go client writes it. */
const SPEC_TYPE_URL = 'types.containerd.io/opencontainers/runtime-spec/1/Spec'

/** Anything with an image name, such as an `Image` handle. */
export interface ImageName {
  /** The image's full name, e.g. `docker.io/library/busybox:latest`. */
  readonly name: string
}

/** Options of `container.update()`. At least one field must be given; fields not given stay as they are. */
export interface UpdateContainerOptions extends CallOptions {
  /** Labels to set, merged into the existing ones (a `''` value removes the key), unless `replaceLabels`. */
  labels?: Record<string, string>
  /** Replace all labels with `labels` instead of merging. Default false. */
  replaceLabels?: boolean
  /**
   * The spec: a whole new spec, or spec options (e.g. `[withMemory('1g'), withEnv(['A=1'])]`) applied in
   * order to the stored one. Takes effect for the next task.
   */
  spec?: Spec | readonly SpecOption[]
  /** The image name recorded for the container (a reference, or an image handle). The rootfs is not changed. */
  image?: string | ImageName
  /** The key of the container's rootfs snapshot (in its snapshotter). */
  snapshotKey?: string
}

/**
 * Updates the given fields of a container record and returns the record as stored afterwards.
 * @throws InvalidArgumentError for nothing to update, an empty image or snapshot key, or a spec option that
 *   rejects the stored spec (nothing is changed then).
 * @throws NotFoundError when the container does not exist.
 */
export async function updateContainer(client: ClientCore, id: string, options: UpdateContainerOptions): Promise<ContainerMessage> {
  const paths: string[] = []
  const container: { id: string; labels?: Record<string, string>; spec?: { typeUrl: string; value: Uint8Array }; image?: string; snapshotKey?: string } = { id }

  if (options.labels !== undefined) {
    if (options.replaceLabels === true) {
      container.labels = Object.fromEntries(Object.entries(options.labels).filter(([, v]) => v !== ''))
      paths.push('labels')
    } else {
      const patch = labelPatch(options.labels)
      container.labels = patch.labels
      paths.push(...patch.paths)
    }
  } else if (options.replaceLabels === true) {
    // Replacing with nothing clears every label: say so explicitly rather than guess.
    throw new InvalidArgumentError(`container ${id}: replaceLabels needs labels (pass {} to remove every label)`)
  }
  if (options.image !== undefined) {
    const image = typeof options.image === 'string' ? options.image : options.image.name
    if (image.trim() === '' || /\s/.test(image)) {
      throw new InvalidArgumentError(`container ${id}: image "${image}" is not an image name; pass a reference such as docker.io/library/busybox:latest`)
    }
    container.image = image
    paths.push('image')
  }
  if (options.snapshotKey !== undefined) {
    if (options.snapshotKey === '') throw new InvalidArgumentError(`container ${id}: snapshotKey must not be empty`)
    container.snapshotKey = options.snapshotKey
    paths.push('snapshotkey')
  }
  if (options.spec !== undefined) {
    const spec = Array.isArray(options.spec) ? await updatedSpec(client, id, options.spec, options) : (options.spec as Spec)
    container.spec = { typeUrl: SPEC_TYPE_URL, value: Buffer.from(encodeSpec(spec)) }
    paths.push('spec')
  }
  if (paths.length === 0) {
    throw new InvalidArgumentError(`container ${id}: update needs at least one of labels, spec, image or snapshotKey`)
  }
  const { container: updated } = await client.services.containers.update({ container, updateMask: { paths } }, options)
  if (updated === undefined) throw new NotFoundError(`container ${id}: not found`)
  return updated
}

/** Reads the stored spec and applies the options to it (the options check the spec and may throw). */
async function updatedSpec(client: ClientCore, id: string, specOptions: readonly SpecOption[], options: CallOptions): Promise<Spec> {
  const { container } = await client.services.containers.get({ id }, options)
  const stored = Buffer.from(container?.spec?.value ?? new Uint8Array()).toString('utf8')
  if (stored === '') throw new InvalidArgumentError(`container ${id} has no spec to apply options to; pass a whole spec instead`)
  return applySpecOptions(decodeSpec(stored), specOptions)
}
