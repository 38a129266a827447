import type { OciDescriptor } from '../../image-spec/descriptor.js'

/**
 * An image an archive offers for import: the descriptor an image record would point at (an
 * index.json entry, or the manifest synthesized for a `docker save` image) and the names it gets.
 */
export interface ImportRoot {
  /** The manifest or index. */
  descriptor: OciDescriptor
  /** Image names for it; none means no record (and so nothing kept). */
  names: string[]
}
