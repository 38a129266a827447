/** A label change in the form containerd's Update calls take: the labels to send and the field mask. */
export interface LabelPatch {
  /** The labels with a value; keys given as `''` are left out, which makes containerd delete them. */
  labels: Record<string, string>
  /** `labels.<key>` for every key given, so other labels stay as they are. */
  paths: string[]
}

/**
 * Builds a merging label update: the keys given are set, a key given as `''` is removed (containerd
 * deletes a label whose path is in the mask but whose value is absent), other labels stay.
 */
export function labelPatch(labels: Record<string, string>): LabelPatch {
  return {
    labels: Object.fromEntries(Object.entries(labels).filter(([, v]) => v !== '')),
    paths: Object.keys(labels).map((k) => `labels.${k}`),
  }
}
