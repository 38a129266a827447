import type { ClientCore } from '../client/client.js'
import { labelPatch } from '../client/label-patch.js'
import type { CallOptions } from '../grpc/call-options.js'

/** The label the Go client's `WithImageStopSignal` sets from the image config's StopSignal. */
export const STOP_SIGNAL_LABEL = 'io.containerd.image.config.stop-signal'

/**
 * Changes only the given labels of a container record (a field-masked update; a `''` value removes the
 * key) and returns all its labels as stored.
 */
export async function patchContainerLabels(client: ClientCore, id: string, labels: Record<string, string>, options?: CallOptions): Promise<Record<string, string>> {
  const patch = labelPatch(labels)
  const { container } = await client.services.containers.update({ container: { id, labels: patch.labels }, updateMask: { paths: patch.paths } }, options)
  return { ...(container?.labels ?? {}) }
}
