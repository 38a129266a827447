/**
 * Typed handlers on top of the byte-level ones of `grpc-handler.ts`: decode with the generated schema,
 * call the service code with messages, encode the answer. Keeps protobuf out of the server.
 */

import { create, fromBinary, toBinary, type DescMessage, type DescMethod, type MessageInitShape, type MessageShape } from '@bufbuild/protobuf'
import type { BidiHandler, ServerCall, UnaryHandler } from './grpc-handler.js'

/** The path a method is called by: `/<package.Service>/<Method>`. */
export function methodPath(method: DescMethod): string {
  return `/${method.parent.typeName}/${method.name}`
}

/** A unary handler for `method` from a function on messages. */
export function unaryHandler<I extends DescMessage, O extends DescMessage>(
  method: { input: I; output: O },
  handle: (request: MessageShape<I>, call: ServerCall) => Promise<MessageInitShape<O>>,
): UnaryHandler {
  return {
    kind: 'unary',
    async handle(request, call) {
      const answer = await handle(fromBinary(method.input, request), call)
      return toBinary(method.output, create(method.output, answer))
    },
  }
}

/** A bidirectional handler for `method` from a function on message streams. */
export function bidiHandler<I extends DescMessage, O extends DescMessage>(
  method: { input: I; output: O },
  handle: (requests: AsyncIterable<MessageShape<I>>, send: (message: MessageInitShape<O>) => Promise<void>, call: ServerCall) => Promise<void>,
): BidiHandler {
  async function* decodeAll(requests: AsyncIterable<Uint8Array>): AsyncIterable<MessageShape<I>> {
    for await (const request of requests) yield fromBinary(method.input, request)
  }
  return {
    kind: 'bidi',
    handle(requests, send, call) {
      return handle(decodeAll(requests), (message) => send(toBinary(method.output, create(method.output, message))), call)
    },
  }
}
