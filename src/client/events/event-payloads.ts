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
  'containerd.events.ContainerCreate': ContainerCreate
  'containerd.events.ContainerUpdate': ContainerUpdate
  'containerd.events.ContainerDelete': ContainerDelete
  'containerd.events.ContentCreate': ContentCreate
  'containerd.events.ContentDelete': ContentDelete
  'containerd.services.images.v1.ImageCreate': ImageCreate
  'containerd.services.images.v1.ImageUpdate': ImageUpdate
  'containerd.services.images.v1.ImageDelete': ImageDelete
  'containerd.events.NamespaceCreate': NamespaceCreate
  'containerd.events.NamespaceUpdate': NamespaceUpdate
  'containerd.events.NamespaceDelete': NamespaceDelete
  'containerd.events.SandboxCreate': SandboxCreate
  'containerd.events.SandboxStart': SandboxStart
  'containerd.events.SandboxExit': SandboxExit
  'containerd.events.SnapshotPrepare': SnapshotPrepare
  'containerd.events.SnapshotCommit': SnapshotCommit
  'containerd.events.SnapshotRemove': SnapshotRemove
  'containerd.events.TaskCreate': TaskCreate
  'containerd.events.TaskStart': TaskStart
  'containerd.events.TaskDelete': TaskDelete
  'containerd.events.TaskIO': TaskIO
  'containerd.events.TaskExit': TaskExit
  'containerd.events.TaskOOM': TaskOOM
  'containerd.events.TaskExecAdded': TaskExecAdded
  'containerd.events.TaskExecStarted': TaskExecStarted
  'containerd.events.TaskPaused': TaskPaused
  'containerd.events.TaskResumed': TaskResumed
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
