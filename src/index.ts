// The public entry point of `containerd-sdk`: named exports only (no barrels), so what is public is
// exactly what is listed here. Internal helpers stay in their modules; the API report
// (etc/containerd-sdk.api.md) records this surface and CI fails when it changes unrecorded.

// The client: connection, namespace views, core stores, headline verbs.
export { Client } from './sdk/client.js'
export type { LogsOptions } from './sdk/client-options.js'
export { ClientCore, type ServerVersion } from './client/client.js'
export type { ConnectOptions } from './client/client-options.js'
export type { NetworkSettings, NetworkProvider, NetworkContext, NetworkAttachment } from './client/network-provider.js'
export { DEFAULT_ADDRESS, DEFAULT_NAMESPACE } from './client/address.js'
export type { CallOptions } from './grpc/call-options.js'
export type { NamespaceInfo, NamespaceStore, SetLabelsOptions } from './client/namespaces.js'
export type { Introspection, PluginInfo, PluginInitError, PluginsOptions, Platform, ServerInfo, DeprecationWarning } from './client/introspection.js'
export type { Lease, LeaseInfo, LeaseManager, LeaseResource, CreateLeaseOptions, DeleteLeaseOptions, WithLeaseOptions, CreateRenewingLeaseOptions, RenewingLease } from './client/leases/lease-manager.js'
export type { ContentStore, ContentInfo, IngestStatus, ReadOptions, WriteBlobOptions, BlobSource } from './client/content/content-store.js'
export type { ContentWriter, ContentWriterOptions, CommitOptions } from './client/content/content-writer.js'
export type { Digest } from './client/content/digest.js'
export type { SnapshotStore, SnapshotInfo, SnapshotKind, SnapshotUsage, SnapshotCreateOptions, Mount } from './client/snapshots/snapshot-store.js'
export type { EventPayloads } from './client/events/event-payloads.js'
export type { ContainerdEvent, KnownEvent, TypedEvent, UnknownEvent, RawEventPayload, EventsOptions } from './client/events/events.js'
export type { Services } from './client/services.js'
export type { ServiceClient, UnaryFn, ServerStreamingFn, ClientStreamingFn, BiDiStreamingFn } from './grpc/service-client.js'

// Errors: one base class with a code, a subclass per containerd errdef, and the registry's and archives'.
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
export { RegistryError, isRegistryError, type RegistryErrorCode, type RegistryErrorOptions } from './registry/registry-error.js'
export { ArchiveError, type ArchiveErrorReason } from './images/archive/archive-error.js'

// Images: the store, the handle, pull and push, archives, progress.
export { ImageStore, type ListImagesOptions, type RemoveImageOptions } from './images/image-store.js'
export { Image, type PlatformOptions, type PlatformManifest, type ImageSize } from './images/image.js'
export type { ImageView } from './images/image-view.js'
export type { PullOptions } from './images/pull.js'
export type { PullProgressEvent, PullProgressListener, PullProgressStatus } from './images/progress.js'
export { createProgressRenderer, type ProgressRenderer, type ProgressRendererOptions } from './images/progress-renderer.js'
export type { DockerImageInspect } from './images/image-inspect.js'
export type { MountImageOptions } from './images/image-mount.js'
export type { PruneImagesOptions } from './images/image-prune.js'
export type { PushOptions, PushedImage } from './images/push.js'
export type { PushProgressEvent, PushProgressListener, PushProgressStatus } from './images/push-progress.js'
export type { ImportImagesOptions, ImportedImage } from './images/archive/import-images.js'
export type { ExportImagesOptions, ExportResult, ExportedImage } from './images/archive/export-images.js'

// The OCI image model.
export { parseReference, familiarName, type ImageReference, type ParseReferenceOptions } from './image-spec/reference.js'
export { hostPlatform, parsePlatform, formatPlatform, type PlatformSpec } from './image-spec/platform.js'
export { MediaTypes } from './image-spec/media-types.js'
export type { ImageConfig, ImageRuntimeConfig, ImageHealthcheck, ImageHistoryEntry, ImageRootfs } from './image-spec/image-config.js'
export type { ImageIndex } from './image-spec/image-index.js'
export type { ImageManifest } from './image-spec/manifest.js'
export type { OciDescriptor, DescriptorPlatform } from './image-spec/descriptor.js'

// Registries: credentials, login.
export type { RegistryCredentials, CredentialsProvider, PasswordCredentials, IdentityTokenCredentials } from './registry/credentials.js'
export type { RegistryEndpoint } from './registry/registry-client.js'
export type { TlsSettings } from './registry/http-request.js'
export type { RegistryOptions } from './registry/registry-access.js'
export { login, logout, type LoginOptions } from './registry/login.js'

// Containers: the store, the handle (containerd's verbs and Docker's), docker views.
export { ContainerStore, type ListContainersOptions } from './docker/container-store.js'
export { Container, type NewTaskOptions } from './docker/container.js'
export { ContainerdContainer, type ContainerInfo, type CreateTaskOptions, type DeleteContainerOptions, type LoadTaskOptions } from './containers/container.js'
export type { CreateContainerOptions } from './containers/create-container.js'
export type { ContainerSpecOptions } from './containers/container-spec.js'
export type { UpdateContainerOptions, ImageName } from './containers/container-update.js'
export type { RestartPolicy, RestartPolicyName, RestartSupport } from './containers/restart-policy.js'
export type { StopContainerOptions } from './docker/container-stop.js'
export type { RemoveContainerOptions } from './docker/container-remove.js'
export type { ContainerInspect, PortBinding, DockerContainerStatus, ContainerNetworkSettings, EndpointSettings } from './docker/container-inspect.js'
export type { ContainerRow, ContainerRowOptions, ListContainerRowsOptions } from './docker/container-rows.js'
export type { PortMapping, MountPoint, NerdctlLogConfig } from './nerdctl/labels.js'
export type { JsonFileStdio } from './docker/json-file-stdio.js'
export type { JsonFileLogOptions } from './logs/log-config.js'
export type { LogEntry, LogStream } from './logs/log-entry.js'
export type { LogTime } from './logs/log-time.js'

// Networks and volumes.
export { NetworkStore, type NetworkInfo, type NetworkInspect, type NetworkContainer, type NetworkIpam, type NetworkIpamConfig } from './network/network-manager.js'
export type { NetworkCreateOptions } from './network/network-config-builder.js'
export type { NetworkDriver, NetworkSubnet } from './network/network-record.js'
export { CniError, type CniCommand, type CniErrorOptions } from './network/cni/cni-error.js'
export { VolumeStore, type CreateVolumeOptions, type InspectVolumeOptions, type ListVolumesOptions, type PruneVolumesOptions } from './volumes/volume-manager.js'
export type { VolumeInfo } from './volumes/volume-store.js'

// Builds: client.build() (the BuildKit handle and the plain renderer are in `containerd-sdk/build` too).
export { BuildKit, type BuildKitConnectOptions, type BuildKitDiskUsageOptions, type BuildKitPruneOptions } from './build/buildkit.js'
export type { BuildKitInfo, BuildKitWorker, BuildKitUsageRecord } from './build/buildkit-records.js'
export type { BuildOptions, BuildOutput, BuildSecret } from './build/build-options.js'
export type { BuildCacheEntry, BuildCacheSpec } from './build/build-cache.js'
export type { BuildResult } from './build/build-image.js'
export { BuildError, type BuildErrorOptions } from './build/progress/build-error.js'
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
} from './build/progress/build-progress.js'

// run(): nerdctl run.
export { DetachedRun, type CompletedRun } from './run/run.js'
export type { RunOptions, RunStdio, RunStreams, PullPolicy, NetworkMode } from './run/run-options.js'

// Tasks and processes.
export { Task, type TaskStatus, type DeleteTaskOptions } from './tasks/task.js'
export { ProcessHandle, type ExitStatus, type KillOptions } from './tasks/process-handle.js'
export type { TaskStdio, LogFileStdio, LogUriStdio, TerminalStdio, StreamsStdio, ProcessStreams } from './tasks/task-io.js'
export { ExecProcess, type ExecOptions, type ExecOutput, type ExecOutputOptions } from './tasks/exec-process.js'
export type { SignalInput } from './tasks/signals.js'
export type {
  TaskMetrics,
  CpuMetrics,
  MemoryMetrics,
  PidsMetrics,
  BlkioMetrics,
  BlkioDeviceMetrics,
  RawTaskMetrics,
  RawCgroupV1Metrics,
  RawCgroupV2Metrics,
} from './tasks/task-metrics.js'
export type { ResourceLimits, UpdateTaskOptions } from './tasks/task-update.js'

// OCI runtime spec: the types a spec mutator (`specOptions`) works on.
export type { Spec } from './oci/runtime-spec.js'
export type { SpecOption } from './oci/spec-options.js'
export type { SpecFlags, Ulimit, DeviceMapping, MountSpec, SecurityOpt } from './oci/spec-flags.js'
export type { EnvInput } from './oci/environment.js'
export type { BindMountSpec, TmpfsMountSpec, BindPropagation } from './oci/mount-spec.js'
