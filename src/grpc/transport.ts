import type { CallOptions, Metadata } from './call-options.js'
import type { PreEncoded } from './pre-encoded.js'

/**
 * What a typed service client needs from a gRPC connection: framed calls by method path, nothing about
 * containerd. Our HTTP/2 channel over a unix socket implements it; the BuildKit client uses the same
 * interface over its own connections, so neither client depends on the other.
 */
export interface Transport {
  /** One request, one response (both encoded messages). Rejects with a `ContainerdError` subclass. */
  unary(method: string, request: Uint8Array, metadata: Metadata, options?: CallOptions): Promise<Buffer>
  /**
   * A streaming call: one request (server streaming) or an async iterable of them (client and
   * bidirectional streaming); yields the encoded responses. Leaving the loop early cancels the call.
   */
  stream(method: string, requests: Uint8Array | AsyncIterable<Uint8Array | PreEncoded>, metadata: Metadata, options?: CallOptions): AsyncIterable<Buffer>
  /** Ends the connection; calls made afterwards fail with `UnavailableError`. Idempotent. */
  close(): void
}
