import type { CallOptions } from '../grpc/call-options.js'
import type { ImageView } from './image-view.js'
import { parseReference, familiarName } from '../image-spec/reference.js'

/** `docker image inspect` JSON for one image, as Docker and nerdctl print it (the fields we can fill). */
export interface DockerImageInspect {
  /** The config digest, Docker's image id. */
  Id: string
  /** Familiar names with tags, e.g. `busybox:latest`. */
  RepoTags: string[]
  /** `name@digest` of the manifest or index. */
  RepoDigests: string[]
  /** Empty: containerd does not record a parent. */
  Parent: string
  /** Empty. */
  Comment: string
  /** When the image was built (from its config). */
  Created: string
  /** From the config, if any. */
  Author: string
  /** Runtime defaults (Env, Cmd, Entrypoint, User, WorkingDir, Labels, ExposedPorts, Volumes, StopSignal). */
  Config: Record<string, unknown>
  /** CPU architecture. */
  Architecture: string
  /** Architecture variant, when set. */
  Variant?: string
  /** Operating system. */
  Os: string
  /** Unpacked size in bytes (the content size when not unpacked). */
  Size: number
  /** The layers' diff IDs. */
  RootFS: {
    /** Always `layers`. */
    Type: string
    /** The diff IDs, base first. */
    Layers: string[]
  }
  /** Record metadata. */
  Metadata: {
    /** When the record was last changed (RFC 3339). */
    LastTagTime: string
  }
}

/** Builds Docker's inspect JSON for an image (the host platform's, or the one asked for). */
export async function inspectImage(image: ImageView, options: CallOptions & { platform?: string } = {}): Promise<DockerImageInspect> {
  const { manifest } = await image.manifest(options)
  const config = await image.config(options)
  const size = await image.size(options)
  const ref = parseReference(image.name)
  // Docker lists tags without digests: `busybox:latest`.
  const repoTags = ref.tag !== undefined ? [`${familiarName(ref)}:${ref.tag}`] : []
  const result: DockerImageInspect = {
    Id: manifest.config.digest,
    RepoTags: repoTags,
    RepoDigests: [`${familiarName(ref)}@${image.digest}`],
    Parent: '',
    Comment: '',
    Created: config.created ?? '',
    Author: config.author ?? '',
    Config: { ...(config.config ?? {}) },
    Architecture: config.architecture,
    Os: config.os,
    Size: size.unpacked > 0 ? size.unpacked : size.content,
    RootFS: { Type: config.rootfs.type, Layers: [...config.rootfs.diff_ids] },
    Metadata: { LastTagTime: image.updatedAt?.toISOString() ?? '' },
  }
  if (config.variant !== undefined) result.Variant = config.variant
  return result
}
