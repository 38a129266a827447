/** Options every I/O method of the SDK accepts. */
export interface CallOptions {
  /** Cancels the call; it rejects with a `CanceledError` whose `cause` is `signal.reason`. */
  signal?: AbortSignal | undefined
  /** Deadline for the call in milliseconds; it rejects with a `DeadlineExceededError` when it passes. */
  timeoutMs?: number | undefined
}

/** gRPC request metadata (header name → value). Names are lower-case. */
export type Metadata = Record<string, string>
