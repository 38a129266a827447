import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ClientCore } from '../../../src/client/client.js'
import { InvalidArgumentError } from '../../../src/grpc/errors.js'
import { buildContainerSpec, type ContainerSpecOptions } from '../../../src/containers/container-spec.js'
import type { ImageConfig } from '../../../src/image-spec/image-config.js'
import type { ImageManifest } from '../../../src/image-spec/manifest.js'
import { withMemory } from '../../../src/oci/resource-options.js'
import { withSeccompProfile } from '../../../src/oci/security-options.js'

// Without a user name or group name to resolve, building a spec reads nothing from the daemon: a client that
// fails on any use proves it, and lets the whole pipeline (image config, flags, specOptions) run here.
const noDaemon = new Proxy({}, { get: (_t, key) => { throw new Error(`the daemon was used (${String(key)})`) } }) as ClientCore
const manifest = { schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: '', digest: '', size: 0 }, layers: [] } satisfies ImageManifest
const config = {
  architecture: 'amd64',
  os: 'linux',
  rootfs: { type: 'layers', diff_ids: [] },
  config: { Env: ['PATH=/bin', 'FROM=image'], Entrypoint: ['/entry'], Cmd: ['default'], WorkingDir: '/app' },
} satisfies ImageConfig
const build = (options: ContainerSpecOptions) => buildContainerSpec(noDaemon, { namespace: 'ns', id: 'c1', manifest, config }, options)

let dir: string
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'csdk-container-spec-'))
})
afterAll(async () => rm(dir, { recursive: true, force: true }))

describe('buildContainerSpec', () => {
  it('applies the image config, then the flags with nerdctl defaults, then specOptions', async () => {
    const envFile = join(dir, 'app.env')
    await writeFile(envFile, 'FROM=file\nFILE=1\n')
    const spec = await build({
      args: ['serve'],
      user: '1000:1000',
      envFile,
      env: ['FLAG=1'],
      memory: '128m',
      capDrop: ['NET_RAW'],
      readOnly: true,
      specOptions: [withMemory('256m')],
    })
    expect(spec.process?.args).toEqual(['/entry', 'serve'])
    expect(spec.process?.cwd).toBe('/app')
    expect(spec.process?.user).toEqual({ uid: 1000, gid: 1000, additionalGids: [1000] })
    expect(spec.process?.env).toEqual(['PATH=/bin', 'FROM=file', 'FILE=1', 'FLAG=1'])
    expect(spec.process?.capabilities?.bounding).not.toContain('CAP_NET_RAW')
    expect(spec.process?.noNewPrivileges).toBe(false)
    expect(spec.linux?.seccomp?.defaultAction).toBe('SCMP_ACT_ERRNO')
    expect(spec.root?.readonly).toBe(true)
    expect(spec.mounts?.some((m) => m.destination === '/sys/fs/cgroup')).toBe(true)
    // specOptions come last and win.
    expect(spec.linux?.resources?.memory?.limit).toBe(256 * 1024 * 1024)
    expect((await build({ specOptions: [withSeccompProfile('unconfined')] })).linux?.seccomp).toBeUndefined()
  })

  it('overrides entrypoint and workdir, and refuses bad flags', async () => {
    const spec = await build({ entrypoint: ['/bin/sh', '-c'], args: ['echo hi'], workdir: '/tmp' })
    expect(spec.process?.args).toEqual(['/bin/sh', '-c', 'echo hi'])
    expect(spec.process?.cwd).toBe('/tmp')
    await expect(build({ memory: 'abc' })).rejects.toBeInstanceOf(InvalidArgumentError)
    await expect(build({ cpus: -1 })).rejects.toThrow(/--cpus/)
    await expect(build({ envFile: join(dir, 'missing.env') })).rejects.toThrow(/--env-file: cannot read/)
  })
})
