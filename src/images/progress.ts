/** What happened to one item of a pull. */
export type PullProgressStatus =
  | 'resolving'
  | 'resolved'
  | 'waiting'
  | 'downloading'
  | 'exists'
  | 'downloaded'
  | 'unpacking'
  | 'unpacked'
  | 'done'

/** One progress event of a pull, per blob (or for the reference while resolving). */
export interface PullProgressEvent {
  /** What changed. */
  status: PullProgressStatus
  /** The reference being pulled. */
  ref: string
  /** The blob's digest (absent while resolving). */
  digest?: string
  /** The blob's media type. */
  mediaType?: string
  /** Bytes stored so far (downloading). */
  current?: number
  /** The blob's size. */
  total?: number
}

/** Receives progress events; called synchronously, so keep it cheap. */
export type PullProgressListener = (event: PullProgressEvent) => void
