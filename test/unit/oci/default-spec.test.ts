import { describe, expect, it } from 'vitest'
import { InvalidArgumentError } from '../../../src/grpc/errors.js'
import {
  DEFAULT_CAPABILITIES,
  DEFAULT_MASKED_PATHS,
  DEFAULT_PATH_ENV,
  DEFAULT_READONLY_PATHS,
  defaultLinuxSpec,
  defaultMounts,
} from '../../../src/oci/default-spec.js'

// containerd's populateDefaultUnixSpec + defaultMounts (pkg/oci/spec.go, mounts.go), transcribed.
const containerdCaps = [
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
]

const containerdDefault = {
  ociVersion: '1.1.0',
  root: { path: 'rootfs' },
  process: {
    cwd: '/',
    noNewPrivileges: true,
    user: { uid: 0, gid: 0 },
    capabilities: { bounding: containerdCaps, permitted: containerdCaps, effective: containerdCaps },
    rlimits: [{ type: 'RLIMIT_NOFILE', hard: 1024, soft: 1024 }],
  },
  mounts: [
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
  ],
  linux: {
    maskedPaths: [
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
    ],
    readonlyPaths: ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'],
    cgroupsPath: '/default/web',
    resources: { devices: [{ allow: false, access: 'rwm' }] },
    namespaces: [{ type: 'pid' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }, { type: 'network' }],
  },
}

describe('defaultLinuxSpec', () => {
  it('equals containerd default Unix spec, field for field', () => {
    expect(defaultLinuxSpec({ namespace: 'default', id: 'web' })).toEqual(containerdDefault)
  })

  it('has no args, env, hostname or seccomp, as containerd leaves them to options', () => {
    const spec = defaultLinuxSpec({ namespace: 'default', id: 'web' })
    expect(spec.process?.args).toBeUndefined()
    expect(spec.process?.env).toBeUndefined()
    expect(spec.hostname).toBeUndefined()
    expect(spec.linux?.seccomp).toBeUndefined()
    expect(spec.annotations).toBeUndefined()
  })

  it('names the cgroup /<namespace>/<id>', () => {
    expect(defaultLinuxSpec({ namespace: 'openfaas-fn', id: 'figlet' }).linux?.cgroupsPath).toBe('/openfaas-fn/figlet')
  })

  it('gives each spec its own arrays, so editing one leaves the next untouched', () => {
    const a = defaultLinuxSpec({ namespace: 'ns', id: 'a' })
    a.process?.capabilities?.bounding?.push('CAP_SYS_ADMIN')
    a.mounts?.[0]?.options?.push('ro')
    a.linux?.maskedPaths?.pop()
    const b = defaultLinuxSpec({ namespace: 'ns', id: 'b' })
    expect(b.process?.capabilities?.bounding).toEqual(containerdCaps)
    expect(b.mounts?.[0]?.options).toEqual(['nosuid', 'noexec', 'nodev'])
    expect(b.linux?.maskedPaths).toHaveLength(11)
    expect(defaultMounts()).toEqual(containerdDefault.mounts)
  })

  it('exports the lists it is made of', () => {
    expect(DEFAULT_CAPABILITIES).toEqual(containerdCaps)
    expect(DEFAULT_MASKED_PATHS).toEqual(containerdDefault.linux.maskedPaths)
    expect(DEFAULT_READONLY_PATHS).toEqual(containerdDefault.linux.readonlyPaths)
    expect(DEFAULT_PATH_ENV).toBe('PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin')
    expect(Object.isFrozen(DEFAULT_CAPABILITIES)).toBe(true)
  })

  it('rejects namespaces and ids containerd would reject', () => {
    expect(() => defaultLinuxSpec({ namespace: '', id: 'a' })).toThrow(InvalidArgumentError)
    expect(() => defaultLinuxSpec({ namespace: 'ns', id: '../etc' })).toThrow(/container id/)
    expect(() => defaultLinuxSpec({ namespace: 'a/b', id: 'x' })).toThrow(/namespace/)
  })
})
