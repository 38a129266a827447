import { describe, expect, it } from 'vitest'
import { defaultLinuxSpec } from '../../../src/oci/default-spec.js'
import { defaultSeccompProfile, goArch } from '../../../src/oci/default-seccomp.js'
import type { LinuxSeccomp, Spec } from '../../../src/oci/runtime-spec.js'

const spec = (): Spec => defaultLinuxSpec({ namespace: 'default', id: 'c1' })
const withBounding = (caps: string[]): Spec => ({ ociVersion: '1.3.0', process: { user: { uid: 0, gid: 0 }, cwd: '/', capabilities: { bounding: caps } } })

function allowed(profile: LinuxSeccomp): Set<string> {
  // Names allowed without argument conditions.
  return new Set(profile.syscalls?.filter((s) => s.action === 'SCMP_ACT_ALLOW' && s.args === undefined).flatMap((s) => s.names))
}

describe('defaultSeccompProfile', () => {
  const amd64 = defaultSeccompProfile(spec(), { arch: 'amd64', kernelVersion: '6.1.0-18-amd64' })

  it('denies by default with EPERM (no defaultErrnoRet: runc then uses EPERM, as with containerd)', () => {
    expect(amd64.defaultAction).toBe('SCMP_ACT_ERRNO')
    expect(amd64.defaultErrnoRet).toBeUndefined()
  })

  it('covers the x86 family on amd64 and the arm family on arm64', () => {
    expect(amd64.architectures).toEqual(['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'])
    const arm = defaultSeccompProfile(spec(), { arch: 'arm64', kernelVersion: '6.1' })
    expect(arm.architectures).toEqual(['SCMP_ARCH_ARM', 'SCMP_ARCH_AARCH64'])
    expect(allowed(arm).has('set_tls')).toBe(true)
    expect(allowed(arm).has('arch_prctl')).toBe(false)
    // containerd has no entry for 386: the filter then covers the native ABI only.
    expect(defaultSeccompProfile(spec(), { arch: '386', kernelVersion: '6.1' }).architectures).toEqual([])
  })

  it('allows the common syscalls and the amd64 extras, but not io_uring, mount or reboot', () => {
    const names = allowed(amd64)
    expect(amd64.syscalls?.[0]?.names).toHaveLength(363)
    for (const n of ['read', 'write', 'openat', 'execve', 'futex', 'clock_gettime', 'epoll_pwait2', 'arch_prctl', 'modify_ldt']) {
      expect(names.has(n), n).toBe(true)
    }
    for (const n of ['io_uring_setup', 'io_uring_enter', 'io_uring_register', 'mount', 'umount2', 'reboot', 'kexec_load', 'bpf', 'unshare', 'setns']) {
      expect(names.has(n), n).toBe(false)
    }
  })

  it('allows socket for every family but AF_ALG (38) and AF_VSOCK (40), in three single-condition rules', () => {
    const socket = amd64.syscalls?.filter((s) => s.names.includes('socket'))
    expect(socket).toEqual([
      { names: ['socket'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 38, op: 'SCMP_CMP_LT' }] },
      { names: ['socket'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 39, op: 'SCMP_CMP_EQ' }] },
      { names: ['socket'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 40, op: 'SCMP_CMP_GT' }] },
    ])
  })

  it('allows only the harmless personality values', () => {
    const values = amd64.syscalls?.filter((s) => s.names.includes('personality')).map((s) => s.args?.[0]?.value)
    expect(values).toEqual([0, 8, 0x20000, 0x20008, 0xffffffff])
  })

  it('allows ptrace from kernel 4.8 on only', () => {
    expect(allowed(amd64).has('ptrace')).toBe(true)
    expect(allowed(defaultSeccompProfile(spec(), { arch: 'amd64', kernelVersion: '4.4.0' })).has('ptrace')).toBe(false)
    expect(allowed(defaultSeccompProfile(spec(), { arch: 'amd64', kernelVersion: '4.8.0' })).has('ptrace')).toBe(true)
    expect(allowed(defaultSeccompProfile(spec(), { arch: 'amd64', kernelVersion: 'garbage' })).has('ptrace')).toBe(false)
  })

  it('without CAP_SYS_ADMIN, restricts clone to no namespace flags and makes clone3 fail with ENOSYS', () => {
    const clone = amd64.syscalls?.find((s) => s.names.length === 1 && s.names[0] === 'clone')
    expect(clone).toEqual({ names: ['clone'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 2114060288, op: 'SCMP_CMP_MASKED_EQ' }] })
    expect(amd64.syscalls?.find((s) => s.names.includes('clone3'))).toEqual({ names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: 38 })
    const s390 = defaultSeccompProfile(spec(), { arch: 's390x', kernelVersion: '6.1' })
    expect(s390.syscalls?.find((s) => s.names[0] === 'clone')?.args?.[0]?.index).toBe(1)
  })

  it('unlocks syscalls for the capabilities in the bounding set', () => {
    expect(allowed(amd64).has('chroot')).toBe(true) // CAP_SYS_CHROOT is a default capability
    const admin = defaultSeccompProfile(withBounding(['CAP_SYS_ADMIN', 'CAP_SYS_PTRACE', 'CAP_SYS_TIME']), { arch: 'amd64', kernelVersion: '6.1' })
    const names = allowed(admin)
    for (const n of ['mount', 'umount2', 'unshare', 'setns', 'clone', 'clone3', 'bpf', 'kcmp', 'process_madvise', 'clock_settime']) {
      expect(names.has(n), n).toBe(true)
    }
    expect(names.has('chroot')).toBe(false)
    expect(admin.syscalls?.some((s) => s.action === 'SCMP_ACT_ERRNO')).toBe(false)
  })

  it('works on a spec with no capabilities at all', () => {
    const profile = defaultSeccompProfile({ ociVersion: '1.3.0' }, { arch: 'amd64', kernelVersion: '6.1' })
    expect(allowed(profile).has('chroot')).toBe(false)
    expect(profile.syscalls?.some((s) => s.names.includes('clone3'))).toBe(true)
  })

  it('maps Node architecture names to Go ones', () => {
    expect(goArch('x64')).toBe('amd64')
    expect(goArch('ia32')).toBe('386')
    expect(goArch('arm64')).toBe('arm64')
    expect(goArch('amd64')).toBe('amd64')
    expect(defaultSeccompProfile(spec(), { arch: 'x64', kernelVersion: '6.1' }).architectures).toEqual(amd64.architectures)
  })

  it('defaults to this machine', () => {
    const profile = defaultSeccompProfile(spec())
    expect(profile.architectures).toEqual(defaultSeccompProfile(spec(), { arch: process.arch }).architectures)
  })
})
