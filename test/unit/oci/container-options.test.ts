import { describe, expect, it } from 'vitest'
import { InvalidArgumentError } from '../../../src/grpc/errors.js'
import {
  withAnnotations,
  withCgroupParent,
  withCgroupsPath,
  withDomainname,
  withHostname,
  withSysctls,
} from '../../../src/oci/container-options.js'
import { defaultLinuxSpec } from '../../../src/oci/default-spec.js'
import type { Spec } from '../../../src/oci/runtime-spec.js'
import { applySpecOptions, composeSpecOptions, type SpecOption } from '../../../src/oci/spec-options.js'

const apply = (...options: SpecOption[]): Spec => applySpecOptions(defaultLinuxSpec({ namespace: 'default', id: 'c1' }), options)

describe('hostname and domain name', () => {
  it('sets them', () => {
    const s = apply(withHostname('web-1'), withDomainname('example.com'))
    expect(s.hostname).toBe('web-1')
    expect(s.domainname).toBe('example.com')
  })

  it('also sets the kernel.domainname sysctl, for runtimes that ignore the field, keeping an explicit one', () => {
    expect(apply(withDomainname('example.com')).linux?.sysctl).toEqual({ 'kernel.domainname': 'example.com' })
    expect(apply(withSysctls({ 'kernel.domainname': 'mine' }), withDomainname('example.com')).linux?.sysctl).toEqual({ 'kernel.domainname': 'mine' })
    expect(apply(withDomainname('example.com'), withSysctls({ 'kernel.domainname': 'later' })).linux?.sysctl).toEqual({ 'kernel.domainname': 'later' })
  })

  it('rejects names the kernel would refuse', () => {
    expect(() => withHostname('')).toThrow(/--hostname: empty name/)
    expect(() => withHostname('a'.repeat(65))).toThrow(/longer than 64 characters/)
    expect(() => withHostname('my host')).toThrow(InvalidArgumentError)
    expect(() => withDomainname('a/b')).toThrow(/--domainname/)
  })
})

describe('annotations and sysctls', () => {
  it('merges annotations', () => {
    const s = apply(withAnnotations({ 'nerdctl/name': 'web', a: '1' }), withAnnotations({ a: '2' }))
    expect(s.annotations).toEqual({ 'nerdctl/name': 'web', a: '2' })
    expect(() => withAnnotations({ '': 'x' })).toThrow(/--annotation: empty key/)
  })

  it('sets sysctls from a map or key=value strings', () => {
    const s = apply(withSysctls(['net.ipv4.ip_unprivileged_port_start=0', 'kernel.msgmax=65536']), withSysctls({ 'net.core.somaxconn': '1024' }))
    expect(s.linux?.sysctl).toEqual({ 'net.ipv4.ip_unprivileged_port_start': '0', 'kernel.msgmax': '65536', 'net.core.somaxconn': '1024' })
    expect(() => withSysctls(['net.ipv4.ip_forward'])).toThrow(/--sysctl: "net.ipv4.ip_forward" is not key=value/)
    expect(() => withSysctls({ 'bad key': '1' })).toThrow(/invalid key/)
  })
})

describe('cgroup path', () => {
  it('joins a cgroupfs parent with the id', () => {
    expect(apply(withCgroupParent('/mygroup', { id: 'c1' })).linux?.cgroupsPath).toBe('/mygroup/c1')
    expect(apply(withCgroupParent('mygroup/', { id: 'c1' })).linux?.cgroupsPath).toBe('mygroup/c1')
  })

  it('forms slice:prefix:id for the systemd driver', () => {
    expect(apply(withCgroupParent('machine.slice', { id: 'c1', systemd: true })).linux?.cgroupsPath).toBe('machine.slice:nerdctl:c1')
    expect(apply(withCgroupParent('machine.slice', { id: 'c1', systemd: true, prefix: 'faasd' })).linux?.cgroupsPath).toBe('machine.slice:faasd:c1')
    expect(() => withCgroupParent('/mygroup', { id: 'c1', systemd: true })).toThrow(/is not a systemd slice/)
    expect(() => withCgroupParent('.slice', { id: 'c1', systemd: true })).toThrow(InvalidArgumentError)
    expect(() => withCgroupParent('', { id: 'c1' })).toThrow(/--cgroup-parent: empty parent/)
  })

  it('sets or clears a raw path', () => {
    expect(apply(withCgroupsPath('system.slice:x:y')).linux?.cgroupsPath).toBe('system.slice:x:y')
    expect(apply(withCgroupsPath('')).linux?.cgroupsPath).toBeUndefined()
  })
})

describe('applySpecOptions / composeSpecOptions', () => {
  it('apply in order, mutate and return the same spec', () => {
    const spec = defaultLinuxSpec({ namespace: 'default', id: 'c1' })
    const out = applySpecOptions(spec, [withHostname('a'), composeSpecOptions(withHostname('b'), withDomainname('d'))])
    expect(out).toBe(spec)
    expect(out.hostname).toBe('b')
    expect(out.domainname).toBe('d')
  })

  it('accept any iterable', () => {
    function* options(): Generator<SpecOption> {
      yield withHostname('gen')
    }
    expect(applySpecOptions({ ociVersion: '1.3.0' }, options()).hostname).toBe('gen')
  })
})
