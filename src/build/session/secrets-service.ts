/**
 * `moby.buildkit.secrets.v1.Secrets/GetSecret`: the values of `RUN --mount=type=secret` mounts, from a
 * map the caller gives. A missing ID is NotFound, which BuildKit reports as "secret not found" (or skips,
 * for a mount marked `required=false`).
 */

import { NotFoundError } from '../../grpc/errors.js'
import { Secrets } from '../../gen/moby/buildkit/session/secrets/secrets_pb.js'
import type { MethodHandler } from './grpc-handler.js'
import { methodPath, unaryHandler } from './proto-handler.js'

/** Secret values by ID. */
export type SecretMap = ReadonlyMap<string, Uint8Array>

/** The secrets service's handlers, by method path. */
export function secretsMethods(secrets: SecretMap): [string, MethodHandler][] {
  const getSecret = unaryHandler(Secrets.method.getSecret, (request) => {
    const data = secrets.get(request.ID)
    // The ID is the caller's own name, not secret itself; the value never goes into a message.
    if (data === undefined) return Promise.reject(new NotFoundError(`secret ${JSON.stringify(request.ID)} not found`))
    return Promise.resolve({ data })
  })
  return [[methodPath(Secrets.method.getSecret), getSecret]]
}
