import { describe, expect, it } from 'vitest'
import { defaultBuildKitAddresses, parseBuildKitAddress } from '../../../src/build/buildkit-address.js'
import { InvalidArgumentError } from '../../../src/grpc/errors.js'

describe('parseBuildKitAddress', () => {
  it('reads unix, tcp and docker addresses', () => {
    expect(parseBuildKitAddress('unix:///run/buildkit/buildkitd.sock')).toEqual({ kind: 'unix', address: 'unix:///run/buildkit/buildkitd.sock', path: '/run/buildkit/buildkitd.sock' })
    expect(parseBuildKitAddress('/run/b.sock')).toEqual({ kind: 'unix', address: 'unix:///run/b.sock', path: '/run/b.sock' })
    expect(parseBuildKitAddress('tcp://127.0.0.1:1234')).toEqual({ kind: 'tcp', address: 'tcp://127.0.0.1:1234', host: '127.0.0.1', port: 1234 })
    expect(parseBuildKitAddress('tcp://[::1]:1234')).toMatchObject({ kind: 'tcp', host: '::1', port: 1234 })
    expect(parseBuildKitAddress('docker://unix:///var/run/docker.sock')).toEqual({ kind: 'docker', address: 'docker://unix:///var/run/docker.sock', socketPath: '/var/run/docker.sock' })
    expect(parseBuildKitAddress('docker://')).toMatchObject({ kind: 'docker', socketPath: '/var/run/docker.sock' })
  })

  it('refuses other forms with the accepted ones named', () => {
    for (const bad of ['http://x:1', 'tcp://host', 'unix://relative.sock', 'docker://tcp://1.2.3.4:2375', 'buildkitd.sock']) {
      expect(() => parseBuildKitAddress(bad)).toThrow(InvalidArgumentError)
    }
    expect(() => parseBuildKitAddress('http://x:1')).toThrow(/unix:\/\/\/path, tcp:\/\/host:port or docker:\/\//)
  })
})

describe('defaultBuildKitAddresses', () => {
  it('takes BUILDKIT_HOST alone, else the default sockets in nerdctl order', () => {
    expect(defaultBuildKitAddresses({ BUILDKIT_HOST: 'tcp://b:1' })).toEqual(['tcp://b:1'])
    expect(defaultBuildKitAddresses({})).toEqual(['unix:///run/buildkit/buildkitd.sock', 'unix:///run/buildkit-default/buildkitd.sock'])
    expect(defaultBuildKitAddresses({ BUILDKIT_HOST: '' })).toHaveLength(2)
  })
})
