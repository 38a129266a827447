/** Options every I/O method of the SDK accepts. */
export interface CallOptions {
  /** Cancels the call; it rejects with a `CanceledError` whose `cause` is `signal.reason`. */
  signal?: AbortSignal | undefined
  /** Deadline for the call in milliseconds; it rejects with a `DeadlineExceededError` when it passes. */
  timeoutMs?: number | undefined
}

/**
 * gRPC request metadata (header name → value). Names are lower-case. A list sends each value as its own
 * header field: BuildKit's session headers need that (one `x-docker-expose-session-grpc-method` per
 * method), and a value joined with ", " would be read as one method.
 */
export type Metadata = Record<string, string | string[]>
