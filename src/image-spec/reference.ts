/**
 * Docker image references: parsing, normalisation and formatting.
 *
 * containerd stores images under fully qualified names (`docker.io/library/nginx:latest`), while people
 * type familiar ones (`nginx`). This module follows the grammar of github.com/distribution/reference and
 * the normalisation Docker and containerd apply (`ParseDockerRef`), so that a name typed here resolves to
 * the same image it would in `docker` or `ctr`:
 *
 * ```text
 * reference        := name [ ":" tag ] [ "@" digest ]
 * name             := [ domain "/" ] path
 * domain           := host [ ":" port ]
 * host             := domain-name | "[" ipv6 "]"
 * domain-name      := component ( "." component )*      component: [a-zA-Z0-9] or [a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]
 * path             := path-component ( "/" path-component )*
 * path-component   := [a-z0-9]+ ( ( "." | "_" | "__" | "-"+ ) [a-z0-9]+ )*
 * tag              := [\w][\w.-]{0,127}
 * digest           := algorithm ":" hex
 * ```
 *
 * Deliberate differences from the Go package, each because the Go behaviour would hand containerd a name
 * it cannot pull or would silently mean something else:
 * - a reference with both a tag and a digest keeps both (Go's `ParseDockerRef` drops the tag);
 * - a first component that looks like a registry (`a_b.com/x`) must be a valid host, where Go falls back
 *   to a domain-less name;
 * - a bare digest (`sha256:<hex>`) is rejected instead of becoming the tag of an image called `sha256`;
 * - digests must use an algorithm containerd verifies (sha256, sha384, sha512);
 * - {@link familiarName} keeps `docker.io/` when dropping it would make the first path component look
 *   like a registry (`docker.io/foo.com/bar`), so familiar forms always parse back to the same image.
 */

import { InvalidArgumentError } from '../grpc/errors.js'
import { validateDigest, type Digest } from '../client/content/digest.js'

/** A parsed, normalised image reference. Objects returned by this module are frozen. */
export interface ImageReference {
  /** Registry host with optional port, e.g. `docker.io`, `localhost:5000`, `[::1]:5000`. */
  readonly domain: string
  /** Repository path inside the registry, e.g. `library/nginx`. */
  readonly path: string
  /** Tag, when the reference has one; digest-only references have none. */
  readonly tag?: string
  /** Content digest, when the reference pins one. */
  readonly digest?: Digest
  /** `domain/path`: the repository's full name. */
  readonly name: string
  /** The full normalised reference: `name[:tag][@digest]`, the form containerd stores images under. */
  readonly string: string
}

/** Options for {@link parseReference}. */
export interface ParseReferenceOptions {
  /** Tag given to references that have neither tag nor digest; defaults to `latest`, as in Docker. */
  defaultTag?: string
}

/** The parts {@link formatReference} joins; the shape of an {@link ImageReference} without derived fields. */
export interface ReferenceParts {
  /** Registry host with optional port. */
  domain: string
  /** Repository path. */
  path: string
  /** Optional tag (undefined is accepted so callers can pass an optional field straight through). */
  tag?: string | undefined
  /** Optional digest. */
  digest?: string | undefined
}

/** Docker Hub's canonical domain in image names. */
export const DEFAULT_DOMAIN = 'docker.io'

/** Tag applied by {@link parseReference} when a reference names neither tag nor digest. */
export const DEFAULT_TAG = 'latest'

/** The longest repository path the registry API accepts (distribution's `RepositoryNameTotalLengthMax`). */
export const MAX_PATH_LENGTH = 255

// Docker Hub's v1-era name, still accepted in references and folded into docker.io.
const LEGACY_DOMAIN = 'index.docker.io'
// Docker Hub's registry API does not answer on docker.io itself.
const DOCKER_HUB_API_HOST = 'registry-1.docker.io'
// Official images live in this namespace; Docker hides it in familiar names.
const OFFICIAL_PREFIX = 'library/'

const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])'
// Zone identifiers and embedded IPv4 are excluded on purpose: the grammar only admits hex and colons.
const DOMAIN_RE = new RegExp(`^(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|\\[[a-fA-F0-9:]+\\])(?::[0-9]+)?$`)
const PATH_COMPONENT_RE = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/
const TAG_RE = /^\w[\w.-]{0,127}$/
// The general digest grammar; which algorithms are usable is checked separately for a precise message.
const DIGEST_GRAMMAR_RE = /^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$/
// A bare image ID: Docker refuses it as a name so that `docker run <id>` can never mean a Hub repository.
const IDENTIFIER_RE = /^[a-f0-9]{64}$/
// Only registered algorithms count: `app:<40-hex git sha>` is an ordinary tag and must stay valid.
const BARE_DIGEST_RE = /^(?:sha256|sha384|sha512):[0-9a-fA-F]{32,}$/
const HEX_LENGTH: Readonly<Record<string, number>> = { sha256: 64, sha384: 96, sha512: 128 }

/**
 * Parses an image reference and normalises it the way Docker and containerd do: a missing registry
 * becomes `docker.io`, a single-component Docker Hub path gets `library/`, `index.docker.io` becomes
 * `docker.io`, and a reference with neither tag nor digest gets `options.defaultTag` (`latest`).
 *
 * @example parseReference('nginx').string === 'docker.io/library/nginx:latest'
 * @throws InvalidArgumentError naming the reference and what is wrong with it.
 */
export function parseReference(ref: string, options: ParseReferenceOptions = {}): ImageReference {
  const fail = (reason: string): never => {
    throw new InvalidArgumentError(`invalid image reference ${JSON.stringify(ref)}: ${reason}`)
  }
  if (typeof ref !== 'string') {
    // Reached only from untyped callers; JSON.stringify would misrepresent the value, so say what it is.
    throw new InvalidArgumentError(`image reference must be a string, got ${ref === null ? 'null' : typeof ref}`)
  }
  const defaultTag = options.defaultTag ?? DEFAULT_TAG
  const defaultTagProblem = tagProblem(defaultTag)
  if (defaultTagProblem !== undefined) {
    throw new InvalidArgumentError(`invalid defaultTag ${JSON.stringify(defaultTag)}: ${defaultTagProblem}`)
  }

  if (ref === '') fail('must not be empty')
  if (/\s/.test(ref)) fail('must not contain whitespace')
  if (IDENTIFIER_RE.test(ref)) {
    fail('cannot specify 64-byte hexadecimal strings; a bare image ID is not a repository name')
  }
  if (BARE_DIGEST_RE.test(ref)) {
    fail('is a digest, not an image name; write <name>@<digest>')
  }

  // "@" appears nowhere but before the digest, so the first one splits the digest off.
  const at = ref.indexOf('@')
  const nameAndTag = at === -1 ? ref : ref.slice(0, at)
  const digestText = at === -1 ? undefined : ref.slice(at + 1)

  // The tag follows the last "/", because the domain itself may contain ":" (a port or an IPv6 address).
  const tagColon = nameAndTag.indexOf(':', nameAndTag.lastIndexOf('/') + 1)
  const nameText = tagColon === -1 ? nameAndTag : nameAndTag.slice(0, tagColon)
  const tagText = tagColon === -1 ? undefined : nameAndTag.slice(tagColon + 1)
  if (nameText === '') fail('missing repository name')

  const { domain, path } = splitDomain(nameText)
  const problem = domainProblem(domain) ?? pathProblem(path)
  if (problem !== undefined) fail(problem)

  let tag = tagText
  if (tag !== undefined) {
    const why = tagProblem(tag)
    if (why !== undefined) fail(why)
  }
  let digest: Digest | undefined
  if (digestText !== undefined) {
    const why = digestProblem(digestText)
    if (why !== undefined) fail(why)
    // Never throws after digestProblem; it narrows the type and keeps the rule tied to the content module.
    validateDigest(digestText)
    digest = digestText
  }
  // A digest already pins the content, so a digest-only reference is complete without a tag.
  if (tag === undefined && digest === undefined) tag = defaultTag
  return build(domain, path, tag, digest)
}

/**
 * The name as Docker shows it: `docker.io/library/nginx` → `nginx`, `docker.io/user/app` → `user/app`,
 * names on other registries unchanged.
 */
export function familiarName(ref: ImageReference): string {
  if (ref.domain !== DEFAULT_DOMAIN) return ref.name
  const path = ref.path
  const slash = path.indexOf('/')
  // Only a direct child of library/ is shortened: `library/a/b` without the prefix would parse as `a/b`.
  if (path.startsWith(OFFICIAL_PREFIX) && !path.includes('/', OFFICIAL_PREFIX.length)) {
    return path.slice(OFFICIAL_PREFIX.length)
  }
  // Without docker.io, a first component like `foo.com` would be read back as a registry.
  if (slash !== -1 && looksLikeDomain(path.slice(0, slash))) return ref.name
  return path
}

/** The full reference as Docker shows it: {@link familiarName} plus `:tag` and `@digest`. */
export function familiarString(ref: ImageReference): string {
  return familiarName(ref) + suffix(ref.tag, ref.digest)
}

/**
 * Joins reference parts into `domain/path[:tag][@digest]`, checking each against the grammar. It does
 * not normalise: the parts are written as given.
 *
 * @throws InvalidArgumentError when a part is malformed.
 */
export function formatReference(parts: ReferenceParts): string {
  const problem =
    (parts.domain === '' ? 'domain must not be empty' : domainProblem(parts.domain)) ??
    pathProblem(parts.path) ??
    (parts.tag === undefined ? undefined : tagProblem(parts.tag)) ??
    (parts.digest === undefined ? undefined : digestProblem(parts.digest))
  if (problem !== undefined) {
    throw new InvalidArgumentError(`cannot format image reference from ${JSON.stringify(parts)}: ${problem}`)
  }
  return `${parts.domain}/${parts.path}${suffix(parts.tag, parts.digest)}`
}

/** The repository path, as used in registry API URLs (`/v2/<repository>/manifests/<ref>`). */
export function repositoryOf(ref: ImageReference): string {
  return ref.path
}

/**
 * The registry named by the reference (its domain, e.g. `docker.io`): the key for credentials and
 * per-registry host configuration. Use {@link apiHost} for the host to send API requests to.
 */
export function registryHost(ref: ImageReference): string {
  return ref.domain
}

/**
 * The host that serves the registry API for `domain`. Docker Hub's API lives at `registry-1.docker.io`
 * rather than at `docker.io`; every other registry serves it at its own domain.
 */
export function apiHost(domain: string): string {
  return domain === DEFAULT_DOMAIN || domain === LEGACY_DOMAIN ? DOCKER_HUB_API_HOST : domain
}

/**
 * A copy of `ref` with its tag set to `tag`; any digest is kept.
 * @throws InvalidArgumentError when `tag` is malformed.
 */
export function withTag(ref: ImageReference, tag: string): ImageReference {
  const problem = tagProblem(tag)
  if (problem !== undefined) {
    throw new InvalidArgumentError(`cannot tag image reference ${JSON.stringify(ref.string)} with ${JSON.stringify(tag)}: ${problem}`)
  }
  return build(ref.domain, ref.path, tag, ref.digest)
}

/**
 * A copy of `ref` pinned to `digest`; any tag is kept.
 * @throws InvalidArgumentError when `digest` is malformed or uses an unsupported algorithm.
 */
export function withDigest(ref: ImageReference, digest: string): ImageReference {
  const problem = digestProblem(digest)
  if (problem !== undefined) {
    throw new InvalidArgumentError(
      `cannot pin image reference ${JSON.stringify(ref.string)} to ${JSON.stringify(digest)}: ${problem}`,
    )
  }
  // Never throws after digestProblem; it narrows the type and keeps the rule tied to the content module.
  validateDigest(digest)
  return build(ref.domain, ref.path, ref.tag, digest)
}

// Docker's rule for telling a registry from the first path component; it must stay as is, because
// changing it would change which registry existing names point at.
function splitDomain(name: string): { domain: string; path: string } {
  const slash = name.indexOf('/')
  // A single component is always a Docker Hub official image, even "localhost" or "example.com".
  if (slash === -1) return { domain: DEFAULT_DOMAIN, path: OFFICIAL_PREFIX + name }
  const first = name.slice(0, slash)
  const rest = name.slice(slash + 1)
  let domain: string
  let path: string
  if (first === LEGACY_DOMAIN) {
    domain = DEFAULT_DOMAIN
    path = rest
  } else if (looksLikeDomain(first) || first.toLowerCase() !== first) {
    // Path components are lower-case only, so an upper-case first component can only be a host.
    domain = first
    path = rest
  } else {
    domain = DEFAULT_DOMAIN
    path = name
  }
  if (domain === DEFAULT_DOMAIN && !path.includes('/')) path = OFFICIAL_PREFIX + path
  return { domain, path }
}

function looksLikeDomain(component: string): boolean {
  return component === 'localhost' || component.includes('.') || component.includes(':')
}

function domainProblem(domain: string): string | undefined {
  if (DOMAIN_RE.test(domain)) return undefined
  return `registry host ${JSON.stringify(domain)} is not a valid host name, IPv4 address or [IPv6] address with optional :port`
}

function pathProblem(path: string): string | undefined {
  // Checked first and reported on its own: upper case is the most common mistake and Docker names it.
  if (path.toLowerCase() !== path) return `repository name ${JSON.stringify(path)} must be lowercase`
  for (const component of path.split('/')) {
    if (component === '') return `repository name ${JSON.stringify(path)} has an empty path component`
    if (!PATH_COMPONENT_RE.test(component)) {
      return `path component ${JSON.stringify(component)} is invalid: use lower-case letters and digits, separated by ".", "_", "__" or "-"`
    }
  }
  if (path.length > MAX_PATH_LENGTH) {
    return `repository name must not be more than ${MAX_PATH_LENGTH} characters (${path.length})`
  }
  return undefined
}

function tagProblem(tag: string): string | undefined {
  if (tag === '') return 'tag must not be empty'
  if (TAG_RE.test(tag)) return undefined
  if (tag.length > 128) return `tag ${JSON.stringify(tag)} is longer than 128 characters`
  return `tag ${JSON.stringify(tag)} is invalid: use letters, digits, "_", "." and "-", not starting with "." or "-"`
}

function digestProblem(digest: string): string | undefined {
  if (!DIGEST_GRAMMAR_RE.test(digest)) {
    return `digest ${JSON.stringify(digest)} is malformed: expected <algorithm>:<hex>, e.g. sha256:<64 hex digits>`
  }
  const colon = digest.indexOf(':')
  const algorithm = digest.slice(0, colon)
  const hex = digest.slice(colon + 1)
  const length = HEX_LENGTH[algorithm]
  if (length === undefined) return `digest algorithm ${JSON.stringify(algorithm)} is not supported (use sha256, sha384 or sha512)`
  if (hex.length !== length || !/^[a-f0-9]+$/.test(hex)) {
    return `digest ${JSON.stringify(digest)} must have ${length} lower-case hex digits after "${algorithm}:"`
  }
  return undefined
}

function suffix(tag: string | undefined, digest: string | undefined): string {
  return (tag === undefined ? '' : `:${tag}`) + (digest === undefined ? '' : `@${digest}`)
}

function build(domain: string, path: string, tag: string | undefined, digest: Digest | undefined): ImageReference {
  const name = `${domain}/${path}`
  // Optional fields are left out rather than set to undefined, as exactOptionalPropertyTypes expects.
  return Object.freeze({
    domain,
    path,
    ...(tag === undefined ? {} : { tag }),
    ...(digest === undefined ? {} : { digest }),
    name,
    string: name + suffix(tag, digest),
  })
}
