import { Containers } from '../gen/containerd/services/containers/v1/containers_pb.js'
import { Content } from '../gen/containerd/services/content/v1/content_pb.js'
import { Diff } from '../gen/containerd/services/diff/v1/diff_pb.js'
import { Events } from '../gen/containerd/services/events/v1/events_pb.js'
import { Images } from '../gen/containerd/services/images/v1/images_pb.js'
import { Introspection } from '../gen/containerd/services/introspection/v1/introspection_pb.js'
import { Leases } from '../gen/containerd/services/leases/v1/leases_pb.js'
import { Namespaces } from '../gen/containerd/services/namespaces/v1/namespace_pb.js'
import { Controller, Store } from '../gen/containerd/services/sandbox/v1/sandbox_pb.js'
import { Snapshots } from '../gen/containerd/services/snapshots/v1/snapshots_pb.js'
import { Streaming } from '../gen/containerd/services/streaming/v1/streaming_pb.js'
import { Tasks } from '../gen/containerd/services/tasks/v1/tasks_pb.js'
import { Transfer } from '../gen/containerd/services/transfer/v1/transfer_pb.js'
import { Version } from '../gen/containerd/services/version/v1/version_pb.js'
import type { Transport } from '../grpc/transport.js'
import { createServiceClient, type MetadataProvider, type ServiceClient } from '../grpc/service-client.js'

const descriptors = {
  containers: Containers,
  content: Content,
  diff: Diff,
  events: Events,
  images: Images,
  introspection: Introspection,
  leases: Leases,
  namespaces: Namespaces,
  sandboxStore: Store,
  sandboxController: Controller,
  snapshots: Snapshots,
  streaming: Streaming,
  tasks: Tasks,
  transfer: Transfer,
  version: Version,
} as const

type Descriptors = typeof descriptors

/**
 * Typed raw clients for every containerd service, with the client's namespace (and the active lease)
 * attached to each call. This is the lower layer: requests and responses are the generated protobuf
 * messages of `proto/`, which follow containerd's API and may change with it. Prefer the handles and
 * stores of the Client where they cover what you need.
 */
export type Services = { readonly [K in keyof Descriptors]: ServiceClient<Descriptors[K]> }

/** Creates the raw service clients lazily: a view that never touches a service never builds its client. */
export function createServices(channel: Transport, metadata: MetadataProvider): Services {
  const cache = new Map<string, unknown>()
  const services = {} as Record<string, unknown>
  for (const [name, descriptor] of Object.entries(descriptors)) {
    Object.defineProperty(services, name, {
      enumerable: true,
      get: () => {
        let client = cache.get(name)
        if (client === undefined) {
          client = createServiceClient(descriptor, channel, metadata)
          cache.set(name, client)
        }
        return client
      },
    })
  }
  return services as Services
}
