import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pipeline } from 'node:stream/promises'
import { dialBuildKit } from '../../src/build/buildkit-dial.js'
import { parseBuildKitAddress } from '../../src/build/buildkit-address.js'
import { BuildKit } from '../../src/build/buildkit.js'
import { DEFAULT_BUILDKIT_SOCKETS } from '../../src/build/buildkit-address.js'
import { InvalidArgumentError, UnavailableError } from '../../src/grpc/errors.js'
import { startDockerd, type DockerdDaemon, type DockerdLine } from '../env/dockerd.js'
import { daemonLine } from '../env/test-client.js'
import type { ContainerdLine } from '../../src/testing/index.js'

// BuildKit's Control API against the real peers: the BuildKit embedded in a private dockerd of each line
// (20.10 has v0.8, without the Info RPC; 28.5 a current one), reached over dockerd's /grpc upgrade. Each
// dockerd runs on its own containerd of this project's line (1.6 when the project uses an external one):
// both dockerd lines work on 1.6, 1.7 and 2.x.
const hostArch = process.arch === 'x64' ? 'amd64' : process.arch
const projectLine = daemonLine()
const containerdLine: ContainerdLine = projectLine === '1.7' || projectLine === '2.x' ? projectLine : '1.6'

describe.each<DockerdLine>(['20.10', '28.5'])(`BuildKit in dockerd %s (on containerd ${containerdLine}) over docker://`, (line) => {
  let dockerd: DockerdDaemon
  let control: BuildKit

  beforeAll(async () => {
    dockerd = await startDockerd(line, { containerdLine })
    control = await BuildKit.connect({ address: dockerd.buildkitAddress })
  })
  afterAll(async () => {
    control?.close()
    await dockerd?.stop()
  })

  it('reports its version, or that it has no Info RPC', async () => {
    const info = await control.info()
    if (line === '20.10') {
      // BuildKit v0.8 answers Info Unimplemented and its worker records carry no version.
      expect(info).toMatchObject({ hasInfoRpc: false, source: 'unknown', version: undefined })
    } else {
      expect(info.hasInfoRpc).toBe(true)
      expect(info.source).toBe('info')
      expect(info.package).toBe('github.com/moby/buildkit')
      // Debian builds without version ldflags: v0.0.0+unknown is what dockerd 28.5 from sid reports.
      expect(info.version).toMatch(/^v\d+\.\d+\.\d+/)
    }
  })

  it('lists its workers with the host platform', async () => {
    const workers = await control.workers()
    expect(workers.length).toBeGreaterThanOrEqual(1)
    const worker = workers[0]!
    expect(worker.id).not.toBe('')
    expect(worker.platforms).toContain(`linux/${hostArch}`)
    if (line === '28.5') expect(worker.buildkitVersion).toMatch(/^v\d/)
    else expect(worker.buildkitVersion).toBeUndefined()
  })

  it('reports disk usage and prunes', async () => {
    const records = await control.diskUsage()
    expect(Array.isArray(records)).toBe(true)
    for (const r of records) {
      expect(typeof r.id).toBe('string')
      expect(r.size).toBeGreaterThanOrEqual(0)
    }
    const removed = await control.prune({ all: true })
    expect(removed.every((r) => !r.inUse)).toBe(true)
    expect((await control.diskUsage()).filter((r) => !r.inUse)).toEqual([])
  })

  // No buildkitd package exists here: a relay that opens dockerd's /grpc upgrade for each connection puts
  // the same BuildKit behind a plain unix socket and a TCP port, so the unix:// and tcp:// dials meet it too.
  it('answers over unix:// and tcp:// through a relay to the same BuildKit', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'csdk-bk-relay-'))
    const unixRelay = await relay(dockerd.buildkitAddress, join(dir, 'buildkitd.sock'))
    const tcpRelay = await relay(dockerd.buildkitAddress, 0)
    try {
      const port = (tcpRelay.address() as AddressInfo).port
      for (const address of [`unix://${join(dir, 'buildkitd.sock')}`, `tcp://127.0.0.1:${port}`]) {
        await using viaRelay = await BuildKit.connect({ address })
        expect((await viaRelay.workers()).map((w) => w.id)).toEqual((await control.workers()).map((w) => w.id))
        expect((await viaRelay.info()).hasInfoRpc).toBe(line !== '20.10')
      }
    } finally {
      await closeServer(unixRelay)
      await closeServer(tcpRelay)
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('honours a deadline and closes for good', async () => {
    const other = await BuildKit.connect({ address: dockerd.buildkitAddress, timeoutMs: 10_000 })
    expect((await other.workers({ timeoutMs: 10_000 })).length).toBeGreaterThanOrEqual(1)
    other.close()
    await expect(other.workers()).rejects.toBeInstanceOf(UnavailableError)
  })
})

describe.runIf(process.env['BUILDKIT_HOST'] !== undefined && process.env['BUILDKIT_HOST'] !== '')('the BuildKit named by BUILDKIT_HOST', () => {
  it('answers info and workers', async () => {
    await using control = await BuildKit.connect()
    const info = await control.info()
    expect(['info', 'workers', 'unknown']).toContain(info.source)
    expect((await control.workers()).length).toBeGreaterThanOrEqual(1)
  })
})

describe('an unreachable builder', () => {
  it('names the unix address it tried', async () => {
    const address = 'unix:///tmp/csdk-no-such-dir/buildkitd.sock'
    const err = await BuildKit.connect({ address }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(UnavailableError)
    expect((err as Error).message).toContain(address)
  })

  it('names the docker address it tried', async () => {
    const address = 'docker://unix:///tmp/csdk-no-such-dir/docker.sock'
    const err = await BuildKit.connect({ address }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(UnavailableError)
    expect((err as Error).message).toContain(address)
  })

  it('names the tcp address it tried', async () => {
    // Port 1 (tcpmux) is closed on any machine that runs these tests: the connect is refused at once.
    const address = 'tcp://127.0.0.1:1'
    const err = await BuildKit.connect({ address }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(UnavailableError)
    expect((err as Error).message).toContain(address)
  })

  it.skipIf(DEFAULT_BUILDKIT_SOCKETS.some((p) => existsSync(p)))('lists every default it tried when none answers', async () => {
    vi.stubEnv('BUILDKIT_HOST', '')
    try {
      const err = await BuildKit.connect().catch((e: unknown) => e)
      expect(err).toBeInstanceOf(UnavailableError)
      for (const path of DEFAULT_BUILDKIT_SOCKETS) expect((err as Error).message).toContain(`unix://${path}`)
      expect((err as Error).message).toContain('BUILDKIT_HOST')
    } finally {
      vi.unstubAllEnvs()
    }
  })

  it('rejects a malformed address before connecting', async () => {
    await expect(BuildKit.connect({ address: 'http://localhost:1234' })).rejects.toBeInstanceOf(InvalidArgumentError)
  })
})

/** Listens on `at` (a socket path, or a TCP port on 127.0.0.1) and pipes each connection into a fresh /grpc upgrade. */
async function relay(dockerAddress: string, at: string | number): Promise<Server> {
  const target = parseBuildKitAddress(dockerAddress)
  const sockets = new Set<Socket>()
  const server = createServer((client) => {
    sockets.add(client)
    client.once('close', () => sockets.delete(client))
    dialBuildKit(target).then((upstream) => {
      void pipeline(client, upstream, client).catch(() => undefined)
    }, () => client.destroy())
  })
  await new Promise<void>((resolve) => {
    if (typeof at === 'string') server.listen(at, resolve)
    else server.listen(at, '127.0.0.1', resolve)
  })
  // Closing the relay ends the connections it still holds (server.close alone waits for them), so the test
  // leaves nothing open.
  relayConnections.set(server, sockets)
  return server
}

const relayConnections = new WeakMap<Server, Set<Socket>>()

function closeServer(server: Server): Promise<void> {
  return new Promise<void>((resolve) => {
    server.close(() => resolve())
    for (const s of relayConnections.get(server) ?? []) s.destroy()
  })
}
