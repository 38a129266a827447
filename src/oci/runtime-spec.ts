/**
 * TypeScript types for the OCI runtime specification (`config.json`), version 1.3.
 *
 * Property names are the exact JSON names of the spec, so a `Spec` serialises straight into what runc and
 * containerd read (containerd carries it as JSON inside an `Any`). Optional properties are the ones the spec
 * marks `omitempty`: leave them out rather than setting them to `undefined`. The Linux parts are complete;
 * the other platforms are typed loosely because this SDK only builds Linux specs.
 *
 * Numbers: the spec's `uint64` fields go beyond JavaScript's safe integers. Values up to 2^53 are exact;
 * the one bigger value that matters, "unlimited" for an rlimit, is {@link RLIMIT_INFINITY} and is written out
 * exactly by `encodeSpec` (see `spec-json.ts`).
 */

/**
 * The runtime-spec version this layer writes into `ociVersion`. The types follow the newest spec, but
 * the version written is 1.1.0 (what containerd 1.7 writes): crun 1.8 (Debian bookworm) refuses any
 * version it does not know ("unknown version specified"), runc does not check, and the fields we fill
 * are all understood by 1.1 runtimes.
 */
export const OCI_RUNTIME_SPEC_VERSION = '1.1.0'

/** The whole container configuration. */
export interface Spec {
  /** Version of the runtime specification the bundle complies with, e.g. `1.3.0`. */
  ociVersion: string
  /** The container's first process. */
  process?: Process
  /** The container's root filesystem. */
  root?: Root
  /** The container's hostname (needs its own UTS namespace). */
  hostname?: string
  /** The container's NIS domain name (needs its own UTS namespace). */
  domainname?: string
  /** Extra mounts, made in order on top of the root filesystem. */
  mounts?: Mount[]
  /** Commands run at points of the container's lifecycle. */
  hooks?: Hooks
  /** Free-form metadata; keys should be reverse-domain names. */
  annotations?: Record<string, string>
  /** Linux-specific configuration. */
  linux?: Linux
  /** Solaris-specific configuration (not built by this SDK). */
  solaris?: Record<string, unknown>
  /** Windows-specific configuration (not built by this SDK). */
  windows?: Record<string, unknown>
  /** Configuration for virtual-machine-based runtimes (not built by this SDK). */
  vm?: Record<string, unknown>
  /** z/OS-specific configuration (not built by this SDK). */
  zos?: Record<string, unknown>
  /** FreeBSD-specific configuration (not built by this SDK). */
  freebsd?: Record<string, unknown>
}

/** The process to run in the container, or to exec into it. */
export interface Process {
  /** Attach a pseudo-terminal to the process. */
  terminal?: boolean
  /** The terminal size, when `terminal` is set. */
  consoleSize?: Box
  /** The user the process runs as. */
  user: User
  /** The executable and its arguments; `args[0]` is looked up in the container's `PATH`. */
  args?: string[]
  /** The full command line (Windows only). */
  commandLine?: string
  /** Environment, as `KEY=value` strings. */
  env?: string[]
  /** Working directory, absolute inside the container. */
  cwd: string
  /** Capability sets the process keeps. */
  capabilities?: LinuxCapabilities
  /** Resource limits (setrlimit) applied to the process. */
  rlimits?: POSIXRlimit[]
  /** Set `no_new_privs`, so setuid binaries and file capabilities cannot raise privileges. */
  noNewPrivileges?: boolean
  /** The AppArmor profile to run under; empty or absent means none. */
  apparmorProfile?: string
  /** The process's `oom_score_adj`, -1000 to 1000. */
  oomScoreAdj?: number
  /** Scheduling attributes (sched_setattr). */
  scheduler?: Scheduler
  /** The SELinux label to run under. */
  selinuxLabel?: string
  /** I/O priority (ioprio_set). */
  ioPriority?: LinuxIOPriority
  /** CPU affinity of processes exec'd into the container. */
  execCPUAffinity?: CPUAffinity
}

/** A rectangle, used for the terminal size. */
export interface Box {
  /** Rows. */
  height: number
  /** Columns. */
  width: number
}

/** The user and groups of a process. */
export interface User {
  /** User id. */
  uid: number
  /** Primary group id. */
  gid: number
  /** The process's umask. */
  umask?: number
  /** Supplementary group ids. */
  additionalGids?: number[]
  /** The user name (Windows only). */
  username?: string
}

/** Linux capability sets, each a list of names like `CAP_CHOWN`. */
export interface LinuxCapabilities {
  /** The bounding set: no capability outside it can ever be gained. */
  bounding?: string[]
  /** The effective set: what the kernel checks. */
  effective?: string[]
  /** The inheritable set, preserved across execve. */
  inheritable?: string[]
  /** The permitted set: the superset of effective. */
  permitted?: string[]
  /** The ambient set, kept across execve of unprivileged programs. */
  ambient?: string[]
}

/** One resource limit. */
export interface POSIXRlimit {
  /** The limit's name, e.g. `RLIMIT_NOFILE`. */
  type: string
  /** Hard limit; {@link RLIMIT_INFINITY} for unlimited. */
  hard: number
  /** Soft limit; {@link RLIMIT_INFINITY} for unlimited. */
  soft: number
}

/**
 * "Unlimited" for an rlimit: the spec's uint64 maximum, 2^64-1. A JavaScript number cannot hold it exactly
 * (it rounds to 2^64), so it is written out digit-exact only by `encodeSpec`.
 */
export const RLIMIT_INFINITY = 2 ** 64

/** Scheduler attributes (sched_setattr). */
export interface Scheduler {
  /** Policy, e.g. `SCHED_OTHER`, `SCHED_FIFO`. */
  policy: string
  /** Nice value. */
  nice?: number
  /** Static priority. */
  priority?: number
  /** Flags, e.g. `SCHED_FLAG_RESET_ON_FORK`. */
  flags?: string[]
  /** SCHED_DEADLINE runtime, nanoseconds. */
  runtime?: number
  /** SCHED_DEADLINE deadline, nanoseconds. */
  deadline?: number
  /** SCHED_DEADLINE period, nanoseconds. */
  period?: number
}

/** I/O priority. */
export interface LinuxIOPriority {
  /** `IOPRIO_CLASS_RT`, `IOPRIO_CLASS_BE` or `IOPRIO_CLASS_IDLE`. */
  class: 'IOPRIO_CLASS_RT' | 'IOPRIO_CLASS_BE' | 'IOPRIO_CLASS_IDLE'
  /** Priority within the class, 0 (highest) to 7. */
  priority: number
}

/** CPU affinity of exec'd processes, as cpu lists like `0-3,7`. */
export interface CPUAffinity {
  /** Affinity while the runtime sets the process up. */
  initial?: string
  /** Affinity once the process runs. */
  final?: string
}

/** The container's root filesystem. */
export interface Root {
  /** Path to the root filesystem, relative to the bundle (containerd uses `rootfs`). */
  path: string
  /** Mount the root filesystem read-only. */
  readonly?: boolean
}

/** One mount. */
export interface Mount {
  /** Absolute path inside the container. */
  destination: string
  /** Filesystem type (`proc`, `tmpfs`, `bind`, …). */
  type?: string
  /** Device name, host path for bind mounts, or a placeholder such as `tmpfs`. */
  source?: string
  /** fstab-style options (`ro`, `nosuid`, `rbind`, `size=65536k`, …). */
  options?: string[]
  /** uid mappings for an idmapped mount. */
  uidMappings?: LinuxIDMapping[]
  /** gid mappings for an idmapped mount. */
  gidMappings?: LinuxIDMapping[]
}

/** A command run at a lifecycle point. */
export interface Hook {
  /** Absolute path of the executable, on the host. */
  path: string
  /** Arguments, `args[0]` included. */
  args?: string[]
  /** Environment, as `KEY=value` strings. */
  env?: string[]
  /** Seconds before the hook is killed. */
  timeout?: number
}

/** Lifecycle hooks; each receives the container state on stdin. */
export interface Hooks {
  /** Deprecated: before pivot_root, in the runtime namespace. Use the create/start hooks. */
  prestart?: Hook[]
  /** After the container is created, before pivot_root, in the runtime namespace. */
  createRuntime?: Hook[]
  /** After the container is created, before pivot_root, in the container namespace. */
  createContainer?: Hook[]
  /** After start is called, before the process runs, in the container namespace. */
  startContainer?: Hook[]
  /** After the process has started, in the runtime namespace. */
  poststart?: Hook[]
  /** After the container is deleted, in the runtime namespace. */
  poststop?: Hook[]
}

/** Linux-specific configuration. */
export interface Linux {
  /** User-namespace uid mappings. */
  uidMappings?: LinuxIDMapping[]
  /** User-namespace gid mappings. */
  gidMappings?: LinuxIDMapping[]
  /** Kernel parameters set in the container's namespaces, e.g. `net.ipv4.ip_forward`. */
  sysctl?: Record<string, string>
  /** cgroup limits. */
  resources?: LinuxResources
  /** The cgroup path: `/a/b` under the cgroup root, or `slice:prefix:name` with the systemd driver. */
  cgroupsPath?: string
  /** Namespaces to create (no `path`) or join (`path`). */
  namespaces?: LinuxNamespace[]
  /** Device nodes to create in the container's `/dev`. */
  devices?: LinuxDevice[]
  /** Host network devices to move into the container's network namespace, keyed by host name. */
  netDevices?: Record<string, LinuxNetDevice>
  /** The seccomp filter. */
  seccomp?: LinuxSeccomp
  /** Propagation of the root mount: `shared`, `slave`, `private`, `rshared`, … */
  rootfsPropagation?: string
  /** Paths hidden from the container (a null device or empty tmpfs is mounted over them). */
  maskedPaths?: string[]
  /** Paths remounted read-only inside the container. */
  readonlyPaths?: string[]
  /** SELinux context of the container's mounts. */
  mountLabel?: string
  /** Intel RDT (resctrl) settings. */
  intelRdt?: LinuxIntelRdt
  /** NUMA memory policy (set_mempolicy). */
  memoryPolicy?: LinuxMemoryPolicy
  /** Execution domain (personality). */
  personality?: LinuxPersonality
  /** Clock offsets for a time namespace, keyed by `monotonic` or `boottime`. */
  timeOffsets?: Record<string, LinuxTimeOffset>
}

/** Linux namespace kinds. */
export type LinuxNamespaceType = 'pid' | 'network' | 'mount' | 'ipc' | 'uts' | 'user' | 'cgroup' | 'time'

/** One namespace to create or join. */
export interface LinuxNamespace {
  /** The kind of namespace. */
  type: LinuxNamespaceType
  /** An existing namespace to join, e.g. `/proc/1234/ns/net`; absent means a new one. */
  path?: string
}

/** A uid or gid range mapping. */
export interface LinuxIDMapping {
  /** First id inside the container. */
  containerID: number
  /** First id on the host. */
  hostID: number
  /** Number of ids mapped. */
  size: number
}

/** A clock offset for the time namespace. */
export interface LinuxTimeOffset {
  /** Seconds. */
  secs?: number
  /** Additional nanoseconds. */
  nanosecs?: number
}

/** cgroup limits. */
export interface LinuxResources {
  /** Device access rules, applied in order (the last matching rule wins). */
  devices?: LinuxDeviceCgroup[]
  /** Memory limits. */
  memory?: LinuxMemory
  /** CPU limits. */
  cpu?: LinuxCPU
  /** Process-count limit. */
  pids?: LinuxPids
  /** Block I/O weights and throttles. */
  blockIO?: LinuxBlockIO
  /** Huge page limits. */
  hugepageLimits?: LinuxHugepageLimit[]
  /** Network classid and priorities (cgroup v1). */
  network?: LinuxNetwork
  /** RDMA limits keyed by device name. */
  rdma?: Record<string, LinuxRdma>
  /** Raw cgroup v2 files, e.g. `{"memory.high": "1G"}`. */
  unified?: Record<string, string>
}

/** One device-cgroup rule. */
export interface LinuxDeviceCgroup {
  /** Allow (true) or deny (false). */
  allow: boolean
  /** `a` (all), `c` (char) or `b` (block); absent means all. */
  type?: string
  /** Major number; absent means all. */
  major?: number
  /** Minor number; absent means all. */
  minor?: number
  /** Any of `r`, `w`, `m` (mknod). */
  access?: string
}

/** A device node to create. */
export interface LinuxDevice {
  /** Path inside the container. */
  path: string
  /** `c`, `b`, `u` or `p`. */
  type: string
  /** Major number. */
  major: number
  /** Minor number. */
  minor: number
  /** Permission bits, e.g. 0o666. */
  fileMode?: number
  /** Owner uid. */
  uid?: number
  /** Owner gid. */
  gid?: number
}

/** A network device moved into the container. */
export interface LinuxNetDevice {
  /** The name inside the container; absent keeps the host name. */
  name?: string
}

/** Memory limits; byte counts. */
export interface LinuxMemory {
  /** Hard limit. */
  limit?: number
  /** Soft limit (reservation). */
  reservation?: number
  /** Memory plus swap limit; -1 for unlimited swap. */
  swap?: number
  /** Deprecated kernel memory limit (ignored on cgroup v2 and kernels ≥ 5.4). */
  kernel?: number
  /** Kernel TCP buffer limit. */
  kernelTCP?: number
  /** Swappiness, 0 to 100. */
  swappiness?: number
  /** Disable the OOM killer. */
  disableOOMKiller?: boolean
  /** Hierarchical accounting (cgroup v1). */
  useHierarchy?: boolean
  /** Refuse a new limit below current usage when updating. */
  checkBeforeUpdate?: boolean
}

/** CPU limits. */
export interface LinuxCPU {
  /** Relative weight (cgroup v1 shares; converted to a weight on v2). */
  shares?: number
  /** CFS quota in microseconds per period; -1 for none. */
  quota?: number
  /** Extra CFS burst in microseconds. */
  burst?: number
  /** CFS period in microseconds. */
  period?: number
  /** Real-time runtime in microseconds. */
  realtimeRuntime?: number
  /** Real-time period in microseconds. */
  realtimePeriod?: number
  /** cpuset CPUs, e.g. `0-3,7`. */
  cpus?: string
  /** cpuset memory nodes, e.g. `0,1`. */
  mems?: string
  /** 1 to make the cgroup SCHED_IDLE. */
  idle?: number
}

/** Process-count limit. */
export interface LinuxPids {
  /** Maximum number of tasks; -1 for no limit. */
  limit?: number
}

/** A device for block I/O rules. */
export interface LinuxBlockIODevice {
  /** Major number. */
  major: number
  /** Minor number. */
  minor: number
}

/** A per-device weight. */
export interface LinuxWeightDevice extends LinuxBlockIODevice {
  /** Weight, 10 to 1000. */
  weight?: number
  /** Leaf weight (CFQ only). */
  leafWeight?: number
}

/** A per-device rate limit. */
export interface LinuxThrottleDevice extends LinuxBlockIODevice {
  /** Bytes or operations per second. */
  rate: number
}

/** Block I/O settings. */
export interface LinuxBlockIO {
  /** Weight of the cgroup, 10 to 1000. */
  weight?: number
  /** Leaf weight (CFQ only). */
  leafWeight?: number
  /** Per-device weights. */
  weightDevice?: LinuxWeightDevice[]
  /** Read bytes per second per device. */
  throttleReadBpsDevice?: LinuxThrottleDevice[]
  /** Write bytes per second per device. */
  throttleWriteBpsDevice?: LinuxThrottleDevice[]
  /** Read operations per second per device. */
  throttleReadIOPSDevice?: LinuxThrottleDevice[]
  /** Write operations per second per device. */
  throttleWriteIOPSDevice?: LinuxThrottleDevice[]
}

/** A huge page limit. */
export interface LinuxHugepageLimit {
  /** Page size, e.g. `2MB`. */
  pageSize: string
  /** Limit in bytes. */
  limit: number
}

/** Network classid and priorities (cgroup v1 net_cls/net_prio). */
export interface LinuxNetwork {
  /** Class identifier for the container's packets. */
  classID?: number
  /** Per-interface priorities. */
  priorities?: Array<{ name: string; priority: number }>
}

/** RDMA limits. */
export interface LinuxRdma {
  /** Maximum HCA handles. */
  hcaHandles?: number
  /** Maximum HCA objects. */
  hcaObjects?: number
}

/** Seccomp actions. */
export type LinuxSeccompAction =
  | 'SCMP_ACT_KILL'
  | 'SCMP_ACT_KILL_PROCESS'
  | 'SCMP_ACT_KILL_THREAD'
  | 'SCMP_ACT_TRAP'
  | 'SCMP_ACT_ERRNO'
  | 'SCMP_ACT_TRACE'
  | 'SCMP_ACT_ALLOW'
  | 'SCMP_ACT_LOG'
  | 'SCMP_ACT_NOTIFY'

/** Seccomp argument comparison operators. */
export type LinuxSeccompOperator =
  | 'SCMP_CMP_NE'
  | 'SCMP_CMP_LT'
  | 'SCMP_CMP_LE'
  | 'SCMP_CMP_EQ'
  | 'SCMP_CMP_GE'
  | 'SCMP_CMP_GT'
  | 'SCMP_CMP_MASKED_EQ'

/** A seccomp filter. */
export interface LinuxSeccomp {
  /** Action for syscalls no rule matches. */
  defaultAction: LinuxSeccompAction
  /** errno for the default action when it is `SCMP_ACT_ERRNO`; runc uses EPERM when absent. */
  defaultErrnoRet?: number
  /** Extra architectures (`SCMP_ARCH_X86_64`, …) whose syscalls the filter also covers. */
  architectures?: string[]
  /** seccomp(2) flags, e.g. `SECCOMP_FILTER_FLAG_LOG`. */
  flags?: string[]
  /** Unix socket a seccomp agent listens on, for `SCMP_ACT_NOTIFY`. */
  listenerPath?: string
  /** Opaque data passed to the seccomp agent. */
  listenerMetadata?: string
  /** Rules, each a set of syscalls with one action. */
  syscalls?: LinuxSyscall[]
}

/** One seccomp rule. */
export interface LinuxSyscall {
  /** Syscall names; names the kernel or libseccomp does not know are skipped by runc. */
  names: string[]
  /** What happens when the rule matches. */
  action: LinuxSeccompAction
  /** errno returned for `SCMP_ACT_ERRNO`. */
  errnoRet?: number
  /** Argument conditions; all must hold (runc splits repeated indexes into separate rules). */
  args?: LinuxSeccompArg[]
}

/** An argument condition of a seccomp rule. */
export interface LinuxSeccompArg {
  /** Argument index, 0 to 5. */
  index: number
  /** Value to compare with (the mask for `SCMP_CMP_MASKED_EQ`). */
  value: number
  /** Second value (the expected result for `SCMP_CMP_MASKED_EQ`). */
  valueTwo?: number
  /** Comparison. */
  op: LinuxSeccompOperator
}

/** Intel RDT settings. */
export interface LinuxIntelRdt {
  /** resctrl class of service. */
  closID?: string
  /** Whole schemata lines; overrides the two fields below. */
  schemata?: string[]
  /** L3 cache schema, `L3:<id>=<cbm>;…`. */
  l3CacheSchema?: string
  /** Memory bandwidth schema, `MB:<id>=<bw>;…`. */
  memBwSchema?: string
  /** Create a resctrl monitoring group. */
  enableMonitoring?: boolean
}

/** NUMA memory policy. */
export interface LinuxMemoryPolicy {
  /** Mode, e.g. `MPOL_BIND`. */
  mode: string
  /** Node list, e.g. `0-1,3`. */
  nodes?: string
  /** Flags, e.g. `MPOL_F_STATIC_NODES`. */
  flags?: string[]
}

/** Execution domain. */
export interface LinuxPersonality {
  /** `LINUX` or `LINUX32`. */
  domain: 'LINUX' | 'LINUX32'
  /** Additional flags (none are defined yet). */
  flags?: string[]
}
