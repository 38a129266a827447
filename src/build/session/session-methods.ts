/**
 * The method table of one session: health always, the others as the caller supplies what they serve.
 * The table's keys are also the `x-docker-expose-session-grpc-method` list the daemon checks FileSync
 * against ("no local sources enabled" when DiffCopy is missing).
 */

import { authMethods, type CredentialsCallback } from './auth-service.js'
import { fileSendMethods, type ExportTargets } from './filesend-service.js'
import { fileSyncMethods, type LocalDirs } from './filesync-service.js'
import type { MethodHandler } from './grpc-handler.js'
import { healthMethods } from './health-service.js'
import { secretsMethods, type SecretMap } from './secrets-service.js'
import { sshMethods, type SshAgents } from './ssh-service.js'

/** What a session serves. */
export interface SessionServices {
  /** Local directories by name; FileSync is served when given. */
  locals?: LocalDirs
  /** Secrets by ID; Secrets is served when given (otherwise the daemon gets Unimplemented = no secrets). */
  secrets?: SecretMap
  /** Registry credentials; Auth is always served (anonymous without a callback), as buildx does. */
  credentials?: CredentialsCallback
  /**
   * Where exporters send their output, by exporter id (the index in `SolveRequest.Exporters`); FileSend
   * is served when given (the daemon checks it is advertised before a `local`/`tar`/`oci`/`docker` export).
   */
  exports?: ExportTargets
  /**
   * ssh-agents by id (`default` for a mount that names none); SSH is served when given (otherwise the
   * daemon gets Unimplemented, and a `RUN --mount=type=ssh` step that requires its agent fails).
   */
  ssh?: SshAgents
}

/** The handlers for `services`, by method path. */
export function sessionMethods(services: SessionServices): Map<string, MethodHandler> {
  const methods = new Map<string, MethodHandler>(healthMethods())
  for (const [path, handler] of authMethods(services.credentials)) methods.set(path, handler)
  if (services.locals !== undefined) for (const [path, handler] of fileSyncMethods(services.locals)) methods.set(path, handler)
  if (services.exports !== undefined) for (const [path, handler] of fileSendMethods(services.exports)) methods.set(path, handler)
  if (services.secrets !== undefined) for (const [path, handler] of secretsMethods(services.secrets)) methods.set(path, handler)
  if (services.ssh !== undefined) for (const [path, handler] of sshMethods(services.ssh)) methods.set(path, handler)
  return methods
}
