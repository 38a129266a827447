// `containerd-sdk/testing`: start private daemons for tests, demos and benchmarks.
export { startContainerd, type ContainerdDaemon, type StartContainerdOptions } from './containerd-daemon.js'
export {
  findContainerd,
  containerdCacheDir,
  parseContainerdLines,
  type ContainerdBinary,
  type ContainerdLine,
} from './containerd-binaries.js'
export { renderContainerdConfig, type ContainerdPaths, type ContainerdConfigOptions } from './containerd-config.js'
export { writeBusyboxImageArchive, type BusyboxArchiveOptions } from './busybox-archive.js'
