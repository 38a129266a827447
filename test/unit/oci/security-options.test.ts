import { describe, expect, it } from 'vitest'
import { InvalidArgumentError } from '../../../src/grpc/errors.js'
import { KNOWN_CAPABILITIES, normalizeCapability } from '../../../src/oci/capabilities.js'
import { DEFAULT_CAPABILITIES, defaultLinuxSpec } from '../../../src/oci/default-spec.js'
import type { LinuxSeccomp, Spec } from '../../../src/oci/runtime-spec.js'
import {
  withCapabilities,
  withDefaultSeccomp,
  withNoNewPrivileges,
  withPrivileged,
  withSeccompProfile,
  withSecurityOpt,
} from '../../../src/oci/security-options.js'
import { applySpecOptions, type SpecOption } from '../../../src/oci/spec-options.js'

const apply = (...options: SpecOption[]): Spec => applySpecOptions(defaultLinuxSpec({ namespace: 'default', id: 'c1' }), options)
const bounding = (s: Spec): string[] | undefined => s.process?.capabilities?.bounding
const seccompHost = { arch: 'amd64', kernelVersion: '6.1.0' }

describe('capabilities', () => {
  it('normalises names with or without CAP_, in any case', () => {
    expect(normalizeCapability('net_admin', '--cap-add')).toBe('CAP_NET_ADMIN')
    expect(normalizeCapability('CAP_SYS_PTRACE', '--cap-add')).toBe('CAP_SYS_PTRACE')
    expect(normalizeCapability(' Sys_Time ', '--cap-add')).toBe('CAP_SYS_TIME')
    expect(KNOWN_CAPABILITIES).toHaveLength(41)
    expect(KNOWN_CAPABILITIES[21]).toBe('CAP_SYS_ADMIN')
  })

  it('adds to bounding, effective and permitted', () => {
    const s = apply(withCapabilities({ add: ['NET_ADMIN', 'cap_sys_ptrace'] }))
    for (const set of ['bounding', 'effective', 'permitted'] as const) {
      expect(s.process?.capabilities?.[set]).toEqual([...DEFAULT_CAPABILITIES, 'CAP_NET_ADMIN', 'CAP_SYS_PTRACE'])
    }
    expect(s.process?.capabilities?.inheritable).toBeUndefined()
  })

  it('drops from every set', () => {
    const s = apply(withCapabilities({ drop: ['NET_RAW', 'CAP_MKNOD'] }))
    expect(bounding(s)).toEqual(DEFAULT_CAPABILITIES.filter((c) => c !== 'CAP_NET_RAW' && c !== 'CAP_MKNOD'))
    expect(s.process?.capabilities?.effective).toEqual(bounding(s))
  })

  it('--cap-drop ALL --cap-add X leaves exactly X, whatever the order of the lists', () => {
    const s = apply(withCapabilities({ add: ['NET_BIND_SERVICE'], drop: ['ALL'] }))
    expect(s.process?.capabilities).toEqual({ bounding: ['CAP_NET_BIND_SERVICE'], effective: ['CAP_NET_BIND_SERVICE'], permitted: ['CAP_NET_BIND_SERVICE'] })
  })

  it('--cap-add ALL grants every known capability, minus explicit drops', () => {
    const s = apply(withCapabilities({ add: ['all'], drop: ['SYS_ADMIN'] }))
    expect(bounding(s)).toHaveLength(40)
    expect(bounding(s)).not.toContain('CAP_SYS_ADMIN')
  })

  it('rejects unknown or empty names', () => {
    expect(() => withCapabilities({ add: ['NET_ADMN'] })).toThrow(InvalidArgumentError)
    expect(() => withCapabilities({ add: ['NET_ADMN'] })).toThrow(/--cap-add: unknown capability "NET_ADMN"/)
    expect(() => withCapabilities({ drop: [''] })).toThrow(/--cap-drop: empty capability name/)
  })
})

describe('withPrivileged', () => {
  const s = apply(withDefaultSeccomp(seccompHost), withSecurityOpt('apparmor=docker-default'), withPrivileged())

  it('grants every capability', () => {
    expect(bounding(s)).toEqual(KNOWN_CAPABILITIES)
    expect(s.process?.capabilities?.permitted).toEqual(KNOWN_CAPABILITIES)
  })

  it('removes masked and read-only paths, seccomp and AppArmor, and allows new privileges', () => {
    expect(s.linux?.maskedPaths).toBeUndefined()
    expect(s.linux?.readonlyPaths).toBeUndefined()
    expect(s.linux?.seccomp).toBeUndefined()
    expect(s.process?.apparmorProfile).toBeUndefined()
    expect(s.process?.noNewPrivileges).toBe(false)
  })

  it('makes sysfs and cgroupfs writable', () => {
    expect(s.mounts?.find((m) => m.destination === '/sys')?.options).toEqual(['nosuid', 'noexec', 'nodev', 'rw'])
    const withCgroup = applySpecOptions(
      { ociVersion: '1.3.0', mounts: [{ destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['ro', 'nosuid'] }] },
      [withPrivileged()],
    )
    expect(withCgroup.mounts?.[0]?.options).toEqual(['rw', 'nosuid'])
  })

  it('allows every device, and adds host devices when given', () => {
    expect(s.linux?.resources?.devices).toEqual([{ allow: true, access: 'rwm' }])
    const fuse = { path: '/dev/fuse', type: 'c', major: 10, minor: 229 }
    expect(apply(withPrivileged({ hostDevices: [fuse] })).linux?.devices).toEqual([fuse])
  })

  it('takes an explicit capability list (the daemon effective set)', () => {
    expect(bounding(apply(withPrivileged({ capabilities: ['SYS_ADMIN'] })))).toEqual(['CAP_SYS_ADMIN'])
  })
})

describe('seccomp', () => {
  it('withDefaultSeccomp reads the capabilities present when applied', () => {
    const before = apply(withDefaultSeccomp(seccompHost), withCapabilities({ add: ['SYS_ADMIN'] }))
    const after = apply(withCapabilities({ add: ['SYS_ADMIN'] }), withDefaultSeccomp(seccompHost))
    const allowsMount = (s: Spec): boolean => s.linux?.seccomp?.syscalls?.some((r) => r.names.includes('mount')) ?? false
    expect(allowsMount(before)).toBe(false)
    expect(allowsMount(after)).toBe(true)
  })

  it('seccomp=unconfined removes the profile; seccomp=builtin sets the default one', () => {
    expect(apply(withDefaultSeccomp(seccompHost), withSecurityOpt('seccomp=unconfined')).linux?.seccomp).toBeUndefined()
    expect(apply(withSecurityOpt('seccomp=builtin')).linux?.seccomp?.defaultAction).toBe('SCMP_ACT_ERRNO')
  })

  it('takes a profile as JSON text or as an object, copying it', () => {
    const profile: LinuxSeccomp = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['reboot'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 }] }
    expect(apply(withSecurityOpt(`seccomp=${JSON.stringify(profile)}`)).linux?.seccomp).toEqual(profile)
    const s = apply(withSecurityOpt({ seccomp: profile }))
    expect(s.linux?.seccomp).toEqual(profile)
    expect(s.linux?.seccomp).not.toBe(profile)
    expect(apply(withSeccompProfile(profile)).linux?.seccomp).toEqual(profile)
  })

  it('explains that file paths must be read by the caller, and rejects bad profiles', () => {
    expect(() => withSecurityOpt('seccomp=/etc/docker/seccomp.json')).toThrow(/looks like a file path; files are not read here/)
    expect(() => withSecurityOpt('seccomp={nope')).toThrow(/not valid JSON/)
    expect(() => withSecurityOpt('seccomp={"syscalls":[]}')).toThrow(/no "defaultAction"/)
    expect(() => withSecurityOpt('seccomp=')).toThrow(InvalidArgumentError)
  })
})

describe('withSecurityOpt', () => {
  it('sets or clears the AppArmor profile', () => {
    expect(apply(withSecurityOpt('apparmor=my-profile')).process?.apparmorProfile).toBe('my-profile')
    expect(apply(withSecurityOpt('apparmor=my-profile'), withSecurityOpt('apparmor=unconfined')).process?.apparmorProfile).toBeUndefined()
    expect(() => withSecurityOpt('apparmor=')).toThrow(/apparmor needs a profile/)
  })

  it('toggles no-new-privileges, with = or : and Go boolean spellings', () => {
    const off = applySpecOptions({ ociVersion: '1.3.0' }, [withSecurityOpt('no-new-privileges=false')])
    expect(off.process?.noNewPrivileges).toBe(false)
    expect(applySpecOptions(off, [withSecurityOpt('no-new-privileges')]).process?.noNewPrivileges).toBe(true)
    expect(applySpecOptions(off, [withSecurityOpt('no-new-privileges:true')]).process?.noNewPrivileges).toBe(true)
    expect(applySpecOptions(off, [withSecurityOpt('no-new-privileges=0')]).process?.noNewPrivileges).toBe(false)
    expect(() => withSecurityOpt('no-new-privileges=maybe')).toThrow(/not a boolean/)
  })

  it('systempaths=unconfined removes masked and read-only paths', () => {
    const s = apply(withSecurityOpt('systempaths=unconfined'))
    expect(s.linux?.maskedPaths).toBeUndefined()
    expect(s.linux?.readonlyPaths).toBeUndefined()
    expect(() => withSecurityOpt('systempaths=confined')).toThrow(/only systempaths value is unconfined/)
  })

  it('rejects unknown options, naming the valid ones', () => {
    expect(() => withSecurityOpt('label=disable')).toThrow(/--security-opt: unknown option "label=disable"; use seccomp=/)
  })
})

describe('withNoNewPrivileges', () => {
  it('sets or clears no_new_privs', () => {
    expect(apply(withNoNewPrivileges(false)).process?.noNewPrivileges).toBe(false)
    expect(apply(withNoNewPrivileges(false), withNoNewPrivileges()).process?.noNewPrivileges).toBe(true)
  })
})
