import { describe, expect, it } from 'vitest'
import { InvalidArgumentError } from '../../../src/grpc/errors.js'
import { DEFAULT_PATH_ENV, defaultLinuxSpec } from '../../../src/oci/default-spec.js'
import { withImageConfig } from '../../../src/oci/image-config-option.js'
import type { ImageConfig, ImageRuntimeConfig } from '../../../src/image-spec/image-config.js'
import { withEnv, withProcessArgs } from '../../../src/oci/process-options.js'
import { applySpecOptions } from '../../../src/oci/spec-options.js'
import { withGroupAdd, withUser } from '../../../src/oci/user-options.js'

const passwd = 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n'
const group = 'root:x:0:\napp:x:1000:\nextra:x:2000:app\n'
const spec = () => defaultLinuxSpec({ namespace: 'default', id: 'c1' })

const nginx: ImageRuntimeConfig = {
  Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'NGINX_VERSION=1.25.3'],
  Entrypoint: ['/docker-entrypoint.sh'],
  Cmd: ['nginx', '-g', 'daemon off;'],
  WorkingDir: '',
  StopSignal: 'SIGQUIT',
  ExposedPorts: { '80/tcp': {} },
}

describe('withImageConfig', () => {
  it('sets args = Entrypoint + Cmd, the image env, and cwd /', () => {
    const s = applySpecOptions(spec(), [withImageConfig(nginx)])
    expect(s.process?.args).toEqual(['/docker-entrypoint.sh', 'nginx', '-g', 'daemon off;'])
    expect(s.process?.env).toEqual(nginx.Env)
    expect(s.process?.cwd).toBe('/')
    expect(s.process?.user).toEqual({ uid: 0, gid: 0, additionalGids: [0] })
  })

  it('accepts the whole config blob as well as its config member', () => {
    const blob: ImageConfig = { architecture: 'amd64', os: 'linux', config: nginx, rootfs: { type: 'layers', diff_ids: [] } }
    expect(applySpecOptions(spec(), [withImageConfig(blob)]).process?.args?.[0]).toBe('/docker-entrypoint.sh')
  })

  it('applies a config as Docker writes it, with null for its empty members', () => {
    // The shape `image.config()` and a pull return (one ImageConfig type, no cast in between): Docker
    // serialises unset lists and maps as null, which the spec builder must read as absent.
    const docker: ImageConfig = {
      architecture: 'amd64',
      os: 'linux',
      config: { Env: ['PATH=/bin'], Entrypoint: null, Cmd: ['sh'], Labels: null, Volumes: null, OnBuild: null },
      rootfs: { type: 'layers', diff_ids: [] },
    }
    const s = applySpecOptions(spec(), [withImageConfig(docker)])
    expect(s.process?.args).toEqual(['sh'])
    expect(s.process?.env).toEqual(['PATH=/bin'])
    expect(applySpecOptions(spec(), [withImageConfig({ Entrypoint: ['/entry'], Cmd: null })]).process?.args).toEqual(['/entry'])
    // "Env": null (an image built without ENV) gets the default PATH, as an absent Env does.
    expect(applySpecOptions(spec(), [withImageConfig({ Env: null, Cmd: ['sh'] })]).process?.env?.[0]).toMatch(/^PATH=/)
  })

  it('replaces Cmd with args, and with an entrypoint override drops Cmd', () => {
    expect(applySpecOptions(spec(), [withImageConfig(nginx, { args: ['nginx', '-T'] })]).process?.args).toEqual(['/docker-entrypoint.sh', 'nginx', '-T'])
    expect(applySpecOptions(spec(), [withImageConfig(nginx, { entrypoint: ['/bin/sh'] })]).process?.args).toEqual(['/bin/sh'])
    expect(applySpecOptions(spec(), [withImageConfig(nginx, { entrypoint: ['/bin/sh'], args: ['-c', 'id'] })]).process?.args).toEqual(['/bin/sh', '-c', 'id'])
    expect(applySpecOptions(spec(), [withImageConfig(nginx, { entrypoint: [], args: ['id'] })]).process?.args).toEqual(['id'])
    // Empty args keep the image Cmd, as containerd does.
    expect(applySpecOptions(spec(), [withImageConfig(nginx, { args: [] })]).process?.args).toHaveLength(4)
  })

  it('fails when there is no command at all', () => {
    expect(() => withImageConfig({ Env: ['A=1'] })).toThrow(InvalidArgumentError)
    expect(() => withImageConfig({ Env: ['A=1'] })).toThrow(/no ENTRYPOINT or CMD; pass args/)
    expect(() => withImageConfig(nginx, { entrypoint: [] })).toThrow(/no command/)
  })

  it('uses the default PATH when the image has no env, and adds it when the image env lacks PATH', () => {
    expect(applySpecOptions(spec(), [withImageConfig({ Cmd: ['sh'] })]).process?.env).toEqual([DEFAULT_PATH_ENV])
    expect(applySpecOptions(spec(), [withImageConfig({ Cmd: ['sh'], Env: ['A=1'] })]).process?.env).toEqual(['A=1', DEFAULT_PATH_ENV])
  })

  it('layers user env over the image env by key, in either order', () => {
    const before = applySpecOptions(spec(), [withEnv(['NGINX_VERSION=custom', 'EXTRA=1']), withImageConfig(nginx)])
    const after = applySpecOptions(spec(), [withImageConfig(nginx), withEnv(['NGINX_VERSION=custom', 'EXTRA=1'])])
    const expected = [nginx.Env?.[0], 'NGINX_VERSION=custom', 'EXTRA=1']
    expect(before.process?.env).toEqual(expected)
    expect(after.process?.env).toEqual(expected)
  })

  it('uses WorkingDir', () => {
    expect(applySpecOptions(spec(), [withImageConfig({ Cmd: ['x'], WorkingDir: '/app' })]).process?.cwd).toBe('/app')
  })

  it('resolves USER by name with its supplementary groups', () => {
    const s = applySpecOptions(spec(), [withImageConfig({ Cmd: ['x'], User: 'app' }, { passwd, group })])
    expect(s.process?.user).toEqual({ uid: 1000, gid: 1000, additionalGids: [1000, 2000] })
  })

  it('resolves USER uid:gid without account files', () => {
    const s = applySpecOptions(spec(), [withImageConfig({ Cmd: ['x'], User: '65534:65534' })])
    expect(s.process?.user).toEqual({ uid: 65534, gid: 65534, additionalGids: [65534] })
  })

  it('lets the user override USER, and names the source in errors', () => {
    const s = applySpecOptions(spec(), [withImageConfig({ Cmd: ['x'], User: 'app' }, { passwd, group, user: 'root' })])
    expect(s.process?.user.uid).toBe(0)
    expect(() => withImageConfig({ Cmd: ['x'], User: 'ghost' }, { passwd, group })).toThrow(/image USER: unable to find user "ghost"/)
    expect(() => withImageConfig({ Cmd: ['x'] }, { passwd, group, user: 'ghost' })).toThrow(/--user: unable to find user "ghost"/)
  })

  it('keeps the umask when setting the user', () => {
    const s = spec()
    if (s.process) s.process.user.umask = 0o022
    applySpecOptions(s, [withImageConfig({ Cmd: ['x'], User: 'app' }, { passwd, group })])
    expect(s.process?.user.umask).toBe(0o022)
  })

  it('can be followed by explicit args', () => {
    expect(applySpecOptions(spec(), [withImageConfig(nginx), withProcessArgs(['true'])]).process?.args).toEqual(['true'])
  })
})

describe('withUser / withGroupAdd', () => {
  it('sets the user and its groups, replacing what the image set', () => {
    const s = applySpecOptions(spec(), [withImageConfig({ Cmd: ['x'] }, { passwd, group }), withUser('app', { passwd, group })])
    expect(s.process?.user).toEqual({ uid: 1000, gid: 1000, additionalGids: [1000, 2000] })
  })

  it('adds groups by gid or name, without duplicates, keeping the primary gid first', () => {
    const s = applySpecOptions(spec(), [withUser('app', { passwd, group }), withGroupAdd(['extra', '3000', '1000'], { passwd, group })])
    expect(s.process?.user.additionalGids).toEqual([1000, 2000, 3000])
    const bare = applySpecOptions(spec(), [withGroupAdd(['5'])])
    expect(bare.process?.user.additionalGids).toEqual([0, 5])
  })

  it('fails on unknown names when the option is created', () => {
    expect(() => withUser('ghost', { passwd })).toThrow(InvalidArgumentError)
    expect(() => withGroupAdd(['ghosts'], { group })).toThrow(/--group-add: unable to find group "ghosts"/)
  })
})
