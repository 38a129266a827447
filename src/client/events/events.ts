import { createRegistry, fromBinary } from '@bufbuild/protobuf'
import type { Any } from '@bufbuild/protobuf/wkt'
import type { Services } from '../services.js'
import type { CallOptions } from '../../grpc/call-options.js'
import { toDate } from '../time.js'
import { EVENT_SCHEMAS, type EventPayloads } from './event-payloads.js'

/** An event payload as it travels: a protobuf Any. */
export interface RawEventPayload {
  /** The payload's type URL; containerd sends the bare message name, e.g. `containerd.events.TaskExit`. */
  typeUrl: string
  /** The encoded payload. */
  value: Uint8Array
}

/** Fields every event has. */
interface EventBase {
  /** When the daemon published it. */
  timestamp: Date | undefined
  /** The namespace it happened in. */
  namespace: string
  /** The topic, e.g. `/tasks/exit`, `/containers/create`, `/images/delete`. */
  topic: string
  /** The payload exactly as received. */
  raw: RawEventPayload
}

/** An event of a known type: narrow on `type` to get a typed `payload`. */
export type KnownEvent = {
  [K in keyof EventPayloads]: TypedEvent<K>
}[keyof EventPayloads]

/** An event whose payload type is `K`. */
export interface TypedEvent<K extends keyof EventPayloads> extends EventBase {
  /** The payload's message name, e.g. `containerd.events.TaskExit`. */
  type: K
  /** The decoded payload. */
  payload: EventPayloads[K]
}

/**
 * An event whose payload type this SDK does not know (a newer daemon, a custom publisher). Its type
 * name is in `raw.typeUrl`; `type` is the literal `'unknown'` so that checks on known type names narrow.
 */
export interface UnknownEvent extends EventBase {
  /** Always `'unknown'`. */
  type: 'unknown'
  /** Always undefined: decode `raw` yourself. */
  payload: undefined
}

/** An event from `client.events()`. */
export type ContainerdEvent = KnownEvent | UnknownEvent

/** Options for `client.events()`. */
export interface EventsOptions extends CallOptions {
  /**
   * containerd event filters, e.g. `topic=="/tasks/exit"`, `namespace==default`,
   * `topic~="/containers/.*"`. Separate strings are OR-ed; terms joined by commas are AND-ed.
   * Default: every event (of the client's namespace, unless `allNamespaces`).
   */
  filters?: string[]
  /** Every namespace's events, not only those of the client's namespace. Default false. */
  allNamespaces?: boolean
}

/**
 * Scopes event filters to one namespace: each filter (they are OR-ed) gets the namespace term AND-ed in
 * front, so no filter can let another namespace's events through.
 */
export function namespaceFilters(namespace: string, filters: readonly string[] = []): string[] {
  const term = `namespace==${JSON.stringify(namespace)}`
  return filters.length === 0 ? [term] : filters.map((f) => `${term},${f}`)
}

const registry = createRegistry(...EVENT_SCHEMAS)

/** Returns the type name of a type URL (containerd sends bare names, others `type.googleapis.com/…`). */
function typeName(typeUrl: string): string {
  const slash = typeUrl.lastIndexOf('/')
  return slash < 0 ? typeUrl : typeUrl.slice(slash + 1)
}

/** Decodes one envelope's payload; unknown types come back with `payload: undefined`. */
export function decodeEvent(envelope: {
  timestamp?: { seconds: bigint; nanos: number } | undefined
  namespace: string
  topic: string
  event?: Any | undefined
}): ContainerdEvent {
  const typeUrl = envelope.event?.typeUrl ?? ''
  const value = envelope.event?.value ?? new Uint8Array()
  const type = typeName(typeUrl)
  const schema = registry.getMessage(type)
  const base = {
    timestamp: envelope.timestamp === undefined ? undefined : toDate(envelope.timestamp as Parameters<typeof toDate>[0]),
    namespace: envelope.namespace,
    topic: envelope.topic,
    raw: { typeUrl, value },
  }
  if (schema === undefined) return { ...base, type: 'unknown', payload: undefined }
  return { ...base, type, payload: fromBinary(schema, value) } as KnownEvent
}

/**
 * Subscribes to events. Ends when the signal aborts or the consumer stops iterating; rethrows a lost
 * connection as `UnavailableError`.
 */
export async function* subscribeEvents(services: Services, options: EventsOptions): AsyncGenerator<ContainerdEvent, void, undefined> {
  const stream = services.events.subscribe({ filters: options.filters ?? [] }, options)
  try {
    for await (const envelope of stream) yield decodeEvent(envelope)
  } catch (err) {
    // Aborting is how a caller ends a subscription: that is a clean end, not an error.
    if (options.signal?.aborted === true && (err as { code?: string }).code === 'Canceled') return
    throw err
  }
}
