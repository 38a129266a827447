import { InvalidArgumentError } from '../../grpc/errors.js'
import { familiarName, parseReference, type ImageReference } from '../../image-spec/reference.js'
import { ArchiveError } from './archive-error.js'

/** containerd's annotation on an OCI layout's index.json entries: the full image name. */
export const ANNOTATION_IMAGE_NAME = 'io.containerd.image.name'
/** The OCI annotation on index.json entries: the reference, usually only the tag. */
export const ANNOTATION_REF_NAME = 'org.opencontainers.image.ref.name'

// A tag, optionally with a digest: what containerd's exporter writes as the OCI ref name.
const OBJECT_RE = /^\w[\w.-]{0,127}(?:@[a-z0-9]+:[a-f0-9]+)?$/

/**
 * The `org.opencontainers.image.ref.name` containerd's exporter writes for an image name: the OCI spec
 * suggests only the tag (`latest`), so that is written when the name has one (`latest@sha256:…` when it
 * has both); a digest-only name is written in full, since a bare digest is not a valid ref name.
 */
export function ociRefName(name: string): string {
  const ref = parseReference(name)
  if (ref.tag === undefined) return ref.string
  return ref.digest === undefined ? ref.tag : `${ref.tag}@${ref.digest}`
}

/**
 * The annotations an exported index.json entry gets, as containerd's exporter writes them: the full
 * name for containerd (and other tools that read it), the tag for plain OCI tools.
 */
export function exportNameAnnotations(name: string): Record<string, string> {
  return { [ANNOTATION_IMAGE_NAME]: name, [ANNOTATION_REF_NAME]: ociRefName(name) }
}

/**
 * The `RepoTags` entry of Docker's manifest.json for an image name: the familiar form Docker shows
 * (`busybox:latest`, `localhost:5000/app:v1`). Digest-only names give none, because `docker load`
 * only accepts `name:tag` there; a name with tag and digest gives `name:tag`.
 */
export function dockerRepoTag(name: string): string | undefined {
  const ref = parseReference(name)
  return ref.tag === undefined ? undefined : `${familiarName(ref)}:${ref.tag}`
}

/**
 * Checks an import `namePrefix` (a repository such as `example.com/app` or `app`, without tag or
 * digest) and returns it normalized (`docker.io/library/app`).
 * @throws InvalidArgumentError when it is not a repository name.
 */
export function normalizeNamePrefix(prefix: string): string {
  const lastSegment = prefix.slice(prefix.lastIndexOf('/') + 1)
  if (prefix.includes('@') || lastSegment.includes(':')) {
    throw new InvalidArgumentError(`namePrefix ${JSON.stringify(prefix)} must be a repository name without tag or digest, e.g. example.com/app`)
  }
  return parseReference(prefix).name
}

/**
 * The image name an OCI layout's index.json entry is imported under, following containerd's rules:
 * - `io.containerd.image.name`, when present, is the name (normalized: `busybox` becomes
 *   `docker.io/library/busybox:latest`, where containerd 2 would silently drop an unnormalized name);
 * - else `org.opencontainers.image.ref.name`: a full reference (it contains `/`, `:` or `@`, as skopeo
 *   writes them) is the name; a bare tag needs `namePrefix` and becomes `<prefix>:<tag>`;
 * - an entry with neither gets `<prefix>@<digest>` with a prefix, and no name (no image record) without.
 * @throws ArchiveError `InvalidName` when an annotation is not a valid reference.
 */
export function importedImageName(annotations: Readonly<Record<string, string>> | undefined, digest: string, namePrefix: string | undefined): string | undefined {
  const full = annotations?.[ANNOTATION_IMAGE_NAME]
  if (full !== undefined && full !== '') return archiveName(full, ANNOTATION_IMAGE_NAME).string
  const refName = annotations?.[ANNOTATION_REF_NAME]
  if (refName !== undefined && refName !== '') {
    if (OBJECT_RE.test(refName)) return namePrefix === undefined ? undefined : archiveName(`${namePrefix}:${refName}`, ANNOTATION_REF_NAME).string
    return archiveName(refName, ANNOTATION_REF_NAME).string
  }
  return namePrefix === undefined ? undefined : archiveName(`${namePrefix}@${digest}`, 'digest').string
}

/**
 * The image name of a `docker save` RepoTag (`busybox:latest`, `docker.io/library/busybox:latest`):
 * normalized like containerd does.
 * @throws ArchiveError `InvalidName`.
 */
export function dockerTagName(repoTag: string): string {
  return archiveName(repoTag, 'RepoTags').string
}

function archiveName(value: string, source: string): ImageReference {
  try {
    return parseReference(value)
  } catch (err) {
    throw new ArchiveError('InvalidName', `the archive names an image ${JSON.stringify(value)} (${source}), which is not a valid reference: ${(err as Error).message}`, { cause: err })
  }
}
