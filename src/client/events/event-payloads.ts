/**
 * The event payloads containerd publishes, keyed by the type name carried in the envelope's Any.
 * Payload types are the generated messages: plain objects (timestamps as protobuf Timestamps).
 */

import { ContainerCreateSchema, ContainerUpdateSchema, ContainerDeleteSchema, type ContainerCreate, type ContainerUpdate, type ContainerDelete } from '../../gen/containerd/events/container_pb.js'
import { ContentCreateSchema, ContentDeleteSchema, type ContentCreate, type ContentDelete } from '../../gen/containerd/events/content_pb.js'
import { ImageCreateSchema, ImageUpdateSchema, ImageDeleteSchema, type ImageCreate, type ImageUpdate, type ImageDelete } from '../../gen/containerd/events/image_pb.js'
import { NamespaceCreateSchema, NamespaceUpdateSchema, NamespaceDeleteSchema, type NamespaceCreate, type NamespaceUpdate, type NamespaceDelete } from '../../gen/containerd/events/namespace_pb.js'
import { SandboxCreateSchema, SandboxStartSchema, SandboxExitSchema, type SandboxCreate, type SandboxStart, type SandboxExit } from '../../gen/containerd/events/sandbox_pb.js'
import { SnapshotPrepareSchema, SnapshotCommitSchema, SnapshotRemoveSchema, type SnapshotPrepare, type SnapshotCommit, type SnapshotRemove } from '../../gen/containerd/events/snapshot_pb.js'
import { TaskCreateSchema, TaskStartSchema, TaskDeleteSchema, TaskIOSchema, TaskExitSchema, TaskOOMSchema, TaskExecAddedSchema, TaskExecStartedSchema, TaskPausedSchema, TaskResumedSchema, TaskCheckpointedSchema, type TaskCreate, type TaskStart, type TaskDelete, type TaskIO, type TaskExit, type TaskOOM, type TaskExecAdded, type TaskExecStarted, type TaskPaused, type TaskResumed, type TaskCheckpointed } from '../../gen/containerd/events/task_pb.js'

/** Every known event type name → its payload type. */
export interface EventPayloads {
  /** Payload of `ContainerCreate` events. */
  'containerd.events.ContainerCreate': ContainerCreate
  /** Payload of `ContainerUpdate` events. */
  'containerd.events.ContainerUpdate': ContainerUpdate
  /** Payload of `ContainerDelete` events. */
  'containerd.events.ContainerDelete': ContainerDelete
  /** Payload of `ContentCreate` events. */
  'containerd.events.ContentCreate': ContentCreate
  /** Payload of `ContentDelete` events. */
  'containerd.events.ContentDelete': ContentDelete
  /** Payload of `ImageCreate` events. */
  'containerd.services.images.v1.ImageCreate': ImageCreate
  /** Payload of `ImageUpdate` events. */
  'containerd.services.images.v1.ImageUpdate': ImageUpdate
  /** Payload of `ImageDelete` events. */
  'containerd.services.images.v1.ImageDelete': ImageDelete
  /** Payload of `NamespaceCreate` events. */
  'containerd.events.NamespaceCreate': NamespaceCreate
  /** Payload of `NamespaceUpdate` events. */
  'containerd.events.NamespaceUpdate': NamespaceUpdate
  /** Payload of `NamespaceDelete` events. */
  'containerd.events.NamespaceDelete': NamespaceDelete
  /** Payload of `SandboxCreate` events. */
  'containerd.events.SandboxCreate': SandboxCreate
  /** Payload of `SandboxStart` events. */
  'containerd.events.SandboxStart': SandboxStart
  /** Payload of `SandboxExit` events. */
  'containerd.events.SandboxExit': SandboxExit
  /** Payload of `SnapshotPrepare` events. */
  'containerd.events.SnapshotPrepare': SnapshotPrepare
  /** Payload of `SnapshotCommit` events. */
  'containerd.events.SnapshotCommit': SnapshotCommit
  /** Payload of `SnapshotRemove` events. */
  'containerd.events.SnapshotRemove': SnapshotRemove
  /** Payload of `TaskCreate` events. */
  'containerd.events.TaskCreate': TaskCreate
  /** Payload of `TaskStart` events. */
  'containerd.events.TaskStart': TaskStart
  /** Payload of `TaskDelete` events. */
  'containerd.events.TaskDelete': TaskDelete
  /** Payload of `TaskIO` events. */
  'containerd.events.TaskIO': TaskIO
  /** Payload of `TaskExit` events. */
  'containerd.events.TaskExit': TaskExit
  /** Payload of `TaskOOM` events. */
  'containerd.events.TaskOOM': TaskOOM
  /** Payload of `TaskExecAdded` events. */
  'containerd.events.TaskExecAdded': TaskExecAdded
  /** Payload of `TaskExecStarted` events. */
  'containerd.events.TaskExecStarted': TaskExecStarted
  /** Payload of `TaskPaused` events. */
  'containerd.events.TaskPaused': TaskPaused
  /** Payload of `TaskResumed` events. */
  'containerd.events.TaskResumed': TaskResumed
  /** Payload of `TaskCheckpointed` events. */
  'containerd.events.TaskCheckpointed': TaskCheckpointed
}

/** The schemas used to decode payloads, in the same order. */
export const EVENT_SCHEMAS = [
  ContainerCreateSchema, ContainerUpdateSchema, ContainerDeleteSchema,
  ContentCreateSchema, ContentDeleteSchema,
  ImageCreateSchema, ImageUpdateSchema, ImageDeleteSchema,
  NamespaceCreateSchema, NamespaceUpdateSchema, NamespaceDeleteSchema,
  SandboxCreateSchema, SandboxStartSchema, SandboxExitSchema,
  SnapshotPrepareSchema, SnapshotCommitSchema, SnapshotRemoveSchema,
  TaskCreateSchema, TaskStartSchema, TaskDeleteSchema, TaskIOSchema, TaskExitSchema, TaskOOMSchema, TaskExecAddedSchema, TaskExecStartedSchema, TaskPausedSchema, TaskResumedSchema, TaskCheckpointedSchema,
] as const

export type {
  ContainerCreate,
  ContainerUpdate,
  ContainerDelete,
  ContentCreate,
  ContentDelete,
  ImageCreate,
  ImageUpdate,
  ImageDelete,
  NamespaceCreate,
  NamespaceUpdate,
  NamespaceDelete,
  SandboxCreate,
  SandboxStart,
  SandboxExit,
  SnapshotPrepare,
  SnapshotCommit,
  SnapshotRemove,
  TaskCreate,
  TaskStart,
  TaskDelete,
  TaskIO,
  TaskExit,
  TaskOOM,
  TaskExecAdded,
  TaskExecStarted,
  TaskPaused,
  TaskResumed,
  TaskCheckpointed,
}
