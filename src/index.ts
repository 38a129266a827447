// The public entry point of `containerd-sdk`: named exports only (no barrels), so what is public is
// exactly what is listed here.
export { Client } from './sdk/client.js'
export { ClientCore, DEFAULT_SNAPSHOTTER, type ServerVersion } from './client/client.js'
export type { ConnectOptions } from './client/client-options.js'
export { DEFAULT_ADDRESS, DEFAULT_NAMESPACE } from './client/address.js'
export type { CallOptions } from './grpc/call-options.js'
export {
  ContainerdError,
  NotFoundError,
  AlreadyExistsError,
  InvalidArgumentError,
  FailedPreconditionError,
  ConflictError,
  NotModifiedError,
  UnavailableError,
  CanceledError,
  DeadlineExceededError,
  PermissionDeniedError,
  UnauthenticatedError,
  ResourceExhaustedError,
  AbortedError,
  OutOfRangeError,
  NotImplementedError,
  InternalError,
  DataLossError,
  UnknownError,
  GrpcCode,
  isContainerdError,
  type ErrorCode,
  type ContainerdErrorOptions,
} from './grpc/errors.js'
export { validateIdentifier } from './client/identifiers.js'
export type { NamespaceInfo, NamespaceStore, SetLabelsOptions } from './client/namespaces.js'
export type { Introspection, PluginInfo, PluginInitError, PluginsOptions, Platform, ServerInfo, DeprecationWarning } from './client/introspection.js'
export {
  LEASE_EXPIRE_LABEL,
  type Lease,
  type LeaseInfo,
  type LeaseManager,
  type LeaseResource,
  type CreateLeaseOptions,
  type DeleteLeaseOptions,
  type WithLeaseOptions,
} from './client/leases/lease-manager.js'
export { currentLease, runWithLease } from './client/lease-context.js'
export type { ContentStore, ContentInfo, IngestStatus, ReadOptions, WriteBlobOptions, BlobSource } from './client/content/content-store.js'
export { WRITE_CHUNK_BYTES, type ContentWriter, type ContentWriterOptions, type CommitOptions } from './client/content/content-writer.js'
export { validateDigest, type Digest } from './client/content/digest.js'
export type { SnapshotStore, SnapshotInfo, SnapshotKind, SnapshotUsage, SnapshotCreateOptions, Mount } from './client/snapshots/snapshot-store.js'
export type { EventPayloads } from './client/events/event-payloads.js'
export { decodeEvent, type ContainerdEvent, type KnownEvent, type TypedEvent, type UnknownEvent, type RawEventPayload, type EventsOptions } from './client/events/events.js'
export type { Services } from './client/services.js'
export type {
  ServiceClient,
  UnaryFn,
  ServerStreamingFn,
  ClientStreamingFn,
  BiDiStreamingFn,
} from './grpc/service-client.js'
export { Image, type PlatformOptions, type PlatformManifest, type ImageSize } from './images/image.js'
export type { ListImagesOptions, RemoveImageOptions } from './images/image-store.js'
export type { PullOptions } from './images/pull.js'
export type { PullProgressEvent, PullProgressListener, PullProgressStatus } from './images/progress.js'
export { createProgressRenderer, formatBytes, type ProgressRenderer, type ProgressRendererOptions } from './images/progress-renderer.js'
export {
  parseReference,
  familiarName,
  familiarString,
  formatReference,
  withTag,
  withDigest,
  type ImageReference,
  type ParseReferenceOptions,
  type ReferenceParts,
} from './image-spec/reference.js'
export { hostPlatform, parsePlatform, formatPlatform, platformMatches, type PlatformSpec } from './image-spec/platform.js'
export { MediaTypes } from './image-spec/media-types.js'
export type { ImageConfig, ImageRuntimeConfig, ImageHealthcheck, ImageHistoryEntry, ImageRootfs } from './image-spec/image-config.js'
export type { ImageIndex } from './image-spec/image-index.js'
export type { ImageManifest } from './image-spec/manifest.js'
export { RegistryError, isRegistryError, type RegistryErrorCode, type RegistryErrorOptions } from './registry/registry-error.js'
export type { RegistryCredentials, CredentialsProvider, PasswordCredentials, IdentityTokenCredentials } from './registry/credentials.js'
export type { RegistryEndpoint } from './registry/registry-client.js'
export type { OciDescriptor, DescriptorPlatform } from './image-spec/descriptor.js'
export type { TlsSettings } from './registry/http-request.js'
export { registryEndpoints, dockerConfigCredentials, type RegistryOptions } from './registry/registry-access.js'
export { login, logout, type LoginOptions } from './registry/login.js'
export type { DockerImageInspect } from './images/image-inspect.js'
export type { MountImageOptions } from './images/image-mount.js'
export type { PruneImagesOptions } from './images/image-prune.js'
export type { PushOptions, PushedImage } from './images/push.js'
export type { PushProgressEvent, PushProgressListener, PushProgressStatus } from './images/push-progress.js'
export { ArchiveError, type ArchiveErrorReason } from './images/archive/archive-error.js'
export type { ImportImagesOptions, ImportedImage } from './images/archive/import-images.js'
export type { ExportImagesOptions, ExportResult, ExportedImage } from './images/archive/export-images.js'
export { Container, type ContainerInfo, type NewTaskOptions, type DeleteContainerOptions, type LoadTaskOptions } from './containers/container.js'
export { STOP_SIGNAL_LABEL, STOP_TIMEOUT_LABEL, DEFAULT_STOP_TIMEOUT_SECONDS, type StopContainerOptions } from './docker/container-stop.js'
export type { UpdateContainerOptions, ImageName } from './containers/container-update.js'
export type { JsonFileStdio } from './logs/json-file-stdio.js'
export { DEFAULT_DATA_ROOT, dataStorePath, containerStateDir, jsonLogPath } from './nerdctl/data-store.js'
// nerdctl-compatible metadata: ids, names, labels, state dirs, inspect and ps.
export { generateContainerId, isContainerId, shortContainerId } from './nerdctl/container-id.js'
export { NameStore, validateContainerName, type AcquireNameOptions } from './nerdctl/name-store.js'
export { withDirLock, DEFAULT_LOCK_TIMEOUT_MS, type DirLockOptions } from './nerdctl/dir-lock.js'
export {
  nerdctlLabels,
  withNerdctlAnnotations,
  checkUserLabels,
  defaultContainerName,
  mountLabels,
  NerdctlLabel,
  type NerdctlLabelInput,
  type PortMapping,
  type MountPoint,
  type NerdctlLogConfig,
} from './nerdctl/labels.js'
export { createStateDir, removeStateDir, withHostnameFile, recordStarted, readLifecycle, type CreateStateDirOptions, type Lifecycle } from './nerdctl/state-dir.js'
export { inspectContainer, buildContainerInspect, type ContainerInspect, type PortBinding, type DockerContainerStatus } from './docker/container-inspect.js'
export { listContainerRows, buildContainerRow, formatPorts, type ContainerRow, type ContainerRowOptions, type ListContainerRowsOptions } from './docker/container-rows.js'
export { readContainerSnapshot, type ContainerSnapshot, type TaskState, type StateDirFiles } from './docker/container-state.js'
export { resolveContainerId } from './nerdctl/container-lookup.js'
export {
  RESTART_LABELS,
  parseRestartPolicy,
  formatRestartPolicy,
  restartSupport,
  checkRestartPolicy,
  restartLabels,
  readRestartState,
  markRestartStarting,
  markRestartRunning,
  markRestartStopping,
  markRestartStopped,
  updateRestartPolicy,
  type RestartPolicy,
  type RestartPolicyName,
  type ParsedRestartPolicy,
  type RestartSupport,
  type RestartLabelsOptions,
  type RestartState,
} from './containers/restart-policy.js'
export type { LogsOptions } from './sdk/client-options.js'
export type { RunOptions, RunStdio, RunStreams, PullPolicy, NetworkMode } from './run/run-options.js'
export type { LogEntry, LogStream } from './logs/log-entry.js'
export { parseLogTime, type LogTime } from './logs/log-time.js'
export { waitForLoggerDrain, type WaitForLoggerDrainOptions } from './logs/logger-drain.js'
export { readLogs, type ReadLogsOptions, type LogLocation } from './logs/log-reader.js'
export { containerLogs, type ContainerLogsOptions } from './logs/container-logs.js'
export { jsonFileLogUri, JSON_FILE_LOGGER_PATH, type JsonFileLogUriOptions } from './logs/logger-uri.js'
export { startBinaryLogger, binaryLoggerCommand, type BinaryLogger, type BinaryLoggerCommand, type StartBinaryLoggerOptions } from './logs/binary-logger.js'
export { prepareJsonFileLog, LOG_CONFIG_FILE, type JsonFileLogOptions, type JsonFileLogPaths, type PrepareJsonFileLogOptions } from './logs/log-config.js'
export type { DetachedRun, CompletedRun } from './run/run.js'
export { DEFAULT_RUNTIME, type CreateContainerOptions } from './containers/create-container.js'
export { runtimeChoice, type RuntimeChoice } from './containers/runtime-choice.js'
export type { ContainerSpecOptions } from './containers/container-spec.js'
export { Task, type TaskStatus, type DeleteTaskOptions } from './tasks/task.js'
export { ProcessHandle, type ExitStatus, type KillOptions } from './tasks/process-handle.js'
export type { TaskStdio, LogFileStdio, LogUriStdio, TerminalStdio, StreamsStdio, ProcessStreams } from './tasks/task-io.js'
export {
  decodeTaskMetric,
  CGROUP_V1_METRICS_TYPE,
  CGROUP_V2_METRICS_TYPE,
  type TaskMetrics,
  type CpuMetrics,
  type MemoryMetrics,
  type PidsMetrics,
  type BlkioMetrics,
  type BlkioDeviceMetrics,
  type RawTaskMetrics,
  type RawCgroupV1Metrics,
  type RawCgroupV2Metrics,
} from './tasks/task-metrics.js'
export { LINUX_RESOURCES_TYPE_URL, type ResourceLimits, type UpdateTaskOptions } from './tasks/task-update.js'
export { signalNumber, type SignalInput } from './tasks/signals.js'
export { ExecProcess, type ExecOptions, type ExecOutput } from './tasks/exec-process.js'
// OCI runtime-spec options for `createContainer({ specOptions })`.
export type { Spec } from './oci/runtime-spec.js'
export { applySpecOptions, composeSpecOptions, type SpecOption } from './oci/spec-options.js'
export { defaultLinuxSpec, defaultMounts, DEFAULT_CAPABILITIES } from './oci/default-spec.js'
export { withProcessArgs, withProcessCwd, withEnv, withEnvFile, withDefaultPathEnv, withOomScoreAdj, withInit, INIT_PATH } from './oci/process-options.js'
export { withUser, withGroupAdd } from './oci/user-options.js'
export {
  withMemory,
  withMemorySwap,
  withMemoryReservation,
  withCpus,
  withCpuShares,
  withCpusetCpus,
  withCpusetMems,
  withPidsLimit,
  withBlkioWeight,
  withUlimits,
} from './oci/resource-options.js'
export { withCapabilities, withPrivileged, withDefaultSeccomp, withSeccompProfile, withSecurityOpt, withNoNewPrivileges, type SeccompSecurityOpt } from './oci/security-options.js'
export { specFlagOptions, type SpecFlags, type SpecFlagInputs, type Ulimit, type DeviceMapping, type MountSpec, type SecurityOpt } from './oci/spec-flags.js'
export { readSpecFlagInputs, INIT_BINARY_CANDIDATES } from './oci/spec-flag-inputs.js'
export type { BindMountSpec, TmpfsMountSpec, BindPropagation } from './oci/mount-spec.js'
export { withMount, withBindMount, withTmpfs, withShmSize, withReadonlyRootfs, withCgroupfsMount } from './oci/mount-options.js'
export { withTerminal } from './oci/terminal-option.js'
export { withHostNetwork, withNoNetwork } from './oci/network-mode.js'
export { withDevice } from './oci/device-options.js'
export { withHostname, withDomainname, withAnnotations, withSysctls, withCgroupsPath, withCgroupParent } from './oci/container-options.js'
