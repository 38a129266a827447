/**
 * `WWW-Authenticate` parsing (RFC 7235 §4.1, §2.1).
 *
 * A registry answers 401 with one or more challenges; the Bearer one names the token server (`realm`),
 * `service` and `scope`. One header field may carry several challenges separated by commas, and commas also
 * separate the parameters of one challenge, so a comma alone does not tell where a challenge ends: a new
 * challenge starts where a token is NOT followed by `=`.
 */

import { RegistryError } from './registry-error.js'

/**
 * The most `WWW-Authenticate` text parsed (all field values together). Registries send a few hundred
 * bytes; node:http caps all headers at 16 KiB, but the raw blob reader accepts a 64 KiB head.
 */
export const MAX_WWW_AUTHENTICATE_BYTES = 16 * 1024
/** The most challenges, and parameters per challenge, parsed. A Bearer challenge has three or four. */
export const MAX_CHALLENGES = 16
/** See {@link MAX_CHALLENGES}. */
export const MAX_CHALLENGE_PARAMS = 64

/** One challenge from a `WWW-Authenticate` header. */
export interface AuthChallenge {
  /** The auth-scheme, lower-cased (schemes are case-insensitive): `'bearer'`, `'basic'`, … */
  scheme: 'bearer' | 'basic' | (string & {})
  /** The auth-params, names lower-cased (they are case-insensitive), values unquoted and unescaped. */
  params: Record<string, string>
  /** The token68 form (`Negotiate abc==`), for the rare scheme that uses it instead of params. */
  token68?: string
}

// tchar (RFC 7230 §3.2.6).
const TOKEN = /[!#$%&'*+\-.^_`|~0-9A-Za-z]+/y
// token68 (RFC 7235 §2.1) must be the whole rest of the list element.
const TOKEN68 = /[A-Za-z0-9\-._~+/]+=*(?=[ \t]*(?:,|$))/y
// Unquoted values some registries send although they are not tokens (`scope=repository:a/b:pull`).
const LOOSE_VALUE = /[^\s,"]+/y

/**
 * Parses one or more `WWW-Authenticate` field values into challenges, in the order they appear.
 *
 * Malformed input never throws: whatever could be parsed before the damage is returned, because a
 * registry's sloppy header should not hide a usable Bearer challenge. Oversized input does.
 * @param from who sent the header, for the error message.
 * @throws RegistryError `TooLarge` for more than {@link MAX_WWW_AUTHENTICATE_BYTES} of text, more than
 *   {@link MAX_CHALLENGES} challenges or more than {@link MAX_CHALLENGE_PARAMS} parameters in one.
 */
export function parseWwwAuthenticate(header: string | readonly string[] | null | undefined, from = 'the registry'): AuthChallenge[] {
  if (header === null || header === undefined) return []
  checkChallengeSize(header, from)
  const values = typeof header === 'string' ? [header] : header
  const out = values.flatMap((value) => new Parser(value, from).parse())
  if (out.length > MAX_CHALLENGES) {
    throw new RegistryError('TooLarge', `the WWW-Authenticate header from ${from} has ${out.length} challenges, more than the ${MAX_CHALLENGES} accepted`, { status: 401 })
  }
  return out
}

/**
 * Refuses a `WWW-Authenticate` header longer than {@link MAX_WWW_AUTHENTICATE_BYTES}, before anything
 * parses or stores it.
 * @param from who sent the header, for the error message.
 * @throws RegistryError `TooLarge` saying so.
 */
export function checkChallengeSize(header: string | readonly string[] | null | undefined, from: string): void {
  if (header === null || header === undefined) return
  const length = typeof header === 'string' ? header.length : header.reduce((n, v) => n + v.length, 0)
  if (length > MAX_WWW_AUTHENTICATE_BYTES) {
    throw new RegistryError('TooLarge', `the WWW-Authenticate header from ${from} is ${length} bytes, more than the ${MAX_WWW_AUTHENTICATE_BYTES} accepted`, { status: 401 })
  }
}

class Parser {
  private pos = 0

  constructor(
    private readonly s: string,
    private readonly from: string,
  ) {}

  parse(): AuthChallenge[] {
    const out: AuthChallenge[] = []
    let current: AuthChallenge | undefined
    for (;;) {
      this.skipListSeparators()
      if (this.pos >= this.s.length) return out
      const token = this.match(TOKEN)
      if (token === undefined) {
        // Not a token where one must be: drop this list element and resynchronise at the next comma.
        if (!this.skipElement()) return out
        continue
      }
      const afterToken = this.pos
      this.skipSpace()
      if (this.peek() === '=' && current !== undefined) {
        // `name=value`: another parameter of the current challenge.
        this.pos++
        this.skipSpace()
        const value = this.value()
        if (value === undefined) return out // unterminated quoted string: the rest is unusable
        const name = token.toLowerCase()
        // Names are unique per challenge (RFC 7235 §2.2); the first wins, so a duplicate cannot override.
        // defineProperty, so that a hostile `__proto__=` becomes a plain entry instead of touching the prototype.
        if (!Object.hasOwn(current.params, name)) {
          if (Object.keys(current.params).length >= MAX_CHALLENGE_PARAMS) {
            throw new RegistryError('TooLarge', `a ${current.scheme} challenge in the WWW-Authenticate header from ${this.from} has more than the ${MAX_CHALLENGE_PARAMS} parameters accepted`, { status: 401 })
          }
          Object.defineProperty(current.params, name, { value, enumerable: true, writable: true, configurable: true })
        }
        if (!this.endOfElement()) return out
        continue
      }
      if (this.peek() === '=') {
        // A parameter before any scheme: not a challenge, skip it.
        if (!this.skipElement()) return out
        continue
      }
      current = { scheme: token.toLowerCase(), params: {} }
      out.push(current)
      // Checked as they come, so a header of thousands of bare tokens stops early.
      if (out.length > MAX_CHALLENGES) return out
      // Whitespace after the scheme may introduce a token68 instead of parameters.
      if (this.pos > afterToken && this.peek() !== ',' && this.pos < this.s.length) {
        // TOKEN68 only matches when the whole element is one, so `name=value` never does; when it does not
        // match, the position stays at the parameter name and the loop reads it.
        const token68 = this.match(TOKEN68)
        if (token68 !== undefined) current.token68 = token68
      }
    }
  }

  private value(): string | undefined {
    if (this.peek() === '"') return this.quoted()
    return this.match(LOOSE_VALUE) ?? ''
  }

  // quoted-string with quoted-pair escapes (RFC 7230 §3.2.6); undefined when the closing quote is missing.
  private quoted(): string | undefined {
    let out = ''
    for (let i = this.pos + 1; i < this.s.length; i++) {
      const c = this.s[i]
      if (c === '\\') {
        i++
        if (i < this.s.length) out += this.s[i]
        continue
      }
      if (c === '"') {
        this.pos = i + 1
        return out
      }
      out += c
    }
    this.pos = this.s.length
    return undefined
  }

  private match(re: RegExp): string | undefined {
    re.lastIndex = this.pos
    const m = re.exec(this.s)
    if (m === null) return undefined
    this.pos = re.lastIndex
    return m[0]
  }

  private peek(): string | undefined {
    return this.s[this.pos]
  }

  private skipSpace(): void {
    while (this.pos < this.s.length && (this.s[this.pos] === ' ' || this.s[this.pos] === '\t')) this.pos++
  }

  // Empty list elements (`a, , b`) are allowed by the list ABNF (RFC 7230 §7).
  private skipListSeparators(): void {
    while (this.pos < this.s.length && /[ \t,]/.test(this.s[this.pos] ?? '')) this.pos++
  }

  // After a complete element only whitespace and then a comma or the end may follow.
  private endOfElement(): boolean {
    this.skipSpace()
    if (this.pos >= this.s.length) return true
    if (this.s[this.pos] === ',') return true
    return this.skipElement()
  }

  // Skips to the next comma outside quotes; false when the input ends inside a quoted string.
  private skipElement(): boolean {
    while (this.pos < this.s.length) {
      const c = this.s[this.pos]
      if (c === ',') return true
      if (c === '"') {
        if (this.quoted() === undefined) return false
        continue
      }
      this.pos++
    }
    return true
  }
}
