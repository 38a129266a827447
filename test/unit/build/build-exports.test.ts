import { describe, expect, it } from 'vitest'
import { PassThrough } from 'node:stream'
import { isClassicDockerd, planExports, takesSeveralExporters, type BuilderTraits } from '../../../src/build/build-exports.js'
import { InvalidArgumentError, NotImplementedError } from '../../../src/grpc/errors.js'
import type { BuildKitInfo, BuildKitWorker } from '../../../src/build/buildkit-records.js'

const info = (version: string | undefined): BuildKitInfo => ({ version, package: undefined, revision: undefined, source: version === undefined ? 'unknown' : 'info', hasInfoRpc: version !== undefined })
const worker = (executor: string): BuildKitWorker => ({ id: 'w', labels: { 'org.mobyproject.buildkit.worker.executor': executor }, platforms: ['linux/amd64'], buildkitVersion: undefined })
const classic: BuilderTraits = { dockerSocket: '/run/docker.sock', info: info(undefined), workers: [worker('oci')] }
const dockerContainerd: BuilderTraits = { dockerSocket: '/run/docker.sock', info: info('v0.25.2'), workers: [worker('containerd')] }
const buildkitd: BuilderTraits = { dockerSocket: undefined, info: info('v0.13.0'), workers: [worker('oci')] }

describe('planExports', () => {
  it("exports the image into dockerd's classic store under a name of its own", () => {
    const plan = planExports([{ type: 'image' }], classic)
    expect(isClassicDockerd(classic)).toBe(true)
    expect(plan.exporters).toHaveLength(1)
    expect(plan.exporters[0]?.type).toBe('moby')
    const name = plan.exporters[0]?.attrs['name'] ?? ''
    expect(name).toMatch(/^csdk-build-[0-9a-f]{16}:latest$/)
    expect(plan.image).toEqual({ kind: 'moby', socketPath: '/run/docker.sock', name })
    expect(plan.targets.size).toBe(0)
  })

  it('takes a docker tarball over the session from any other BuildKit', async () => {
    for (const traits of [dockerContainerd, buildkitd]) {
      const plan = planExports([{ type: 'image' }, { type: 'local', dest: '/tmp/out' }], traits)
      expect(plan.exporters.map((e) => e.type)).toEqual(['docker', 'local'])
      expect(plan.image.kind).toBe('tarball')
      const target = plan.targets.get('0')
      if (target?.kind !== 'stream' || plan.image.kind !== 'tarball') throw new Error('expected a stream target')
      expect(plan.image.opened).toBe(false)
      expect(await target.open({})).toBe(plan.image.sink)
      expect(plan.image.opened).toBe(true)
      expect(plan.targets.get('1')).toEqual({ kind: 'directory', dir: '/tmp/out' })
    }
  })

  it('passes a caller stream as it is, and exports nothing for cacheonly', async () => {
    const stream = new PassThrough()
    const plan = planExports([{ type: 'tar', dest: stream }], buildkitd)
    const target = plan.targets.get('0')
    if (target?.kind !== 'stream') throw new Error('expected a stream target')
    expect(await target.open({})).toBe(stream)
    expect(planExports([{ type: 'cacheonly' }], classic).exporters).toEqual([])
  })

  it('refuses what the builder cannot export, before anything is sent', () => {
    expect(() => planExports([{ type: 'oci', dest: 'x.tar' }], classic)).toThrow(InvalidArgumentError)
    expect(() => planExports([{ type: 'image' }, { type: 'tar', dest: 'x.tar' }], classic)).toThrow(NotImplementedError)
    expect(() => planExports([{ type: 'image' }, { type: 'tar', dest: 'x.tar' }], { ...buildkitd, info: info('v0.12.5') })).toThrow(/v0.13/)
  })

  it("lets BuildKit's image exporter land the image when its worker is the client's containerd and namespace", () => {
    const labels = { 'org.mobyproject.buildkit.worker.executor': 'containerd', 'org.mobyproject.buildkit.worker.containerd.uuid': 'u-1', 'org.mobyproject.buildkit.worker.containerd.namespace': 'moby' }
    const traits: BuilderTraits = { ...dockerContainerd, workers: [{ ...worker('containerd'), labels }], client: { uuid: 'u-1', namespace: 'moby' } }
    const plan = planExports([{ type: 'image' }], traits, ['app', 'example.com/x:2'])
    expect(plan.exporters).toEqual([{ type: 'image', attrs: { name: 'docker.io/library/app:latest,example.com/x:2', unpack: 'true' } }])
    expect(plan.image).toEqual({ kind: 'direct', names: ['docker.io/library/app:latest', 'example.com/x:2'] })
    // Another namespace, or another containerd: a tarball over the session.
    expect(planExports([{ type: 'image' }], { ...traits, client: { uuid: 'u-1', namespace: 'default' } }, ['app']).image.kind).toBe('tarball')
    expect(planExports([{ type: 'image' }], { ...traits, client: { uuid: 'u-2', namespace: 'moby' } }, ['app']).image.kind).toBe('tarball')
  })

  it('reads the version for several exporters', () => {
    // dockerd's BuildKit is not stamped: dockerd's own version tells (26.0 embeds v0.13).
    expect(takesSeveralExporters(info('v0.0.0+unknown'), '28.5.1')).toBe(true)
    expect(takesSeveralExporters(info('v0.0.0+unknown'), '25.0.3')).toBe(false)
    expect(takesSeveralExporters(info('v0.0.0+unknown'))).toBe(false)
    expect(takesSeveralExporters(info('v0.13.1'))).toBe(true)
    expect(takesSeveralExporters(info('v0.25.2'))).toBe(true)
    expect(takesSeveralExporters(info('v1.0.0'))).toBe(true)
    expect(takesSeveralExporters(info('v0.12.5'))).toBe(false)
    expect(takesSeveralExporters(info(undefined))).toBe(false)
  })
})
