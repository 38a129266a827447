/**
 * Which containers use which volumes, read from the containers' labels the way nerdctl's `volume rm` and
 * `volume prune` read them (`usedVolumes` in `pkg/cmd/volume/rm.go`): every `volume`-typed entry of
 * `nerdctl/mounts` (or `nerdctl/mounts.<N>`) names a volume in use. The names in
 * `nerdctl/anonymous-volumes` count too (nerdctl writes both; a container made by another tool may
 * carry only the latter).
 */

import type { ClientCore } from '../client/client.js'
import type { CallOptions } from '../grpc/call-options.js'
import { NerdctlLabel, readMountLabels } from '../nerdctl/labels.js'

/** The volume names one container's labels say it uses. */
export function volumesOfContainer(labels: Readonly<Record<string, string>>): string[] {
  const names = new Set<string>()
  for (const m of readMountLabels(labels)) {
    if (m.Type === 'volume' && typeof m.Name === 'string' && m.Name !== '') names.add(m.Name)
  }
  const anonymous = labels[NerdctlLabel.anonymousVolumes]
  if (anonymous !== undefined && anonymous !== '') {
    try {
      const list: unknown = JSON.parse(anonymous)
      if (Array.isArray(list)) for (const name of list) if (typeof name === 'string' && name !== '') names.add(name)
    } catch {
      // An unreadable label names nothing, as nerdctl's rm warns and goes on.
    }
  }
  return [...names]
}

/**
 * Volume name → ids of the containers (in the client's namespace) whose labels say they use it. Pass
 * `() => volumesInUse(client)` as the `inUse` of `NerdctlVolumeStore.remove` and `prune`.
 */
export async function volumesInUse(client: ClientCore, options: CallOptions = {}): Promise<Map<string, string[]>> {
  const { containers } = await client.services.containers.list({}, options)
  const used = new Map<string, string[]>()
  for (const container of containers) {
    for (const name of volumesOfContainer(container.labels)) {
      const ids = used.get(name)
      if (ids === undefined) used.set(name, [container.id])
      else ids.push(container.id)
    }
  }
  return used
}
