import { describe, expect, it } from 'vitest'
import { InvalidArgumentError } from '../../../src/grpc/errors.js'
import { DEFAULT_CAPABILITIES, defaultLinuxSpec } from '../../../src/oci/default-spec.js'
import { withImageConfig } from '../../../src/oci/image-config-option.js'
import { INIT_PATH } from '../../../src/oci/process-options.js'
import { RLIMIT_INFINITY, type Spec } from '../../../src/oci/runtime-spec.js'
import { checkSpecFlagShapes, choosesSeccomp, SPEC_FLAG_KEYS, specFlagOptions, type SpecFlagInputs, type SpecFlags } from '../../../src/oci/spec-flags.js'
import { applySpecOptions } from '../../../src/oci/spec-options.js'

const GROUP = 'root:x:0:\nvideo:x:44:\nextra:x:2000:app\n'
const NULL_DEVICE = { mode: 0o20666, rdev: (1 << 8) | 3, uid: 0, gid: 0 }

/** Default spec + an image running `sh`, then the flags. */
function build(flags: SpecFlags, inputs: Partial<SpecFlagInputs> = {}): Spec {
  const spec = defaultLinuxSpec({ namespace: 'ns', id: 'c1' })
  return applySpecOptions(spec, [withImageConfig({ Cmd: ['sh'], Env: ['PATH=/bin', 'A=image'] }), ...specFlagOptions(flags, { id: 'c1', ...inputs })])
}
const mount = (s: Spec, destination: string) => s.mounts?.find((m) => m.destination === destination)

describe('nerdctl defaults every container gets', () => {
  it('mounts cgroupfs read-only, clears no_new_privs and sets the default seccomp profile', () => {
    const s = build({})
    expect(mount(s, '/sys/fs/cgroup')).toEqual({ destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['ro', 'nosuid', 'noexec', 'nodev'] })
    expect(s.process?.noNewPrivileges).toBe(false)
    expect(s.linux?.seccomp?.defaultAction).toBe('SCMP_ACT_ERRNO')
    // Nothing else changes: caps, masked paths and resources are the default spec's.
    expect(s.process?.capabilities?.bounding).toEqual(DEFAULT_CAPABILITIES)
    expect(s.linux?.resources).toEqual({ devices: [{ allow: false, access: 'rwm' }] })
    expect(s.linux?.cgroupsPath).toBe('/ns/c1')
  })

  it('leaves the seccomp choice to a seccomp= security option', () => {
    expect(build({ securityOpt: ['seccomp=unconfined'] }).linux?.seccomp).toBeUndefined()
    expect(build({ securityOpt: ['seccomp:unconfined'] }).linux?.seccomp).toBeUndefined()
    const profile = { defaultAction: 'SCMP_ACT_ALLOW' as const, syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO' as const }] }
    expect(build({ securityOpt: [`seccomp=${JSON.stringify(profile)}`] }).linux?.seccomp).toEqual(profile)
    expect(build({ securityOpt: [{ seccomp: profile }] }).linux?.seccomp).toEqual(profile)
    expect(choosesSeccomp(['no-new-privileges', 'apparmor=x'])).toBe(false)
    expect(choosesSeccomp(['seccomp=builtin'])).toBe(true)
  })

  it('turns no_new_privs on with no-new-privileges', () => {
    expect(build({ securityOpt: ['no-new-privileges'] }).process?.noNewPrivileges).toBe(true)
    expect(build({ securityOpt: ['no-new-privileges:true'] }).process?.noNewPrivileges).toBe(true)
    expect(build({ securityOpt: ['no-new-privileges=false'] }).process?.noNewPrivileges).toBe(false)
  })
})

describe('process flags', () => {
  it('applies env files, then env, over the image env', () => {
    const s = build(
      { envFile: ['/a.env', '/b.env'], env: ['B=flag', 'C=flag'] },
      { envFiles: [{ name: '/a.env', text: '# c\nA=file\nB=file\n' }, { name: '/b.env', text: 'D=second\n' }] },
    )
    expect(s.process?.env).toEqual(['PATH=/bin', 'A=file', 'B=flag', 'D=second', 'C=flag'])
    expect(() => build({ envFile: '/x' })).toThrow(/--env-file: the files' contents were not given/)
    expect(() => build({ envFile: '/x' }, { envFiles: [{ name: '/x', text: 'BAD KEY=1' }] })).toThrow(/env file \/x line 1/)
  })

  it('sets the working directory from cwd or workdir, and refuses both when they differ', () => {
    expect(build({ workdir: '/srv/' }).process?.cwd).toBe('/srv')
    expect(build({ cwd: '/a', workdir: '/a' }).process?.cwd).toBe('/a')
    expect(() => build({ cwd: '/a', workdir: '/b' })).toThrow(/cwd "\/a" and workdir "\/b" differ/)
    expect(() => build({ workdir: 'rel' })).toThrow(InvalidArgumentError)
  })

  it('sets hostname, domainname, OOM score, annotations and sysctls', () => {
    const s = build({
      hostname: 'web',
      domainname: 'example.test',
      oomScoreAdj: 500,
      annotations: { 'org.example/a': '1' },
      sysctls: { 'net.ipv4.ip_forward': '1' },
    })
    expect(s.hostname).toBe('web')
    expect(s.domainname).toBe('example.test')
    expect(s.process?.oomScoreAdj).toBe(500)
    expect(s.annotations).toEqual({ 'org.example/a': '1' })
    expect(s.linux?.sysctl).toEqual({ 'kernel.domainname': 'example.test', 'net.ipv4.ip_forward': '1' })
    expect(build({ sysctls: ['kernel.msgmax=65536'] }).linux?.sysctl).toEqual({ 'kernel.msgmax': '65536' })
  })

  it('adds groups by gid or name, after the image user', () => {
    const s = build({ groupAdd: ['video', 3000, '4000'] }, { userDatabase: { group: GROUP } })
    expect(s.process?.user.additionalGids).toEqual([0, 44, 3000, 4000])
    expect(() => build({ groupAdd: ['nosuch'] }, { userDatabase: { group: GROUP } })).toThrow(/--group-add/)
    expect(() => build({ groupAdd: [-1] })).toThrow(/-1 is not a gid/)
  })

  it('wraps the final command in the init binary, after every mount', () => {
    const s = build({ init: true, mounts: ['/host/sbin:/sbin'] }, { initBinary: '/usr/bin/tini-static' })
    expect(s.process?.args).toEqual([INIT_PATH, '--', 'sh'])
    expect(s.mounts?.at(-1)).toEqual({ destination: INIT_PATH, type: 'bind', source: '/usr/bin/tini-static', options: ['bind', 'ro'] })
    expect(build({ init: false }).process?.args).toEqual(['sh'])
    expect(() => build({ init: true })).toThrow(/no init binary was given/)
  })
})

describe('resource flags', () => {
  it('maps memory, swap, reservation, CPU, pids and blkio to linux.resources', () => {
    const s = build({
      memory: '64m',
      memorySwap: '128m',
      memoryReservation: '32m',
      cpus: 1.5,
      cpuShares: 512,
      cpusetCpus: '0',
      cpusetMems: '0',
      pidsLimit: 42,
      blkioWeight: 300,
    })
    const mib = 1024 * 1024
    expect(s.linux?.resources).toEqual({
      devices: [{ allow: false, access: 'rwm' }],
      memory: { limit: 64 * mib, swap: 128 * mib, reservation: 32 * mib },
      cpu: { quota: 150_000, period: 100_000, shares: 512, cpus: '0', mems: '0' },
      pids: { limit: 42 },
      blockIO: { weight: 300 },
    })
    expect(build({ memory: '64m' }).linux?.resources?.memory).toEqual({ limit: 64 * mib, swap: 128 * mib })
    expect(build({ memory: '64m', memorySwap: -1 }).linux?.resources?.memory).toEqual({ limit: 64 * mib, swap: -1 })
    expect(build({ memorySwap: -1 }).linux?.resources?.memory).toEqual({ swap: -1 })
  })

  it('sets ulimits from strings or structured entries, replacing the default NOFILE', () => {
    const s = build({ ulimits: ['nofile=2048:4096', { name: 'nproc', soft: 100 }, { name: 'core', soft: -1, hard: -1 }] })
    expect(s.process?.rlimits).toEqual([
      { type: 'RLIMIT_NOFILE', soft: 2048, hard: 4096 },
      { type: 'RLIMIT_NPROC', soft: 100, hard: 100 },
      { type: 'RLIMIT_CORE', soft: RLIMIT_INFINITY, hard: RLIMIT_INFINITY },
    ])
  })

  it.each<[string, SpecFlags, RegExp]>([
    ['memory abc', { memory: 'abc' }, /--memory: invalid size "abc"/],
    ['memory under 6m', { memory: '1m' }, /below the minimum of 6 MiB/],
    ['swap without memory', { memorySwap: '1g' }, /--memory-swap: set memory too/],
    ['swap below memory', { memory: '64m', memorySwap: '32m' }, /less than --memory/],
    ['reservation above memory', { memory: '64m', memoryReservation: '128m' }, /above --memory/],
    ['cpus -1', { cpus: -1 }, /--cpus: "-1" is not a number of CPUs/],
    ['cpus text', { cpus: 'two' }, /--cpus/],
    ['cpu shares', { cpuShares: 1 }, /--cpu-shares/],
    ['cpuset', { cpusetCpus: '3-1' }, /reversed/],
    ['pids', { pidsLimit: 1.5 }, /--pids-limit/],
    ['blkio', { blkioWeight: 5 }, /--blkio-weight/],
    ['ulimit name', { ulimits: ['nofiles=1'] }, /--ulimit: unknown limit "nofiles"/],
    ['ulimit order', { ulimits: ['nofile=10:5'] }, /soft limit 10 above hard limit 5/],
    ['ulimit structured', { ulimits: [{ name: 'nofile', soft: 1.5 }] }, /limits must be integers/],
    ['sysctl', { sysctls: ['novalue'] }, /--sysctl/],
    ['oom score', { oomScoreAdj: 1001 }, /--oom-score-adj/],
    ['hostname', { hostname: 'a b' }, /--hostname/],
    ['annotation', { annotations: { '': 'x' } }, /--annotation/],
  ])('refuses %s before building anything', (_name, flags, message) => {
    expect(() => specFlagOptions(flags, { id: 'c1' })).toThrow(InvalidArgumentError)
    expect(() => specFlagOptions(flags, { id: 'c1' })).toThrow(message)
  })
})

describe('security flags', () => {
  it('adds and drops capabilities, and the default profile follows the bounding set', () => {
    const s = build({ capAdd: ['SYS_ADMIN', 'net_admin'], capDrop: ['NET_RAW'] })
    expect(s.process?.capabilities?.effective).toContain('CAP_SYS_ADMIN')
    expect(s.process?.capabilities?.effective).toContain('CAP_NET_ADMIN')
    expect(s.process?.capabilities?.effective).not.toContain('CAP_NET_RAW')
    // CAP_SYS_ADMIN unlocks mount and unshare in the profile.
    const allowed = s.linux?.seccomp?.syscalls?.filter((r) => r.action === 'SCMP_ACT_ALLOW' && r.args === undefined).flatMap((r) => r.names)
    expect(allowed).toContain('unshare')
    expect(build({}).linux?.seccomp?.syscalls?.filter((r) => r.args === undefined).flatMap((r) => r.names)).not.toContain('unshare')
    expect(() => build({ capAdd: ['NOT_A_CAP'] })).toThrow(/--cap-add: unknown capability "NOT_A_CAP"/)
    expect(() => build({ capDrop: ['bogus'] })).toThrow(/--cap-drop/)
  })

  it('drops ALL then adds back, whatever the order', () => {
    const s = build({ capDrop: ['ALL'], capAdd: ['CHOWN'] })
    expect(s.process?.capabilities?.bounding).toEqual(['CAP_CHOWN'])
  })

  it('privileged: every capability, host devices, no seccomp or masked paths, writable cgroupfs; cap-drop still applies', () => {
    const hostDevices = [{ path: '/dev/kvm', type: 'c', major: 10, minor: 232, fileMode: 0o660, uid: 0, gid: 0 }]
    const s = build({ privileged: true, capDrop: ['SYS_TIME'] }, { hostDevices })
    expect(s.process?.capabilities?.bounding).toContain('CAP_SYS_ADMIN')
    expect(s.process?.capabilities?.bounding).not.toContain('CAP_SYS_TIME')
    expect(s.linux?.seccomp).toBeUndefined()
    expect(s.linux?.maskedPaths).toBeUndefined()
    expect(s.linux?.devices).toEqual(hostDevices)
    expect(s.linux?.resources?.devices).toEqual([{ allow: true, access: 'rwm' }])
    expect(mount(s, '/sys/fs/cgroup')?.options).toEqual(['rw', 'nosuid', 'noexec', 'nodev'])
    expect(s.process?.noNewPrivileges).toBe(false)
    // An explicit profile still applies to a privileged container.
    expect(build({ privileged: true, securityOpt: ['seccomp=builtin'] }).linux?.seccomp).toBeDefined()
  })

  it('refuses unknown security options', () => {
    expect(() => build({ securityOpt: ['label=disable'] })).toThrow(/--security-opt: unknown option "label=disable"/)
    expect(() => build({ securityOpt: ['seccomp='] })).toThrow(/seccomp needs a value/)
    expect(() => build({ securityOpt: ['seccomp=/some/file.json'] })).toThrow(/files are not read here/)
  })

  it('adds devices from strings or mappings, with cgroup rules', () => {
    const seen: string[] = []
    const statDevice = (path: string) => {
      seen.push(path)
      return NULL_DEVICE
    }
    const s = build({ devices: ['/dev/null:/dev/xnull:rw', { pathOnHost: '/dev/null', pathInContainer: '/dev/ynull' }] }, { statDevice })
    expect(seen).toEqual(['/dev/null', '/dev/null'])
    expect(s.linux?.devices).toEqual([
      { path: '/dev/xnull', type: 'c', major: 1, minor: 3, fileMode: 0o666, uid: 0, gid: 0 },
      { path: '/dev/ynull', type: 'c', major: 1, minor: 3, fileMode: 0o666, uid: 0, gid: 0 },
    ])
    expect(s.linux?.resources?.devices?.slice(1)).toEqual([
      { allow: true, type: 'c', major: 1, minor: 3, access: 'rw' },
      { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' },
    ])
    expect(() => build({ devices: ['/dev/null:/x:rwz'] }, { statDevice })).toThrow(/invalid access "rwz"/)
    expect(() => build({ devices: [{ pathOnHost: '/dev/a:b' }] }, { statDevice })).toThrow(/cannot contain ':'/)
  })

  it('puts the cgroup under a parent, in the systemd form for a slice', () => {
    expect(build({ cgroupParent: '/custom' }).linux?.cgroupsPath).toBe('/custom/c1')
    expect(build({ cgroupParent: 'machine.slice' }).linux?.cgroupsPath).toBe('machine.slice:nerdctl:c1')
    expect(() => build({ cgroupParent: '' })).toThrow(/--cgroup-parent/)
  })
})

describe('mount flags', () => {
  it('mounts the root read-only and resizes /dev/shm', () => {
    const s = build({ readOnly: true, shmSize: '128m' })
    expect(s.root?.readonly).toBe(true)
    expect(mount(s, '/dev/shm')?.options?.at(-1)).toBe('size=131072k')
    expect(() => build({ shmSize: 'huge' })).toThrow(/--shm-size/)
  })

  it('adds tmpfs mounts from strings or a map', () => {
    expect(mount(build({ tmpfs: ['/scratch:size=1m,mode=1777'] }), '/scratch')).toEqual({
      destination: '/scratch', type: 'tmpfs', source: 'tmpfs', options: ['noexec', 'nosuid', 'nodev', 'size=1m', 'mode=1777'],
    })
    expect(mount(build({ tmpfs: { '/a': 'exec', '/b': '' } }), '/a')?.options).toEqual(['nosuid', 'nodev', 'exec'])
    expect(mount(build({ tmpfs: { '/b': '' } }), '/b')?.options).toEqual(['noexec', 'nosuid', 'nodev'])
    expect(() => build({ tmpfs: ['relative'] })).toThrow(/--tmpfs: destination "relative"/)
  })

  it('adds bind mounts from -v strings and structured mounts, replacing a default mount at the target', () => {
    const s = build({
      mounts: [
        '/srv/data:/data:ro',
        { type: 'bind', source: '/srv/logs', target: '/logs', propagation: 'rslave' },
        { type: 'bind', source: '/srv/one', target: '/one', readOnly: true, nonRecursive: true },
        { type: 'tmpfs', target: '/run', size: '8m', mode: 0o755 },
      ],
    })
    expect(mount(s, '/data')).toEqual({ destination: '/data', type: 'bind', source: '/srv/data', options: ['ro', 'rprivate', 'rbind'] })
    expect(mount(s, '/logs')).toEqual({ destination: '/logs', type: 'bind', source: '/srv/logs', options: ['rslave', 'rbind'] })
    expect(mount(s, '/one')).toEqual({ destination: '/one', type: 'bind', source: '/srv/one', options: ['bind', 'ro', 'rprivate'] })
    expect(s.mounts?.filter((m) => m.destination === '/run')).toEqual([
      { destination: '/run', type: 'tmpfs', source: 'tmpfs', options: ['noexec', 'nosuid', 'nodev', `size=${8 * 1024 * 1024}`, 'mode=755'] },
    ])
    expect(s.linux?.rootfsPropagation).toBe('rslave')
  })

  it.each<[string, SpecFlags, RegExp]>([
    ['a relative source', { mounts: ['data:/data'] }, /not an absolute host path/],
    ['a missing target', { mounts: ['/only'] }, /is not \/host\/path:\/container\/path/],
    ['an unknown option', { mounts: ['/a:/b:rw,fast'] }, /unknown option "fast"/],
    ['a structured relative source', { mounts: [{ type: 'bind', source: 'x', target: '/x' }] }, /--mount: source "x"/],
    ['a root target', { mounts: [{ type: 'bind', source: '/x', target: '/' }] }, /mount over the container's root/],
    ['a bad propagation', { mounts: [{ type: 'bind', source: '/x', target: '/x', propagation: 'up' as 'shared' }] }, /unknown propagation "up"/],
    ['a bad tmpfs mode', { mounts: [{ type: 'tmpfs', target: '/x', mode: 0o17777 }] }, /not a permission mode/],
    ['a volume', { mounts: [{ type: 'volume', target: '/x' } as unknown as { type: 'tmpfs'; target: string }] }, /type "volume" is not supported/],
  ])('refuses %s', (_name, flags, message) => {
    expect(() => specFlagOptions(flags, { id: 'c1' })).toThrow(InvalidArgumentError)
    expect(() => specFlagOptions(flags, { id: 'c1' })).toThrow(message)
  })
})

describe('flag shapes from JavaScript callers', () => {
  it('takes env as a map of strings, layered on the image env like -e', () => {
    expect(build({ env: { A: '1', B: 'two' } }).process?.env).toEqual(['PATH=/bin', 'A=1', 'B=two'])
    expect(() => build({ env: { A: 1 } as never })).toThrow(new InvalidArgumentError("env.A must be a string, got 1; write '1'"))
    expect(() => build({ env: 'A=1' as never })).toThrow(InvalidArgumentError)
  })

  it('refuses a string where a list belongs (it would be taken per character), with an example', () => {
    const refused = (flags: Record<string, unknown>, message: RegExp): void => {
      expect(() => checkSpecFlagShapes(flags as SpecFlags, 'run()')).toThrow(InvalidArgumentError)
      expect(() => checkSpecFlagShapes(flags as SpecFlags, 'run()')).toThrow(message)
      expect(() => specFlagOptions(flags as SpecFlags, { id: 'c1' })).toThrow(InvalidArgumentError)
    }
    refused({ capAdd: 'NET_ADMIN' }, /^run\(\) capAdd must be an array, e.g. \['NET_ADMIN'\]; got "NET_ADMIN"$/)
    refused({ capDrop: ['MKNOD', 3] }, /run\(\) capDrop\[1\] must be a string, got 3/)
    refused({ mounts: '/a:/b' }, /run\(\) mounts must be an array/)
    refused({ ulimits: 'nofile=1' }, /run\(\) ulimits must be an array/)
    refused({ securityOpt: 'seccomp=unconfined' }, /run\(\) securityOpt must be an array/)
    refused({ devices: '/dev/fuse' }, /run\(\) devices must be an array/)
    refused({ groupAdd: 'audio' }, /run\(\) groupAdd must be an array/)
    refused({ envFile: 5 }, /run\(\) envFile must be an array/)
    refused({ sysctls: 'a=b' }, /run\(\) sysctls must be an array of strings or an object/)
    refused({ annotations: ['a=b'] }, /run\(\) annotations must be an object of strings/)
  })

  it('checks the keys of structured ulimits, devices and mounts', () => {
    expect(() => checkSpecFlagShapes({ ulimits: [{ name: 'nofile', soft: 1, hrad: 2 } as never] }, 'run()')).toThrow(
      "unknown option 'hrad' of run() ulimits[0]: did you mean 'hard'?",
    )
    expect(() => checkSpecFlagShapes({ devices: [{ pathOnHost: '/dev/fuse', permissions: 'r' } as never] }, 'run()')).toThrow(/unknown option 'permissions' of run\(\) devices\[0\]/)
    expect(() => checkSpecFlagShapes({ mounts: [{ type: 'bind', source: '/a', target: '/b', readonly: true } as never] })).toThrow(
      "unknown option 'readonly' of mounts[0]: did you mean 'readOnly'?",
    )
    expect(() => checkSpecFlagShapes({ mounts: [{ type: 'tmpfs', target: '/t', sizee: '1m' } as never] })).toThrow(/did you mean 'size'/)
    expect(() => checkSpecFlagShapes({ ulimits: ['nofile=1:2', { name: 'nproc', soft: 1 }], mounts: ['/a:/b', { type: 'tmpfs', target: '/t', size: '1m' }] })).not.toThrow()
  })

  it('lists every flag as a known key', () => {
    expect(Object.keys(SPEC_FLAG_KEYS)).toContain('memory')
    expect(Object.keys(SPEC_FLAG_KEYS)).toHaveLength(31)
  })
})
