// The `containerd-sdk/build` entry point: the BuildKit handle (`BuildKit.connect()`: info, workers, disk
// usage, prune; pass it to `client.build({ builder })` to reuse one connection) and a plain-text progress
// renderer like buildctl's `--progress=plain`. `client.build()` itself, its options and `BuildError` come
// from `containerd-sdk`. Named exports only.
export { BuildKit, type BuildKitConnectOptions, type BuildKitDiskUsageOptions, type BuildKitPruneOptions } from './buildkit.js'
export type { BuildKitInfo, BuildKitWorker, BuildKitUsageRecord } from './buildkit-records.js'
export { createPlainRenderer } from './progress/plain-renderer.js'
export type { BuildOptions, BuildOutput, BuildSecret } from './build-options.js'
export type { BuildCacheEntry, BuildCacheSpec } from './build-cache.js'
export type { BuildResult } from './build-image.js'
export type {
  BuildProgressEvent,
  BuildVertexEvent,
  BuildLogEvent,
  BuildWarningEvent,
  BuildVertex,
  BuildVertexStatus,
  BuildLog,
  BuildLogStream,
  BuildWarning,
} from './progress/build-progress.js'
