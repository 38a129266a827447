import type { ClientCore } from '../client/client.js'
import { InvalidArgumentError, NotFoundError } from '../grpc/errors.js'
import type { CallOptions } from '../grpc/call-options.js'
import { NerdctlLabel } from './labels.js'

const NAME_OR_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/

/**
 * Finds a container the way `docker`/`nerdctl` commands take one: by full id, by name (the
 * `nerdctl/name` label, so nerdctl's containers are found too), or by a unique id prefix.
 * @throws NotFoundError when nothing matches; InvalidArgumentError for a malformed reference or an
 *   ambiguous prefix.
 */
export async function resolveContainerId(client: ClientCore, reference: string, options?: CallOptions): Promise<string> {
  if (typeof reference !== 'string' || !NAME_OR_ID.test(reference)) {
    throw new InvalidArgumentError(`${JSON.stringify(reference)} is not a container name or id`)
  }
  try {
    await client.services.containers.get({ id: reference }, options)
    return reference
  } catch (err) {
    if (!(err instanceof NotFoundError) && !(err instanceof InvalidArgumentError)) throw err
  }
  const named = await client.services.containers.list({ filters: [`labels."${NerdctlLabel.name}"==${reference}`] }, options)
  if (named.containers.length === 1) return named.containers[0]?.id ?? reference
  if (named.containers.length > 1) {
    throw new InvalidArgumentError(`${named.containers.length} containers are named ${reference}: use an id (${named.containers.map((c) => c.id.slice(0, 12)).join(', ')})`)
  }
  if (/^[0-9a-f]+$/.test(reference)) {
    const all = await client.services.containers.list({}, options)
    const matches = all.containers.filter((c) => c.id.startsWith(reference))
    if (matches.length === 1) return matches[0]?.id ?? reference
    if (matches.length > 1) throw new InvalidArgumentError(`id prefix ${reference} matches ${matches.length} containers: give more of the id`)
  }
  throw new NotFoundError(`no container named or with id ${JSON.stringify(reference)} in namespace ${client.namespace}`)
}

/** A container record as {@link containersNamed} gives it. */
export interface NamedContainer {
  /** The container's id. */
  id: string
  /** Its labels (`nerdctl/state-dir` among them for nerdctl's and ours). */
  labels: Record<string, string>
}

/**
 * The containers of the client's namespace that carry `name` in their `nerdctl/name` label: what
 * containerd says owns the name, whatever the name store says.
 */
export async function containersNamed(client: ClientCore, name: string, options?: CallOptions): Promise<NamedContainer[]> {
  const { containers } = await client.services.containers.list({ filters: [`labels."${NerdctlLabel.name}"==${name}`] }, options)
  return containers.map((c) => ({ id: c.id, labels: { ...c.labels } }))
}
