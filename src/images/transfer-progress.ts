import type { PullProgressEvent, PullProgressStatus } from './progress.js'

/** The fields of containerd's `transfer.Progress` message the mapping reads. */
export interface TransferProgress {
  event: string
  name: string
  progress: bigint
  total: bigint
  /** Set by containerd 2.x; 1.7 sends only `name` (`<kind>-<digest>`, e.g. `layer-sha256:…`). */
  desc?: { mediaType: string; digest: string; size: bigint } | undefined
}

/**
 * Maps one progress message of the Transfer service to a pull progress event, `'saved'` when the image
 * record was written (the pull's end: the caller emits `done` once the stream is drained, since
 * containerd sends its last per-blob messages after that one), or undefined for messages with no
 * counterpart (`fetching image content`).
 *
 * Events seen from containerd 1.7 and 2.x (`pkg/transfer/local/pull.go`, `progress.go`):
 * `Resolving from …`, `Pulling from …`, `waiting`, `downloading`, `complete`, `already exists`, `saved`,
 * `Completed pull from …`.
 */
export function mapTransferProgress(ref: string, p: TransferProgress): PullProgressEvent | 'saved' | undefined {
  const e = p.event.toLowerCase()
  if (e === 'saved') return 'saved'
  const status: PullProgressStatus | undefined =
    e.startsWith('resolving') ? 'resolving'
      : e.startsWith('pulling from') ? 'resolved'
        : e === 'waiting' ? 'waiting'
          : e === 'downloading' ? 'downloading'
            : e === 'complete' || e === 'downloaded' ? 'downloaded'
              : e === 'already exists' || e === 'exists' ? 'exists'
                : e.startsWith('unpacking') ? 'unpacking'
                  : e.startsWith('unpacked') ? 'unpacked'
                    : undefined
  if (status === undefined) return undefined
  const event: PullProgressEvent = { status, ref }
  if (p.desc !== undefined && p.desc.digest !== '') {
    event.digest = p.desc.digest
    event.mediaType = p.desc.mediaType
    event.total = Number(p.desc.size)
  } else {
    // containerd 1.7 names the blob by its ingest key: `manifest-`, `index-`, `config-` or `layer-` + digest.
    const digest = /^(?:manifest|index|config|layer)-([a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+)$/.exec(p.name)?.[1]
    if (digest !== undefined) event.digest = digest
  }
  if (p.total > 0n) event.total = Number(p.total)
  if (p.progress > 0n) event.current = Number(p.progress)
  return event
}
