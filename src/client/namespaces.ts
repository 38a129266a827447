import type { CallOptions } from '../grpc/call-options.js'
import { NotFoundError } from '../grpc/errors.js'
import { validateIdentifier } from './identifiers.js'
import { labelPatch } from './label-patch.js'
import type { NamespaceGuard } from './namespace-guard.js'
import type { Services } from './services.js'

/** A containerd namespace. */
export interface NamespaceInfo {
  /** The namespace's name. */
  name: string
  /** Its labels, e.g. `containerd.io/defaults/snapshotter`. */
  labels: Record<string, string>
}

/** Options for {@link NamespaceStore.setLabels}. */
export interface SetLabelsOptions extends CallOptions {
  /**
   * `true` replaces the whole label set with the one given; `false` (default) merges: the keys given are
   * set, a key with the value `''` is removed, and other labels stay.
   */
  replace?: boolean
}

/**
 * Namespaces isolate images, containers, content and snapshots from each other. Calls on this store
 * are not bound to the client's namespace: they name the namespace they act on.
 */
export class NamespaceStore {
  /** @internal */
  constructor(
    private readonly services: Services,
    private readonly guard: NamespaceGuard,
  ) {}

  /**
   * Creates a namespace.
   * @throws AlreadyExistsError if it exists; InvalidArgumentError for an invalid name.
   */
  async create(name: string, options: CallOptions & { labels?: Record<string, string> } = {}): Promise<NamespaceInfo> {
    validateIdentifier('namespace', name)
    const { namespace } = await this.services.namespaces.create({ namespace: { name, labels: options.labels ?? {} } }, options)
    return toInfo(namespace, name)
  }

  /**
   * Reads one namespace.
   * @throws NotFoundError if it does not exist.
   */
  async get(name: string, options?: CallOptions): Promise<NamespaceInfo> {
    validateIdentifier('namespace', name)
    // containerd's Get answers with empty labels for a namespace that does not exist, so existence is
    // checked against the list (which carries the labels too).
    const found = (await this.list(options)).find((ns) => ns.name === name)
    if (found === undefined) throw new NotFoundError(`namespace ${name}: not found`)
    return found
  }

  /** Lists all namespaces. */
  async list(options?: CallOptions): Promise<NamespaceInfo[]> {
    const { namespaces } = await this.services.namespaces.list({}, options)
    return namespaces.map((ns) => toInfo(ns, ns.name))
  }

  /**
   * Sets labels on a namespace, merging by default (see {@link SetLabelsOptions.replace}).
   * @throws NotFoundError if it does not exist.
   */
  async setLabels(name: string, labels: Record<string, string>, options: SetLabelsOptions = {}): Promise<NamespaceInfo> {
    validateIdentifier('namespace', name)
    // containerd's namespace service replaces all labels when the mask is empty and accepts only
    // `labels.<key>` paths otherwise.
    const patch = labelPatch(labels)
    const paths = options.replace === true ? [] : patch.paths
    const { namespace } = await this.services.namespaces.update(
      { namespace: { name, labels: patch.labels }, updateMask: { paths } },
      options,
    )
    return toInfo(namespace, name)
  }

  /**
   * Deletes a namespace. containerd refuses while it still holds images, containers, content,
   * snapshots or leases.
   * @throws NotFoundError if it does not exist; FailedPreconditionError if it is not empty.
   */
  async delete(name: string, options?: CallOptions): Promise<void> {
    validateIdentifier('namespace', name)
    await this.services.namespaces.delete({ name }, options)
    this.guard.forget(name)
  }
}

function toInfo(ns: { name: string; labels: { [key: string]: string } } | undefined, fallbackName: string): NamespaceInfo {
  return { name: ns?.name ?? fallbackName, labels: { ...(ns?.labels ?? {}) } }
}
