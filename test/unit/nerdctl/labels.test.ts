import { describe, expect, it } from 'vitest'
import { InvalidArgumentError } from '../../../src/grpc/errors.js'
import { generateContainerId, isContainerId, shortContainerId } from '../../../src/nerdctl/container-id.js'
import {
  checkUserLabels,
  defaultContainerName,
  mountLabels,
  nerdctlAnnotations,
  nerdctlLabels,
  readMountLabels,
  readPortsLabel,
  withNerdctlAnnotations,
} from '../../../src/nerdctl/labels.js'
import { defaultLinuxSpec } from '../../../src/oci/default-spec.js'
import { formatPlatform, hostPlatform } from '../../../src/image-spec/platform.js'

const id = 'a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90'

describe('container ids', () => {
  it('are 64 lowercase hex characters, random, shown as 12', () => {
    const a = generateContainerId()
    const b = generateContainerId()
    expect(a).toMatch(/^[0-9a-f]{64}$/)
    expect(a).not.toBe(b)
    expect(isContainerId(a)).toBe(true)
    expect(isContainerId(a.toUpperCase())).toBe(false)
    expect(isContainerId('web')).toBe(false)
    expect(shortContainerId(a)).toBe(a.slice(0, 12))
    expect(shortContainerId('short')).toBe('short')
  })
})

describe('nerdctl labels', () => {
  it('writes the labels nerdctl create writes, with its defaults', () => {
    const labels = nerdctlLabels({ namespace: 'default', id, name: 'web', stateDir: '/var/lib/nerdctl/1935db59/containers/default/' + id })
    expect(labels).toEqual({
      'nerdctl/namespace': 'default',
      'nerdctl/name': 'web',
      'nerdctl/hostname': 'a1b2c3d4e5f6',
      'nerdctl/domainname': '',
      'nerdctl/extraHosts': '[]',
      'nerdctl/state-dir': '/var/lib/nerdctl/1935db59/containers/default/' + id,
      'nerdctl/networks': '["host"]',
      'nerdctl/platform': formatPlatform(hostPlatform()),
      'nerdctl/auto-remove': 'false',
      'nerdctl/host-config': '{"BlkioWeight":0,"CidFile":"","Devices":null}',
      'nerdctl/dns': '{"DNSServers":null,"DNSResolvConfOptions":null,"DNSSearchDomains":null}',
    })
  })

  it('writes the optional labels in nerdctl formats', () => {
    const labels = nerdctlLabels({
      namespace: 'ns',
      id,
      name: 'web',
      stateDir: '/s',
      hostname: 'box',
      domainname: 'example.org',
      extraHosts: ['db:10.0.0.2'],
      networks: ['none'],
      platform: 'linux/aarch64/v8',
      logUri: 'binary:///usr/bin/logger?x=1',
      logConfig: { driver: 'json-file', opts: { 'max-size': '1m' }, address: '/run/containerd/containerd.sock' },
      autoRemove: true,
      ports: [{ HostPort: 8080, ContainerPort: 80, Protocol: 'tcp', HostIP: '0.0.0.0' }],
      anonymousVolumes: ['vol1'],
      exposedPorts: ['80/tcp', '53/udp'],
      user: 'nobody',
      stopTimeout: 5,
      privileged: true,
    })
    expect(labels['nerdctl/hostname']).toBe('box')
    expect(labels['nerdctl/domainname']).toBe('example.org')
    expect(labels['nerdctl/extraHosts']).toBe('["db:10.0.0.2"]')
    expect(labels['nerdctl/networks']).toBe('["none"]')
    expect(labels['nerdctl/platform']).toBe('linux/arm64')
    expect(labels['nerdctl/log-uri']).toBe('binary:///usr/bin/logger?x=1')
    expect(labels['nerdctl/log-config']).toBe('{"driver":"json-file","opts":{"max-size":"1m"},"address":"/run/containerd/containerd.sock"}')
    expect(labels['nerdctl/auto-remove']).toBe('true')
    expect(labels['nerdctl/ports']).toBe('[{"HostPort":8080,"ContainerPort":80,"Protocol":"tcp","HostIP":"0.0.0.0"}]')
    expect(labels['nerdctl/anonymous-volumes']).toBe('["vol1"]')
    expect(labels['nerdctl/exposed-ports']).toBe('{"53/udp":{},"80/tcp":{}}')
    expect(labels['nerdctl/user']).toBe('nobody')
    expect(labels['nerdctl/stop-timeout']).toBe('5')
    expect(labels['nerdctl/privileged']).toBe('true')
    // Without opts the log config omits them, like Go's omitempty.
    expect(nerdctlLabels({ namespace: 'ns', id, name: 'w1', stateDir: '/s', logUri: 'file:///x' })['nerdctl/log-config']).toBe('{"driver":"json-file","address":""}')
  })

  it('refuses values over containerd’s label size limit and bad platforms', () => {
    expect(() => nerdctlLabels({ namespace: 'ns', id, name: 'web', stateDir: '/s', extraHosts: ['h:' + 'x'.repeat(5000)] })).toThrow(InvalidArgumentError)
    expect(() => nerdctlLabels({ namespace: 'ns', id, name: 'web', stateDir: '/s', platform: 'linux//' })).toThrow(InvalidArgumentError)
  })

  it('stores mounts one label each and reads them back (and the legacy single label)', () => {
    const mounts = [
      { Type: 'bind', Source: '/host', Destination: '/data', Mode: 'ro,rprivate', RW: false, Propagation: 'rprivate' },
      { Type: 'volume', Name: 'v', Source: '/var/lib/nerdctl/x/volumes/ns/v/_data', Destination: '/v', Driver: 'local', Mode: '', RW: true, Propagation: '' },
    ]
    const labels = mountLabels(mounts)
    expect(Object.keys(labels)).toEqual(['nerdctl/mounts.0', 'nerdctl/mounts.1'])
    expect(labels['nerdctl/mounts.0']).toBe('{"Type":"bind","Source":"/host","Destination":"/data","Mode":"ro,rprivate","RW":false,"Propagation":"rprivate"}')
    expect(readMountLabels(labels)).toEqual(mounts)
    expect(readMountLabels({ 'nerdctl/mounts': JSON.stringify([mounts[0]]) })).toEqual([mounts[0]])
    expect(readMountLabels({ 'nerdctl/mounts.1': labels['nerdctl/mounts.1'] as string })).toEqual([])
  })

  it('reads legacy port labels whatever the field case, as Go does', () => {
    expect(readPortsLabel({ 'nerdctl/ports': '[{"hostPort":8080,"containerPort":80,"protocol":"udp","hostIP":"127.0.0.1"}]' })).toEqual([
      { HostPort: 8080, ContainerPort: 80, Protocol: 'udp', HostIP: '127.0.0.1' },
    ])
    expect(readPortsLabel({ 'nerdctl/ports': 'not json' })).toEqual([])
    expect(readPortsLabel({})).toEqual([])
  })

  it('copies only the nerdctl labels into spec annotations', () => {
    const labels = { ...nerdctlLabels({ namespace: 'ns', id, name: 'web', stateDir: '/s' }), app: 'x' }
    expect(Object.keys(nerdctlAnnotations(labels)).every((k) => k.startsWith('nerdctl/'))).toBe(true)
    const spec = defaultLinuxSpec({ namespace: 'ns', id: 'c1' })
    spec.annotations = { mine: 'kept' }
    withNerdctlAnnotations(labels)(spec)
    expect(spec.annotations['mine']).toBe('kept')
    expect(spec.annotations['nerdctl/state-dir']).toBe('/s')
    expect(spec.annotations['app']).toBeUndefined()
  })

  it('refuses user labels in nerdctl’s namespace', () => {
    expect(() => checkUserLabels({ 'nerdctl/name': 'x' })).toThrow(InvalidArgumentError)
    expect(() => checkUserLabels({ 'com.example/nerdctl': 'x', app: 'y' })).not.toThrow()
  })

  it('names containers like nerdctl: image base name and 5 id characters', () => {
    expect(defaultContainerName('docker.io/library/nginx:alpine', id)).toBe('nginx-a1b2c')
    expect(defaultContainerName('busybox', id)).toBe('busybox-a1b2c')
    expect(defaultContainerName('ghcr.io/org/team/app@sha256:' + 'a'.repeat(64), id)).toBe('app-a1b2c')
    expect(defaultContainerName('localhost:5000/tool', id)).toBe('tool-a1b2c')
    expect(defaultContainerName('', id)).toBe('untitled-a1b2c')
  })
})
