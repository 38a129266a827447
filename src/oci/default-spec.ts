/**
 * The default Linux container spec, the same one containerd's Go client starts from
 * (`pkg/oci` `populateDefaultUnixSpec` and `defaultMounts`), so a container made with this SDK looks to the
 * runtime exactly like one made with `ctr` or the Go client before options are applied.
 */

import { validateIdentifier } from '../client/identifiers.js'
import { OCI_RUNTIME_SPEC_VERSION, type LinuxNamespaceType, type Mount, type Spec } from './runtime-spec.js'

/**
 * The `PATH` a container gets when its image sets none. containerd does not put it in the default spec:
 * it is added by `withImageConfig` (or `withDefaultPathEnv` for containers without an image), so that an
 * image's own `PATH` is never overridden by this default.
 */
export const DEFAULT_PATH_ENV = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'

/** The capabilities a default container keeps (bounding, permitted and effective), in containerd's order. */
export const DEFAULT_CAPABILITIES: readonly string[] = Object.freeze([
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_FSETID',
  'CAP_FOWNER',
  'CAP_MKNOD',
  'CAP_NET_RAW',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETFCAP',
  'CAP_SETPCAP',
  'CAP_NET_BIND_SERVICE',
  'CAP_SYS_CHROOT',
  'CAP_KILL',
  'CAP_AUDIT_WRITE',
])

/** Paths hidden from a default container: kernel interfaces that leak host data or allow harm. */
export const DEFAULT_MASKED_PATHS: readonly string[] = Object.freeze([
  '/proc/acpi',
  '/proc/asound',
  '/proc/kcore',
  '/proc/keys',
  '/proc/latency_stats',
  '/proc/timer_list',
  '/proc/timer_stats',
  '/proc/sched_debug',
  '/sys/firmware',
  '/sys/devices/virtual/powercap',
  '/proc/scsi',
])

/** Paths a default container sees read-only. */
export const DEFAULT_READONLY_PATHS: readonly string[] = Object.freeze([
  '/proc/bus',
  '/proc/fs',
  '/proc/irq',
  '/proc/sys',
  '/proc/sysrq-trigger',
])

/** The namespaces a default container gets its own of; user and cgroup namespaces are shared with the host. */
export const DEFAULT_NAMESPACES: readonly LinuxNamespaceType[] = Object.freeze(['pid', 'ipc', 'uts', 'mount', 'network'])

/** The mounts every default container gets, fresh copies each call so callers may edit them. */
export function defaultMounts(): Mount[] {
  return [
    { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
    {
      destination: '/dev/pts',
      type: 'devpts',
      source: 'devpts',
      options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'],
    },
    { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
    { destination: '/run', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
  ]
}

/** What the default spec needs to know about its container. */
export interface DefaultLinuxSpecInput {
  /** The containerd namespace; it names the container's cgroup parent. */
  namespace: string
  /** The container id; it names the container's cgroup. */
  id: string
}

/**
 * Builds containerd's default Linux spec for one container.
 *
 * The result runs as root (0:0) in `/` with `noNewPrivileges`, the {@link DEFAULT_CAPABILITIES},
 * `RLIMIT_NOFILE` 1024/1024, the {@link defaultMounts}, the masked and read-only `/proc` paths, every device
 * denied by the device cgroup, its own pid/ipc/uts/mount/network namespaces, and cgroup `/<namespace>/<id>`.
 * It has no args, no env and no seccomp profile yet: apply `withImageConfig` (or `withProcessArgs` and
 * `withDefaultPathEnv`) and, for Docker-like confinement, `withDefaultSeccomp` last.
 *
 * @throws InvalidArgumentError when the namespace or id is not a valid containerd identifier.
 */
export function defaultLinuxSpec(input: DefaultLinuxSpecInput): Spec {
  validateIdentifier('namespace', input.namespace)
  validateIdentifier('container id', input.id)
  return {
    ociVersion: OCI_RUNTIME_SPEC_VERSION,
    root: { path: 'rootfs' },
    process: {
      cwd: '/',
      noNewPrivileges: true,
      user: { uid: 0, gid: 0 },
      capabilities: {
        bounding: [...DEFAULT_CAPABILITIES],
        permitted: [...DEFAULT_CAPABILITIES],
        effective: [...DEFAULT_CAPABILITIES],
      },
      rlimits: [{ type: 'RLIMIT_NOFILE', hard: 1024, soft: 1024 }],
    },
    mounts: defaultMounts(),
    linux: {
      maskedPaths: [...DEFAULT_MASKED_PATHS],
      readonlyPaths: [...DEFAULT_READONLY_PATHS],
      // Identifiers cannot contain '/' or '..', so plain joining gives the same path Go's path.Join would.
      cgroupsPath: `/${input.namespace}/${input.id}`,
      resources: { devices: [{ allow: false, access: 'rwm' }] },
      namespaces: DEFAULT_NAMESPACES.map((type) => ({ type })),
    },
  }
}
