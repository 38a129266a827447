import { InvalidArgumentError } from '../../grpc/errors.js'

/** An OCI content digest: `<algorithm>:<hex>`, e.g. `sha256:e3b0c4…`. */
export type Digest = `${string}:${string}`

const DIGEST = /^(sha256:[a-f0-9]{64}|sha384:[a-f0-9]{96}|sha512:[a-f0-9]{128})$/

/**
 * Checks that `value` is a well-formed digest (sha256, sha384 or sha512, lower-case hex).
 * @throws InvalidArgumentError naming the value.
 */
export function validateDigest(value: string): asserts value is Digest {
  if (!DIGEST.test(value)) {
    throw new InvalidArgumentError(`"${value}" is not a valid digest: expected sha256:<64 lower-case hex digits> (or sha384/sha512)`)
  }
}

/** The Node hash algorithm name of a digest (`sha256`, `sha384`, `sha512`). */
export function digestAlgorithm(digest: Digest): 'sha256' | 'sha384' | 'sha512' {
  return digest.slice(0, digest.indexOf(':')) as 'sha256' | 'sha384' | 'sha512'
}
