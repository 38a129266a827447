/**
 * `grpc.health.v1.Health/Check`, always SERVING. BuildKit health-checks the session right after it
 * attaches and then periodically; on v0.8 (dockerd 20.10) the first failed check kills the session, so
 * this service is not optional.
 */

import { HealthCheckResponse_ServingStatus, Health } from '../../gen/grpc/health/v1/health_pb.js'
import type { MethodHandler } from './grpc-handler.js'
import { methodPath, unaryHandler } from './proto-handler.js'

/** The health service's handlers, by method path. */
export function healthMethods(): [string, MethodHandler][] {
  // Every service name is reported SERVING: the daemon asks with an empty name, and a session that is
  // answering at all serves what it advertised.
  const check = unaryHandler(Health.method.check, () => Promise.resolve({ status: HealthCheckResponse_ServingStatus.SERVING }))
  return [[methodPath(Health.method.check), check]]
}
