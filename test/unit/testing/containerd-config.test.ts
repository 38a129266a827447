import { describe, it, expect } from 'vitest'
import { renderContainerdConfig } from '../../../src/testing/containerd-config.js'
import type { ContainerdPaths } from '../../../src/testing/containerd-config.js'

const paths: ContainerdPaths = {
  root: '/tmp/csdk/root',
  state: '/tmp/csdk/state',
  address: '/tmp/csdk/containerd.sock',
}

describe('renderContainerdConfig', () => {
  it.each(['1.6', '1.7'] as const)('%s: config version 2 with the CRI plugin disabled', (line) => {
    const config = renderContainerdConfig(line, paths)
    expect(config).toBe(
      [
        'version = 2',
        'root = "/tmp/csdk/root"',
        'state = "/tmp/csdk/state"',
        'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
        '',
        '[grpc]',
        '  address = "/tmp/csdk/containerd.sock"',
        '',
        '[ttrpc]',
        '  address = "/tmp/csdk/containerd.sock.ttrpc"',
        '',
        '[metrics]',
        '  address = ""',
        '',
      ].join('\n'),
    )
  })

  it('2.x: config version 3 with every CRI plugin disabled', () => {
    const config = renderContainerdConfig('2.x', paths)
    const lines = config.split('\n')
    expect(lines[0]).toBe('version = 3')
    expect(lines).toContain(
      'disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.cri.v1.images", "io.containerd.cri.v1.runtime", "io.containerd.podsandbox.controller.v1.podsandbox"]',
    )
    expect(config).not.toContain('version = 2')
    expect(lines).toContain('root = "/tmp/csdk/root"')
    expect(lines).toContain('state = "/tmp/csdk/state"')
    expect(lines).toContain('  address = "/tmp/csdk/containerd.sock"')
    expect(lines).toContain('  address = "/tmp/csdk/containerd.sock.ttrpc"')
  })

  it('1.x configs do not mention the 2.x-only plugins', () => {
    for (const line of ['1.6', '1.7'] as const) {
      const config = renderContainerdConfig(line, paths)
      expect(config).not.toContain('io.containerd.cri.v1')
      expect(config).not.toContain('podsandbox')
    }
  })

  it('ends with a newline and has the sections in order', () => {
    const config = renderContainerdConfig('2.x', paths)
    expect(config.endsWith('\n')).toBe(true)
    const grpc = config.indexOf('[grpc]')
    const ttrpc = config.indexOf('[ttrpc]')
    const metrics = config.indexOf('[metrics]')
    expect(grpc).toBeGreaterThan(config.indexOf('disabled_plugins'))
    expect(ttrpc).toBeGreaterThan(grpc)
    expect(metrics).toBeGreaterThan(ttrpc)
  })

  it('quotes and escapes paths with spaces, quotes and backslashes', () => {
    const odd: ContainerdPaths = {
      root: '/tmp/with space/root',
      state: '/tmp/"quoted"/state',
      address: '/tmp/back\\slash/c.sock',
    }
    const config = renderContainerdConfig('1.7', odd)
    expect(config).toContain('root = "/tmp/with space/root"')
    expect(config).toContain('state = "/tmp/\\"quoted\\"/state"')
    expect(config).toContain('  address = "/tmp/back\\\\slash/c.sock"')
    expect(config).toContain('  address = "/tmp/back\\\\slash/c.sock.ttrpc"')
  })

  it('every path value parses back (TOML basic strings share JSON escapes here)', () => {
    const odd: ContainerdPaths = { root: '/r "x"', state: '/s\\t', address: '/a\tb' }
    const config = renderContainerdConfig('2.x', odd)
    const values = [...config.matchAll(/^\s*(root|state|address) = (".*")$/gm)].map((m) => [m[1], JSON.parse(m[2]!) as string])
    expect(values).toEqual([
      ['root', '/r "x"'],
      ['state', '/s\\t'],
      ['address', '/a\tb'],
      ['address', '/a\tb.ttrpc'],
      ['address', ''],
    ])
  })
})
