import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseBuildKitAddress } from '../../src/build/buildkit-address.js'
import { dialBuildKit } from '../../src/build/buildkit-dial.js'
import type { MethodHandler } from '../../src/build/session/grpc-handler.js'
import { serveGrpc } from '../../src/build/session/grpc-server.js'
import { sessionMethods } from '../../src/build/session/session-methods.js'
import { openSessionTunnel } from '../../src/build/session/session-tunnel.js'
import { Control } from '../../src/gen/moby/buildkit/api/services/control/control_pb.js'
import { Http2Channel } from '../../src/grpc/http2-channel.js'
import { createServiceClient } from '../../src/grpc/service-client.js'
import { startDockerd, type DockerdDaemon, type DockerdLine } from '../env/dockerd.js'
import { daemonLine } from '../env/test-client.js'
import type { ContainerdLine } from '../../src/testing/index.js'

// First probe of the session against real daemons: open Control.Session through dockerd's /grpc upgrade
// and see BuildKit's health check (its session manager checks each attached session: measured here about
// 1 s after attaching on 20.10, 5 s on 28.5) answered. 20.10 carries BuildKit v0.8, where a failed check would end the session.
const projectLine = daemonLine()
const containerdLine: ContainerdLine = projectLine === '1.7' || projectLine === '2.x' ? projectLine : '1.6'

describe.each<DockerdLine>(['20.10', '28.5'])(`BuildKit session through dockerd %s (on containerd ${containerdLine})`, (line) => {
  let dockerd: DockerdDaemon
  beforeAll(async () => {
    dockerd = await startDockerd(line, { containerdLine })
  }, 120_000)
  afterAll(async () => {
    await dockerd?.stop()
  })

  it('is health-checked by the daemon once attached', async () => {
    const target = parseBuildKitAddress(dockerd.buildkitAddress)
    const channel = new Http2Channel(target.address, { dial: (signal) => dialBuildKit(target, signal) })
    const methods = sessionMethods({ locals: new Map() })
    const health = methods.get('/grpc.health.v1.Health/Check')!
    let checked!: () => void
    const checkedOnce = new Promise<void>((resolve) => { checked = resolve })
    const counting: MethodHandler = health.kind === 'unary'
      ? { kind: 'unary', handle: (request, call) => health.handle(request, call).finally(() => checked()) }
      : health
    methods.set('/grpc.health.v1.Health/Check', counting)
    const errors: unknown[] = []
    const tunnel = openSessionTunnel(channel, { id: `csdk-probe-${process.pid}`, sharedKey: 'probe', methods: [...methods.keys()] })
    tunnel.on('error', (e) => errors.push(e))
    const server = serveGrpc(tunnel, methods, { onError: (e) => errors.push(e) })
    try {
      await checkedOnce
    } finally {
      server.close()
      await server.closed
      channel.close()
    }
    expect(errors.filter((e) => !(e instanceof Error && e.name === 'CanceledError'))).toEqual([])
  }, 60_000)

  // Beyond the health check: a Dockerfile build (FROM scratch, so no pull) whose frontend reads the
  // `dockerfile` and `context` locals from our session over FileSync.DiffCopy. This also proves the
  // daemon read the advertised method list (one header field per method): without DiffCopy in it the
  // daemon answers "no local sources enabled".
  it('serves the dockerfile and context locals to a Dockerfile build', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'csdk-session-ctx-'))
    await writeFile(join(dir, 'Dockerfile'), 'FROM scratch\nCOPY a.txt /a.txt\n')
    await writeFile(join(dir, 'a.txt'), 'hello from the session\n')
    const target = parseBuildKitAddress(dockerd.buildkitAddress)
    const channel = new Http2Channel(target.address, { dial: (signal) => dialBuildKit(target, signal) })
    const control = createServiceClient(Control, channel, () => ({}))
    const served: string[] = []
    const methods = sessionMethods({ locals: new Map([['context', { dir }], ['dockerfile', { dir }]]) })
    const diffCopy = methods.get('/moby.filesync.v1.FileSync/DiffCopy')!
    if (diffCopy.kind === 'bidi') {
      methods.set('/moby.filesync.v1.FileSync/DiffCopy', {
        kind: 'bidi',
        handle: (requests, send, call) => {
          served.push(call.metadata['dir-name']?.[0] ?? '')
          return diffCopy.handle(requests, send, call)
        },
      })
    }
    const id = `csdksess${process.pid}${line.replace('.', '')}`
    const tunnel = openSessionTunnel(channel, { id, sharedKey: 'probe', methods: [...methods.keys()] })
    tunnel.on('error', () => {})
    const server = serveGrpc(tunnel, methods)
    try {
      await control.solve({ Ref: `csdkref${process.pid}${line.replace('.', '')}`, Session: id, Frontend: 'dockerfile.v0', FrontendAttrs: {} }, { timeoutMs: 60_000 })
    } finally {
      server.close()
      await server.closed
      channel.close()
      await rm(dir, { recursive: true, force: true })
    }
    expect(served).toContain('dockerfile')
    expect(served).toContain('context')
  }, 90_000)
})
