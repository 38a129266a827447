/**
 * What happened to one item of a push:
 * - `preparing`: reading the image from the content store (for the reference, no digest);
 * - `waiting`: the blob waits for an upload slot;
 * - `exists`: the registry already has the blob or manifest, nothing is sent;
 * - `mounted`: the registry linked the blob from another repository (`from`), nothing is sent;
 * - `uploading`: bytes are going out (`current` of `total`);
 * - `uploaded`: the blob or manifest is stored in the registry;
 * - `done`: the image is pushed (for the reference, with the digest of what its tag now points to).
 */
export type PushProgressStatus =
  | 'preparing'
  | 'waiting'
  | 'exists'
  | 'mounted'
  | 'uploading'
  | 'uploaded'
  | 'done'

/** One progress event of a push, per blob or manifest (or for the reference). */
export interface PushProgressEvent {
  /** What changed. */
  status: PushProgressStatus
  /** The reference being pushed. */
  ref: string
  /** The blob's or manifest's digest (absent while preparing). */
  digest?: string
  /** Its media type. */
  mediaType?: string
  /** Bytes sent so far (uploading). */
  current?: number
  /** Its size. */
  total?: number
  /** The repository a `mounted` blob was linked from. */
  from?: string
}

/** Receives push progress events; called synchronously, so keep it cheap. */
export type PushProgressListener = (event: PushProgressEvent) => void
