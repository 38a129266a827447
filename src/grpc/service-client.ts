import {
  create,
  fromBinary,
  toBinary,
  type DescMessage,
  type DescMethod,
  type DescService,
  type MessageInitShape,
  type MessageShape,
} from '@bufbuild/protobuf'
import { InternalError } from './errors.js'
import type { CallOptions, Metadata } from './call-options.js'
import type { Transport } from './transport.js'
import { PreEncoded } from './pre-encoded.js'

/** A unary RPC: one request, one response. */
export type UnaryFn<I extends DescMessage, O extends DescMessage> = (
  request: MessageInitShape<I>,
  options?: CallOptions,
) => Promise<MessageShape<O>>
/** A server-streaming RPC: one request, an async iterable of responses. */
export type ServerStreamingFn<I extends DescMessage, O extends DescMessage> = (
  request: MessageInitShape<I>,
  options?: CallOptions,
) => AsyncIterable<MessageShape<O>>
/** A client-streaming RPC: an async iterable of requests, one response. */
export type ClientStreamingFn<I extends DescMessage, O extends DescMessage> = (
  requests: AsyncIterable<MessageInitShape<I> | PreEncoded>,
  options?: CallOptions,
) => Promise<MessageShape<O>>
/** A bidirectional RPC: async iterables both ways (requests may be pre-encoded, see `PreEncoded`). */
export type BiDiStreamingFn<I extends DescMessage, O extends DescMessage> = (
  requests: AsyncIterable<MessageInitShape<I> | PreEncoded>,
  options?: CallOptions,
) => AsyncIterable<MessageShape<O>>

type MethodFn<M> = M extends { methodKind: 'unary'; input: infer I extends DescMessage; output: infer O extends DescMessage }
  ? UnaryFn<I, O>
  : M extends { methodKind: 'server_streaming'; input: infer I extends DescMessage; output: infer O extends DescMessage }
    ? ServerStreamingFn<I, O>
    : M extends { methodKind: 'client_streaming'; input: infer I extends DescMessage; output: infer O extends DescMessage }
      ? ClientStreamingFn<I, O>
      : M extends { methodKind: 'bidi_streaming'; input: infer I extends DescMessage; output: infer O extends DescMessage }
        ? BiDiStreamingFn<I, O>
        : never

/**
 * A typed client for one gRPC service: one function per RPC, named like the generated descriptor's
 * methods (lower camel case). Requests are plain objects (`MessageInitShape`), responses generated messages.
 */
export type ServiceClient<S extends DescService> = {
  [K in keyof S['method']]: MethodFn<S['method'][K]>
}

/** Supplies the metadata for each call: the namespace, and a lease when one is active. */
export type MetadataProvider = () => Metadata

/** Builds a {@link ServiceClient} whose calls go through `channel` (any {@link Transport}) with `metadata()` attached. */
export function createServiceClient<S extends DescService>(
  service: S,
  channel: Transport,
  metadata: MetadataProvider,
): ServiceClient<S> {
  const client: Record<string, unknown> = {}
  for (const method of service.methods) {
    client[method.localName] = bindMethod(method, channel, metadata)
  }
  return client as ServiceClient<S>
}

function bindMethod(method: DescMethod, channel: Transport, metadata: MetadataProvider): unknown {
  const path = `/${method.parent.typeName}/${method.name}`
  const input = method.input
  const output = method.output
  const encode = (init: MessageInitShape<DescMessage>): Uint8Array => toBinary(input, create(input, init))
  const decode = (bytes: Uint8Array): MessageShape<DescMessage> => fromBinary(output, bytes)
  async function* encodeAll(requests: AsyncIterable<MessageInitShape<DescMessage> | PreEncoded>): AsyncIterable<Uint8Array | PreEncoded> {
    for await (const request of requests) yield request instanceof PreEncoded ? request : encode(request)
  }
  async function* decodeAll(responses: AsyncIterable<Buffer>): AsyncIterable<MessageShape<DescMessage>> {
    for await (const response of responses) yield decode(response)
  }
  switch (method.methodKind) {
    case 'unary':
      // Not an async function: one promise hop less per call than awaiting the channel (bench section 1);
      // a throw while encoding still reaches the caller as a rejection.
      return (request: MessageInitShape<DescMessage>, options?: CallOptions): Promise<MessageShape<DescMessage>> => {
        let response: Promise<Buffer>
        try {
          response = channel.unary(path, encode(request), metadata(), options)
        } catch (err) {
          return Promise.reject(err)
        }
        return response.then(decode)
      }
    case 'server_streaming':
      // The metadata is read when the call is made, not when iteration starts, so a lease scope applies
      // to streams created inside it even if they are consumed later.
      return (request: MessageInitShape<DescMessage>, options?: CallOptions) => {
        const md = metadata()
        return decodeAll(channel.stream(path, encode(request), md, options))
      }
    case 'client_streaming':
      return async (requests: AsyncIterable<MessageInitShape<DescMessage> | PreEncoded>, options?: CallOptions) => {
        let last: MessageShape<DescMessage> | undefined
        for await (const response of decodeAll(channel.stream(path, encodeAll(requests), metadata(), options))) last = response
        if (last === undefined) throw new InternalError(`${path}: the server closed the call without a response`, { method: path })
        return last
      }
    case 'bidi_streaming':
      return (requests: AsyncIterable<MessageInitShape<DescMessage> | PreEncoded>, options?: CallOptions) => {
        const md = metadata()
        return decodeAll(channel.stream(path, encodeAll(requests), md, options))
      }
  }
}
