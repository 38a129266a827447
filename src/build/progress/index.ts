// The progress side of a BuildKit build: the domain types of the Control.Status stream, the tracker that
// merges it and keeps the last log lines, the error of a failed build, and a buildctl-style plain renderer.
// Named exports only; the internal helpers of these modules stay out.
export type {
  BuildLog,
  BuildLogEvent,
  BuildLogStream,
  BuildProgressEvent,
  BuildProgressListener,
  BuildVertex,
  BuildVertexEvent,
  BuildVertexStatus,
  BuildWarning,
  BuildWarningEvent,
} from './build-progress.js'
export { toProgressEvents } from './build-progress.js'
export { BuildProgressTracker, type BuildProgressTrackerOptions } from './progress-tracker.js'
export { BuildError, buildErrorFrom, type BuildErrorOptions } from './build-error.js'
export { createPlainRenderer } from './plain-renderer.js'
