import { createHash, randomBytes } from 'node:crypto'
import type { ClientCore } from '../client/client.js'
import { AlreadyExistsError, DataLossError, NotFoundError } from '../grpc/errors.js'
import type { OciDescriptor } from '../image-spec/descriptor.js'
import type { ImageManifest } from '../image-spec/manifest.js'
import type { PullProgressListener } from './progress.js'

/** Labels containerd's unpacker puts on snapshots and blobs; `ctr` and nerdctl read them. */
export const SNAPSHOT_REF_LABEL = 'containerd.io/snapshot.ref'
/** Content label naming a compressed layer's uncompressed digest (its diffID). */
export const UNCOMPRESSED_LABEL = 'containerd.io/uncompressed'
/** Prefix of the config label that keeps an image's top snapshot alive: `…snapshot.<snapshotter>`. */
export const GC_REF_SNAPSHOT_PREFIX = 'containerd.io/gc.ref.snapshot.'

/**
 * The chain IDs of a layer stack (OCI image spec): the first is the first diffID, each next one is
 * sha256 of "<parent chainID> <diffID>". They name the committed snapshots, so images sharing a base
 * share its snapshots.
 */
export function chainIds(diffIds: readonly string[]): string[] {
  const out: string[] = []
  for (const diffId of diffIds) {
    const parent = out[out.length - 1]
    out.push(parent === undefined ? diffId : `sha256:${createHash('sha256').update(`${parent} ${diffId}`).digest('hex')}`)
  }
  return out
}

// Prepares of one layer that may meet a committed-then-removed target before giving up.
const PREPARE_ATTEMPTS = 3

/** Options of {@link unpackLayer}. */
export interface UnpackLayerOptions {
  snapshotter: string
  signal?: AbortSignal | undefined
  onProgress?: PullProgressListener | undefined
  ref: string
}

/**
 * Applies one layer on top of its parent snapshot and commits it under its chain ID, the way
 * containerd's unpacker does: prepare an active snapshot with a unique key, apply the layer through the
 * diff service (which decompresses and checks the diffID), commit. A chain ID that is already committed
 * is skipped. Must run inside the pull's lease, so the new snapshot is protected until the image
 * record (through its config's gc label) holds it.
 * @throws DataLossError when the applied layer's digest is not the diffID the config promises.
 */
export async function unpackLayer(
  client: ClientCore,
  layer: OciDescriptor,
  diffId: string,
  chainId: string,
  parentChainId: string,
  options: UnpackLayerOptions,
): Promise<void> {
  const snapshots = client.snapshots(options.snapshotter)
  const event = { ref: options.ref, digest: layer.digest, mediaType: layer.mediaType, total: layer.size }
  if (await committed(client, options.snapshotter, chainId)) {
    options.onProgress?.({ ...event, status: 'unpacked' })
    return
  }
  options.onProgress?.({ ...event, status: 'unpacking' })
  const labels = { [SNAPSHOT_REF_LABEL]: chainId }
  let key = ''
  let mounts
  for (let attempt = 1; ; attempt++) {
    key = `extract-${process.hrtime.bigint()}-${randomBytes(4).toString('hex')} ${chainId}`
    try {
      mounts = await snapshots.prepare(key, parentChainId, { labels, signal: options.signal })
      break
    } catch (err) {
      // containerd refuses to prepare a snapshot whose `snapshot.ref` target was committed meanwhile (a
      // concurrent pull of an image sharing this layer), adding that snapshot to our lease: it is ours
      // to use. If it vanished again between the two calls, try once more, as containerd's unpacker does.
      if (!(err instanceof AlreadyExistsError) || attempt >= PREPARE_ATTEMPTS) throw err
      if (await committed(client, options.snapshotter, chainId)) {
        options.onProgress?.({ ...event, status: 'unpacked' })
        return
      }
    }
  }
  try {
    const { applied } = await client.services.diff.apply(
      {
        diff: { mediaType: layer.mediaType, digest: layer.digest, size: BigInt(layer.size), annotations: layer.annotations ?? {} },
        mounts,
      },
      { signal: options.signal },
    )
    if (applied?.digest !== diffId) {
      throw new DataLossError(`layer ${layer.digest} unpacked to ${applied?.digest ?? 'nothing'}, but the image config says ${diffId}`)
    }
    try {
      await snapshots.commit(chainId, key, { labels, signal: options.signal })
    } catch (err) {
      // Another pull committed the same chain meanwhile: theirs is as good as ours.
      if (!(err instanceof AlreadyExistsError)) throw err
      await snapshots.remove(key).catch(() => undefined)
    }
  } catch (err) {
    await snapshots.remove(key).catch(() => undefined)
    throw err
  }
  await client.content.setLabels(layer.digest, { [UNCOMPRESSED_LABEL]: diffId })
  options.onProgress?.({ ...event, status: 'unpacked' })
}

async function committed(client: ClientCore, snapshotter: string, chainId: string): Promise<boolean> {
  try {
    const info = await client.snapshots(snapshotter).stat(chainId)
    return info.kind === 'committed'
  } catch (err) {
    if (err instanceof NotFoundError) return false
    throw err
  }
}

/** Options of {@link unpackManifest}. */
export interface UnpackManifestOptions extends UnpackLayerOptions {
  /** Awaited before layer `i` is applied: a pull waits there for the layer's download. */
  beforeLayer?: (i: number) => Promise<unknown>
}

/**
 * Unpacks every layer of a manifest in order, then labels its config with
 * `containerd.io/gc.ref.snapshot.<snapshotter>` = the top chain ID, so the image keeps its snapshots
 * from garbage collection. `diffIds` must have one entry per layer (callers check, with their own error).
 * Returns the top chain ID.
 */
export async function unpackManifest(client: ClientCore, manifest: ImageManifest, diffIds: readonly string[], options: UnpackManifestOptions): Promise<string | undefined> {
  const chain = chainIds(diffIds)
  for (const [i, layer] of manifest.layers.entries()) {
    await options.beforeLayer?.(i)
    await unpackLayer(client, layer, diffIds[i] as string, chain[i] as string, i === 0 ? '' : (chain[i - 1] as string), options)
  }
  const top = chain[chain.length - 1]
  if (top !== undefined) {
    await client.content.setLabels(manifest.config.digest, { [`${GC_REF_SNAPSHOT_PREFIX}${options.snapshotter}`]: top }, { signal: options.signal })
  }
  return top
}
