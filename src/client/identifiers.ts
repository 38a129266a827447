import { InvalidArgumentError } from '../grpc/errors.js'

// containerd's rule for namespaces, container ids, lease ids and snapshotter keys (`pkg/identifiers`):
// alphanumeric components joined by single '.', '_' or '-', at most 76 characters.
const IDENTIFIER = /^[A-Za-z0-9]+(?:[._-][A-Za-z0-9]+)*$/
const MAX_LENGTH = 76

/**
 * Checks an identifier the way containerd does, so a bad one fails before any call is made.
 * @throws InvalidArgumentError naming the value, what it is, and the rule.
 */
export function validateIdentifier(kind: string, value: string): void {
  if (value === '') throw new InvalidArgumentError(`${kind} must not be empty`)
  if (value.length > MAX_LENGTH) {
    throw new InvalidArgumentError(`${kind} "${value}" is ${value.length} characters long; containerd allows at most ${MAX_LENGTH}`)
  }
  if (!IDENTIFIER.test(value)) {
    throw new InvalidArgumentError(
      `${kind} "${value}" is not a valid containerd identifier: use letters and digits, separated by single '.', '_' or '-', starting and ending with a letter or digit`,
    )
  }
}
