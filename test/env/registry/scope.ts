/**
 * Scopes of token requests (`repository:library/busybox:pull,push`), as clients send them: repeated
 * `scope` parameters (GET, Docker's spec) or one space-separated `scope` field (POST, OAuth2).
 */

/** One requested scope. */
export interface RequestedScope {
  /** `repository`, `registry`, … */
  readonly type: string
  /** Resource class from `type(class)`, if any. */
  readonly class?: string
  /** Resource name; may itself contain ':' only in theory, so it is everything between type and actions. */
  readonly name: string
  /** Requested actions. */
  readonly actions: readonly string[]
}

const TYPE = /^([a-z0-9]+)(?:\(([a-z0-9]+)\))?$/

/** Parses one `type:name:actions` string; undefined if it does not have that shape. */
export function parseScope(scope: string): RequestedScope | undefined {
  const first = scope.indexOf(':')
  const last = scope.lastIndexOf(':')
  if (first <= 0 || last === first) return undefined
  const match = TYPE.exec(scope.slice(0, first))
  const name = scope.slice(first + 1, last)
  if (match === null || match[1] === undefined || name === '') return undefined
  const actions = scope.slice(last + 1).split(',').filter((a) => a !== '')
  return { type: match[1], ...(match[2] === undefined ? {} : { class: match[2] }), name, actions }
}

/** Splits every `scope` value on spaces and parses the pieces, dropping malformed ones. */
export function parseScopes(values: readonly string[]): RequestedScope[] {
  const scopes: RequestedScope[] = []
  for (const value of values) {
    for (const piece of value.split(' ')) {
      if (piece === '') continue
      const scope = parseScope(piece)
      if (scope !== undefined) scopes.push(scope)
    }
  }
  return scopes
}

/** Formats a scope back to `type(class):name:actions`. */
export function formatScope(scope: RequestedScope): string {
  return `${scope.type}${scope.class === undefined ? '' : `(${scope.class})`}:${scope.name}:${scope.actions.join(',')}`
}
