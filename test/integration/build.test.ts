import { randomBytes } from 'node:crypto'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { get } from 'node:http'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BuildError, BuildKit, CanceledError, Client, InvalidArgumentError, NotFoundError, type BuildProgressEvent } from '../../src/index.js'
import { busyboxImage } from '../fixtures/index.js'
import { startDockerd, type DockerdDaemon, type DockerdLine } from '../env/dockerd.js'
import { pushFixture, startRegistry, type Registry } from '../env/registry/index.js'
import { connectTestClient, daemonLine } from '../env/test-client.js'
import type { ContainerdLine } from '../../src/testing/index.js'

// client.build() end to end: a Dockerfile built by the BuildKit inside a private dockerd (its base image
// from a private registry), the image landed in the test's containerd namespace and run there. Three
// builders: dockerd 20.10 (BuildKit v0.8) and 28.5 with the classic image store (the image comes back as
// `docker save`), and 28.5 with the containerd image store (a `docker` tarball over the session).
const projectLine = daemonLine()
const containerdLine: ContainerdLine = projectLine === '1.7' || projectLine === '2.x' ? projectLine : '1.6'
const client = await connectTestClient('build')
let registry: Registry
let base: string

beforeAll(async () => {
  registry = await startRegistry({ mode: 'plain' })
  base = (await pushFixture(registry, await busyboxImage(), 'library/busybox', 'latest')).reference
}, 120_000)
afterAll(async () => {
  await registry?.stop()
})

interface Builder { line: DockerdLine; containerdImageStore: boolean }
const builders: Builder[] = [
  { line: '20.10', containerdImageStore: false },
  { line: '28.5', containerdImageStore: false },
  { line: '28.5', containerdImageStore: true },
]

describe.each(builders)('build() on dockerd $line (containerd image store: $containerdImageStore)', ({ line, containerdImageStore }) => {
  let dockerd: DockerdDaemon
  let dir: string
  const tag = (name: string): string => `example.com/build-${line.replace('.', '')}-${containerdImageStore ? 'ctd' : 'classic'}/${name}:1`
  beforeAll(async () => {
    dockerd = await startDockerd(line, { containerdLine, containerdImageStore })
    dir = await mkdtemp(join(tmpdir(), 'csdk-build-'))
  }, 120_000)
  afterAll(async () => {
    await dockerd?.stop()
    if (dir !== undefined) await rm(dir, { recursive: true, force: true })
  })

  async function context(name: string, files: Record<string, string>): Promise<string> {
    const ctx = join(dir, name)
    await mkdir(ctx, { recursive: true })
    for (const [file, content] of Object.entries(files)) {
      await mkdir(join(ctx, file, '..'), { recursive: true })
      await writeFile(join(ctx, file), content)
    }
    return ctx
  }

  it('builds a multi-stage Dockerfile with a build arg, a secret and .dockerignore, and the image runs', async () => {
    const ctx = await context('multi', {
      'Dockerfile': [
        `FROM ${base} AS build`,
        'ARG MSG',
        'RUN mkdir /out && echo "$MSG" > /out/msg',
        'RUN --mount=type=secret,id=token wc -c < /run/secrets/token > /out/token-bytes',
        `FROM ${base}`,
        'COPY --from=build /out/ /out/',
        'COPY app/ /app/',
        'CMD ["sh", "-c", "cat /out/msg /out/token-bytes; ls /app"]',
        '',
      ].join('\n'),
      '.dockerignore': 'app/secret.txt\n',
      'app/kept.txt': 'kept\n',
      'app/secret.txt': 'must not be sent\n',
    })
    const events: BuildProgressEvent[] = []
    const result = await client.build({
      context: ctx,
      tags: [tag('multi')],
      buildArgs: { MSG: 'hello from the build' },
      secrets: [{ id: 'token', value: 'twelve bytes' }],
      network: 'none',
      builder: dockerd.buildkitAddress,
      onProgress: (e) => events.push(e),
    })
    expect(result.images.map((i) => i.name)).toEqual([tag('multi')])
    // The route the image took: dockerd's classic store has no containerd worker (the image came back
    // as `docker save`, and the build's own name there is gone again); the containerd store has one.
    await using builder = await BuildKit.connect({ address: dockerd.buildkitAddress })
    const executors = (await builder.workers()).map((w) => w.labels['org.mobyproject.buildkit.worker.executor'])
    expect(executors.includes('containerd')).toBe(containerdImageStore)
    expect((await dockerImageNames(dockerd.socketPath)).filter((n) => n.startsWith('csdk-build-'))).toEqual([])
    expect(events.some((e) => e.type === 'vertex' && e.vertex.name.includes('RUN mkdir /out'))).toBe(true)
    const run = await client.run(tag('multi'), { rm: true, stdio: 'pipe', network: 'none' })
    expect(run.exitCode).toBe(0)
    expect(run.stdout).toBe('hello from the build\n12\nkept.txt\n')
  }, 180_000)

  it('throws a BuildError naming a failing step with its output, and tags nothing', async () => {
    const ctx = await context('failing', { Dockerfile: `FROM ${base}\nRUN echo about to fail && false\n` })
    const error = await client.build({ context: ctx, tags: [tag('failing')], network: 'none', builder: dockerd.buildkitAddress }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(BuildError)
    const buildError = error as BuildError
    expect(buildError.step).toContain('RUN echo about to fail && false')
    expect(buildError.logs.join('\n')).toContain('about to fail')
    await expect(client.images.get(tag('failing'))).rejects.toBeInstanceOf(NotFoundError)
  }, 180_000)

  it('cancels a running build: CanceledError at once, nothing tagged', async () => {
    const ctx = await context('cancel', { Dockerfile: `FROM ${base}\nRUN sleep 60\n` })
    const abort = new AbortController()
    const started = Date.now()
    const building = client.build({
      context: ctx,
      tags: [tag('cancel')],
      network: 'none',
      builder: dockerd.buildkitAddress,
      signal: abort.signal,
      onProgress: (e) => { if (e.type === 'vertex' && e.vertex.name.includes('sleep 60') && e.vertex.started !== undefined) abort.abort() },
    })
    await expect(building).rejects.toBeInstanceOf(CanceledError)
    expect(Date.now() - started).toBeLessThan(45_000)
    await expect(client.images.get(tag('cancel'))).rejects.toBeInstanceOf(NotFoundError)
  }, 120_000)

  it('writes local and tar outputs', async () => {
    const ctx = await context('outputs', { 'Dockerfile': 'FROM scratch\nCOPY out.txt /out.txt\n', 'out.txt': 'an output\n' })
    const dest = join(dir, 'local-out')
    await client.build({ context: ctx, outputs: [{ type: 'local', dest }], builder: dockerd.buildkitAddress })
    expect(await readFile(join(dest, 'out.txt'), 'utf8')).toBe('an output\n')
    const tarFile = join(dir, 'out.tar')
    await client.build({ context: ctx, outputs: [{ type: 'tar', dest: tarFile }], builder: dockerd.buildkitAddress })
    const tar = await readFile(tarFile)
    expect(tar.includes(Buffer.from('an output\n'))).toBe(true)
    expect(tar.subarray(0, 100).toString('utf8')).toContain('out.txt')
  }, 120_000)

  it.runIf(containerdImageStore)('exports the image and a local copy in one build (BuildKit v0.13+)', async () => {
    const ctx = await context('two-outputs', { 'Dockerfile': 'FROM scratch\nCOPY two.txt /two.txt\n', 'two.txt': 'two outputs\n' })
    const dest = join(dir, 'two-out')
    const result = await client.build({ context: ctx, tags: [tag('two')], outputs: [{ type: 'image' }, { type: 'local', dest }], builder: dockerd.buildkitAddress })
    expect(result.images.map((i) => i.name)).toEqual([tag('two')])
    expect(await readFile(join(dest, 'two.txt'), 'utf8')).toBe('two outputs\n')
  }, 120_000)

  // Not on dockerd's classic store: its images come back as `docker save` writes them (uncompressed
  // layers), so the inline cache's references to the compressed blobs BuildKit made no longer resolve.
  it.runIf(containerdImageStore)('exports an inline cache with the image and reuses it from the registry after the builder forgot it', async () => {
    const ctx = await context('cache', { Dockerfile: `FROM ${base}\nARG SALT\nRUN echo "$SALT" > /salt && sleep 1\n` })
    const salt = `${line}-${containerdImageStore}-${Date.now()}`
    const ref = `${registry.host}/cache/${line.replace('.', '')}-${containerdImageStore ? 'ctd' : 'classic'}:1`
    await client.build({ context: ctx, tags: [ref], buildArgs: { SALT: salt }, cacheTo: ['type=inline'], network: 'none', builder: dockerd.buildkitAddress })
    await client.images.push(ref)
    await using builder = await BuildKit.connect({ address: dockerd.buildkitAddress })
    await builder.prune({ all: true })
    const cached: string[] = []
    await client.build({
      context: ctx,
      outputs: [{ type: 'cacheonly' }],
      buildArgs: { SALT: salt },
      cacheFrom: [ref],
      network: 'none',
      builder,
      onProgress: (e) => { if (e.type === 'vertex' && e.vertex.cached) cached.push(e.vertex.name) },
    })
    // The step's name shows the argument expanded.
    expect(cached.some((name) => name.includes(`RUN echo "${salt}"`))).toBe(true)
  }, 180_000)

  it('forwards an ssh agent socket to RUN --mount=type=ssh when asked', async () => {
    const ctx = await context('ssh', { Dockerfile: `FROM ${base}\nRUN --mount=type=ssh test -S "$SSH_AUTH_SOCK"\n` })
    const socket = join(dir, 'agent.sock')
    // Only the socket's existence is checked by the step; nothing needs to answer on it.
    const agent = createServer((connection) => connection.destroy())
    await new Promise<void>((resolve) => agent.listen(socket, resolve))
    try {
      await client.build({ context: ctx, outputs: [{ type: 'cacheonly' }], ssh: { default: socket }, network: 'none', builder: dockerd.buildkitAddress })
      // Without ssh the mount has no agent, and the step's test fails.
      await expect(client.build({ context: ctx, outputs: [{ type: 'cacheonly' }], noCache: true, network: 'none', builder: dockerd.buildkitAddress })).rejects.toBeInstanceOf(BuildError)
    } finally {
      await new Promise<void>((resolve) => agent.close(() => resolve()))
    }
  }, 120_000)

  it('sends only what changed on a rebuild', async () => {
    const ctx = await context('rebuild', { 'Dockerfile': 'FROM scratch\nCOPY . /ctx/\n', 'small.txt': 'one\n' })
    await writeFile(join(ctx, 'big.bin'), randomBytes(4 * 1024 * 1024))
    const transferred = async (): Promise<number> => {
      let bytes = 0
      await client.build({
        context: ctx,
        outputs: [{ type: 'cacheonly' }],
        builder: dockerd.buildkitAddress,
        onProgress: (e) => {
          if (e.type !== 'vertex') return
          for (const s of e.vertex.statuses) if (s.id.startsWith('transferring context')) bytes = Math.max(bytes, s.current)
        },
      })
      return bytes
    }
    expect(await transferred()).toBeGreaterThan(4 * 1024 * 1024)
    await writeFile(join(ctx, 'small.txt'), 'two\n')
    expect(await transferred()).toBeLessThan(64 * 1024)
  }, 120_000)

  it.runIf(containerdImageStore)("lands the image directly when BuildKit's worker is the client's containerd and namespace", async () => {
    const ctx = await context('direct', { 'Dockerfile': 'FROM scratch\nCOPY direct.txt /direct.txt\n', 'direct.txt': 'direct\n' })
    // dockerd's own containerd and namespace: its BuildKit worker stores there.
    await using moby = await Client.connect({ address: dockerd.containerdAddress, namespace: 'moby' })
    const statuses: string[] = []
    const result = await moby.build({
      context: ctx,
      tags: ['example.com/direct:1'],
      builder: dockerd.buildkitAddress,
      onProgress: (e) => { if (e.type === 'vertex') statuses.push(e.vertex.name, ...e.vertex.statuses.map((s) => s.id)) },
    })
    expect(result.images.map((i) => i.name)).toEqual(['example.com/direct:1'])
    expect(result.digest).toBe(result.images[0]?.digest)
    expect(await result.images[0]?.isUnpacked()).toBe(true)
    // No archive crossed the session: BuildKit's image exporter named and unpacked it in place.
    expect(statuses.some((s) => s.startsWith('naming to example.com/direct:1'))).toBe(true)
    expect(statuses.some((s) => /sending tarball/.test(s))).toBe(false)
    await moby.images.remove('example.com/direct:1')
  }, 120_000)

  it('refuses a missing Dockerfile and bad options before connecting', async () => {
    const ctx = await context('empty', { 'a.txt': 'a\n' })
    await expect(client.build({ context: ctx, tags: [tag('none')], builder: dockerd.buildkitAddress })).rejects.toBeInstanceOf(NotFoundError)
    await expect(client.build({ context: ctx, builder: dockerd.buildkitAddress })).rejects.toBeInstanceOf(InvalidArgumentError)
  })
})

/** The names of dockerd's images (`GET /images/json`). */
function dockerImageNames(socketPath: string): Promise<string[]> {
  return new Promise<string[]>((resolve, reject) => {
    get({ socketPath, path: '/v1.41/images/json', headers: { Host: 'docker' } }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.once('error', reject)
      res.once('end', () => {
        const images = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { RepoTags?: string[] | null }[]
        resolve(images.flatMap((i) => i.RepoTags ?? []))
      })
    }).once('error', reject)
  })
}
