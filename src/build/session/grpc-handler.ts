/**
 * What a service served inside a BuildKit session looks like to the tiny gRPC server in
 * `grpc-server.ts`: one handler per method path, working on encoded messages so the server knows
 * nothing about protobuf.
 */

/** Request metadata of one call: lower-case keys, every header value as its own entry (repeats kept apart). */
export type ServerMetadata = Readonly<Record<string, readonly string[]>>

/** What a handler knows about its call besides the messages. */
export interface ServerCall {
  /** The method path, `/<package.Service>/<Method>`. */
  readonly method: string
  /** The request metadata (HTTP/2 pseudo-headers and transport headers left out). */
  readonly metadata: ServerMetadata
  /** Aborted when the peer cancels the call or the connection goes away: stop and return. */
  readonly signal: AbortSignal
}

/** A unary method: one encoded request in, one encoded response out. A throw becomes the call's status. */
export interface UnaryHandler {
  /** The kind of method. */
  readonly kind: 'unary'
  /** Answers one request. */
  handle(request: Uint8Array, call: ServerCall): Promise<Uint8Array>
}

/**
 * A bidirectional-streaming method. `requests` ends when the peer half-closes; `send` resolves once the
 * transport took the message (back-pressure) and rejects once the call is gone. Returning ends the call
 * with OK; a throw becomes the call's status.
 */
export interface BidiHandler {
  /** The kind of method. */
  readonly kind: 'bidi'
  /** Runs the call. */
  handle(requests: AsyncIterable<Uint8Array>, send: (message: Uint8Array) => Promise<void>, call: ServerCall): Promise<void>
}

/** A handler of either kind. */
export type MethodHandler = UnaryHandler | BidiHandler

/** Handlers by method path (`/<package.Service>/<Method>`). */
export type MethodTable = ReadonlyMap<string, MethodHandler>
