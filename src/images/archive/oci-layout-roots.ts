import { checkOciLayout, parseIndexDocument } from './archive-json.js'
import { importedImageName } from './image-names.js'
import type { ImportRoot } from './import-root.js'
import { INDEX_FILE } from './index-json.js'

/**
 * The images of an OCI layout: one per index.json entry, named by {@link importedImageName} (full name
 * annotation, else ref name, else `namePrefix@digest`). The entries themselves are not stored: like
 * containerd, the import keeps what they point at, not index.json.
 * @throws ArchiveError `UnsupportedVersion`, `Malformed`, `TooLarge`, `InvalidName`.
 */
export function ociLayoutRoots(ociLayout: Buffer, indexJson: Buffer, namePrefix: string | undefined): ImportRoot[] {
  checkOciLayout(ociLayout)
  const index = parseIndexDocument(indexJson, INDEX_FILE, INDEX_FILE)
  return index.manifests.map((descriptor) => {
    const name = importedImageName(descriptor.annotations, descriptor.digest, namePrefix)
    return { descriptor, names: name === undefined ? [] : [name] }
  })
}
