import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseBuildKitAddress } from '../../src/build/buildkit-address.js'
import { dialBuildKit } from '../../src/build/buildkit-dial.js'
import type { MethodHandler } from '../../src/build/session/grpc-handler.js'
import { serveGrpc } from '../../src/build/session/grpc-server.js'
import { sessionMethods } from '../../src/build/session/session-methods.js'
import { openSessionTunnel } from '../../src/build/session/session-tunnel.js'
import { Http2Channel } from '../../src/grpc/http2-channel.js'
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
})
