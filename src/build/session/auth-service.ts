/**
 * `moby.filesync.v1.Auth`: registry credentials for the daemon's pulls and pushes. Only `Credentials` is
 * served; `GetTokenAuthority` answers Unimplemented, which makes the daemon fetch registry tokens itself
 * with the credentials (BuildKit's fallback), and FetchToken/VerifyTokenAuthority are then never called.
 */

import { NotImplementedError } from '../../grpc/errors.js'
import { Auth } from '../../gen/moby/buildkit/session/auth/auth_pb.js'
import type { MethodHandler } from './grpc-handler.js'
import { methodPath, unaryHandler } from './proto-handler.js'

/** A registry login: a username and password, or an identity token (username "", secret = the token). */
export interface RegistryCredentials {
  /** The user name; "" with an identity token. */
  username: string
  /** The password or identity token. */
  secret: string
}

/**
 * Looks up the login for a registry host as the daemon names it (`registry-1.docker.io` for Docker Hub,
 * whose credentials are usually stored under `https://index.docker.io/v1/`). `undefined` = anonymous.
 */
export type CredentialsCallback = (host: string, signal: AbortSignal) => Promise<RegistryCredentials | undefined>

/** The auth service's handlers, by method path. Without a callback every host is anonymous. */
export function authMethods(credentials?: CredentialsCallback): [string, MethodHandler][] {
  const credentialsHandler = unaryHandler(Auth.method.credentials, async (request, call) => {
    const found = credentials === undefined ? undefined : await credentials(request.Host, call.signal)
    // An empty answer is how BuildKit's own client says "no credentials for this host".
    return found === undefined ? {} : { Username: found.username, Secret: found.secret }
  })
  const getTokenAuthority = unaryHandler(Auth.method.getTokenAuthority, () =>
    Promise.reject(new NotImplementedError('token authority is not provided by this client')),
  )
  return [
    [methodPath(Auth.method.credentials), credentialsHandler],
    [methodPath(Auth.method.getTokenAuthority), getTokenAuthority],
  ]
}
