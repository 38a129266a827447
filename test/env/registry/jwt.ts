/**
 * The JSON Web Tokens of the Docker registry token spec, signed RS256 with node:crypto, in the shape
 * distribution 2.8 (registry/auth/token/token.go) parses: `aud` is a single string there, so an array
 * would make every token "malformed".
 */

import { createHash, createSign, type KeyObject } from 'node:crypto'

/** One entry of the `access` claim: what the token allows on one resource. */
export interface ResourceActions {
  /** `repository` or `registry`. */
  readonly type: string
  /** Resource class, e.g. `plugin` in `repository(plugin):name:pull`; omitted when empty. */
  readonly class?: string
  /** Repository name, or `catalog` for `registry:catalog:*`. */
  readonly name: string
  /** Granted actions (`pull`, `push`, `delete`, `*`). */
  readonly actions: readonly string[]
}

/** The claim set distribution verifies. */
export interface TokenClaims {
  readonly iss: string
  readonly sub: string
  readonly aud: string
  readonly exp: number
  readonly nbf: number
  readonly iat: number
  readonly jti: string
  readonly access: readonly ResourceActions[]
}

/** The JOSE header: distribution tries `x5c`, then `jwk`, then `kid`, in that order. */
export interface TokenHeader {
  readonly typ: 'JWT'
  readonly alg: 'RS256'
  readonly kid?: string
  readonly x5c?: readonly string[]
}

/** Base64url without padding, as JOSE wants it. */
export function base64url(data: Buffer | string): string {
  return Buffer.from(data).toString('base64url')
}

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'

function base32(bytes: Buffer): string {
  let out = ''
  let bits = 0
  let value = 0
  for (const byte of bytes) {
    value = (value << 8) | byte
    bits += 8
    while (bits >= 5) {
      out += BASE32[(value >>> (bits - 5)) & 31]
      bits -= 5
    }
  }
  if (bits > 0) out += BASE32[(value << (5 - bits)) & 31]
  return out
}

/**
 * The libtrust key ID of a public key, which distribution uses as `kid` to look a key up among the
 * certificates of `rootcertbundle`: SHA-256 of the DER SubjectPublicKeyInfo, first 240 bits, base32
 * without padding, in groups of four joined by ':' (`ABCD:EFGH:…`, 12 groups).
 */
export function libtrustKeyId(publicKey: KeyObject): string {
  const der = publicKey.export({ type: 'spki', format: 'der' })
  const encoded = base32(createHash('sha256').update(der).digest().subarray(0, 30))
  return encoded.match(/.{1,4}/g)?.join(':') ?? ''
}

/** Signs `claims` with RS256 and returns the compact serialisation `header.claims.signature`. */
export function signJwt(header: TokenHeader, claims: TokenClaims, privateKey: KeyObject): string {
  const signingInput = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(claims))}`
  const signature = createSign('RSA-SHA256').update(signingInput).sign(privateKey)
  return `${signingInput}.${base64url(signature)}`
}

/** Decodes a token's header and claims without verifying anything; for assertions in tests. */
export function decodeJwt(token: string): { readonly header: TokenHeader; readonly claims: TokenClaims } {
  const [header, claims] = token.split('.')
  if (header === undefined || claims === undefined) throw new Error('not a JWT')
  return {
    header: JSON.parse(Buffer.from(header, 'base64url').toString('utf8')) as TokenHeader,
    claims: JSON.parse(Buffer.from(claims, 'base64url').toString('utf8')) as TokenClaims,
  }
}
