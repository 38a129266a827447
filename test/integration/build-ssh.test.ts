import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createServer, type Server, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fromBinary } from '@bufbuild/protobuf'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { parseBuildKitAddress } from '../../src/build/buildkit-address.js'
import { dialBuildKit } from '../../src/build/buildkit-dial.js'
import { serveGrpc } from '../../src/build/session/grpc-server.js'
import { sessionMethods } from '../../src/build/session/session-methods.js'
import { openSessionTunnel } from '../../src/build/session/session-tunnel.js'
import type { SshAgents } from '../../src/build/session/ssh-service.js'
import { Control } from '../../src/gen/moby/buildkit/api/services/control/control_pb.js'
import { CheckAgentRequestSchema } from '../../src/gen/moby/buildkit/session/sshforward/ssh_pb.js'
import { Http2Channel } from '../../src/grpc/http2-channel.js'
import { createServiceClient } from '../../src/grpc/service-client.js'
import type { ContainerdLine } from '../../src/testing/index.js'
import { busyboxImage } from '../fixtures/index.js'
import { startDockerd, type DockerdDaemon, type DockerdLine } from '../env/dockerd.js'
import { pushFixture, startRegistry, type Registry } from '../env/registry/index.js'

// SSH agent forwarding against the BuildKit in dockerd: `RUN --mount=type=ssh` gets a socket only when
// our session answered CheckAgent for the mount's id. The base image is the busybox fixture from a private
// registry (FROM scratch has no shell). Busybox's nc (1.35) has no unix-socket mode and nothing else in
// the image can open one, so no step connects to the socket and the fake agent below is never called:
// ForwardAgent itself is covered by the unit tests, against the same kind of fake agent.
const projectLine = inject('containerdLine')
const containerdLine: ContainerdLine = projectLine === '1.7' || projectLine === '2.x' ? projectLine : '1.6'

let registry: Registry
let base: string
beforeAll(async () => {
  registry = await startRegistry({ mode: 'plain' })
  base = (await pushFixture(registry, await busyboxImage(), 'library/busybox', 'latest')).reference
}, 120_000)
afterAll(async () => {
  await registry?.stop()
})

/** A fake ssh-agent: answers REQUEST_IDENTITIES (11) with IDENTITIES_ANSWER (12) and no keys. */
async function startAgent(path: string): Promise<{ requests: number[]; close(): Promise<void> }> {
  const requests: number[] = []
  const sockets = new Set<Socket>()
  const server: Server = createServer((socket) => {
    sockets.add(socket)
    socket.on('error', () => {})
    socket.on('close', () => sockets.delete(socket))
    let buffered = Buffer.alloc(0)
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk])
      while (buffered.length >= 4 && buffered.length >= 4 + buffered.readUInt32BE(0)) {
        const type = buffered[4]!
        buffered = buffered.subarray(4 + buffered.readUInt32BE(0))
        requests.push(type)
        socket.write(type === 11 ? Buffer.from([0, 0, 0, 5, 12, 0, 0, 0, 0]) : Buffer.from([0, 0, 0, 1, 5]))
      }
    })
    socket.on('end', () => socket.end())
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(path, () => resolve())
  })
  return {
    requests,
    async close() {
      for (const s of sockets) s.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

/** The ids the daemon called CheckAgent and ForwardAgent with. */
interface SshCalls {
  checked: string[]
  forwarded: string[]
}

describe.each<DockerdLine>(['20.10', '28.5'])(`ssh agent forwarding through dockerd %s (on containerd ${containerdLine})`, (line) => {
  let dockerd: DockerdDaemon
  let dir: string
  let agent: Awaited<ReturnType<typeof startAgent>>
  let agentSocket: string
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'csdk-build-ssh-'))
    agentSocket = join(dir, 'agent.sock')
    agent = await startAgent(agentSocket)
    dockerd = await startDockerd(line, { containerdLine })
  }, 120_000)
  afterAll(async () => {
    await dockerd?.stop()
    await agent?.close()
    if (dir !== undefined) await rm(dir, { recursive: true, force: true })
  })

  /**
   * Solves `dockerfile` (network none, no exporter) with a session serving `agents` (no SSH service when
   * undefined); `calls` gets the ids CheckAgent and ForwardAgent were called with.
   */
  async function solve(name: string, dockerfile: string, agents: SshAgents | undefined, calls: SshCalls): Promise<void> {
    const context = join(dir, name)
    await mkdir(context, { recursive: true })
    await writeFile(join(context, 'Dockerfile'), dockerfile)
    const address = parseBuildKitAddress(dockerd.buildkitAddress)
    const channel = new Http2Channel(address.address, { dial: (signal) => dialBuildKit(address, signal) })
    const control = createServiceClient(Control, channel, () => ({}))
    const locals = new Map([['context', { dir: context }], ['dockerfile', { dir: context }]])
    const methods = sessionMethods(agents === undefined ? { locals } : { locals, ssh: agents })
    const check = methods.get('/moby.sshforward.v1.SSH/CheckAgent')
    if (check?.kind === 'unary') {
      methods.set('/moby.sshforward.v1.SSH/CheckAgent', {
        kind: 'unary',
        handle: (request, call) => {
          calls.checked.push(fromBinary(CheckAgentRequestSchema, request).ID)
          return check.handle(request, call)
        },
      })
    }
    const forward = methods.get('/moby.sshforward.v1.SSH/ForwardAgent')
    if (forward?.kind === 'bidi') {
      methods.set('/moby.sshforward.v1.SSH/ForwardAgent', {
        kind: 'bidi',
        handle: (requests, send, call) => {
          calls.forwarded.push(call.metadata['buildkit.ssh.id']?.[0] ?? '')
          return forward.handle(requests, send, call)
        },
      })
    }
    const suffix = `${name}${process.pid}${line.replace('.', '')}`
    const session = `csdkssh${suffix}`
    const tunnel = openSessionTunnel(channel, { id: session, sharedKey: 'ssh', methods: [...methods.keys()] })
    tunnel.on('error', () => {})
    const server = serveGrpc(tunnel, methods)
    try {
      await control.solve(
        { Ref: `csdksshref${suffix}`, Session: session, Frontend: 'dockerfile.v0', FrontendAttrs: { 'force-network-mode': 'none' } },
        { timeoutMs: 90_000 },
      )
    } finally {
      server.close()
      await server.closed
      channel.close()
    }
  }

  it('mounts the agent socket for RUN --mount=type=ssh once CheckAgent answered for the default id', async () => {
    const calls: SshCalls = { checked: [], forwarded: [] }
    await solve('default', `FROM ${base}\nRUN --mount=type=ssh test -S "$SSH_AUTH_SOCK"\n`, new Map([['default', { socket: agentSocket }]]), calls)
    // Both BuildKits check a mount without an id with the empty ID (the session maps it to `default`);
    // nothing in the step opens the socket, so no ForwardAgent.
    expect(calls).toEqual({ checked: [''], forwarded: [] })
  }, 120_000)

  it('fails the build when a required agent id is not in the session', async () => {
    const calls: SshCalls = { checked: [], forwarded: [] }
    const dockerfile = `FROM ${base}\nRUN --mount=type=ssh,id=missing,required=true test -S "$SSH_AUTH_SOCK"\n`
    const error = await solve('unknown', dockerfile, new Map([['default', { socket: agentSocket }]]), calls).then(() => undefined, (e: unknown) => e)
    // Our NotFound comes back as the Solve's error: as NotFound from 28.5, wrapped in Unknown
    // ("rpc error: code = NotFound desc = …") from 20.10.
    expect(error).toBeInstanceOf(Error)
    expect((error as Error).message).toContain('no ssh agent "missing" in this session')
    expect(calls).toEqual({ checked: ['missing'], forwarded: [] })
  }, 120_000)

  it('mounts no socket for an optional agent id the session does not have, so the step sees none', async () => {
    const calls: SshCalls = { checked: [], forwarded: [] }
    const dockerfile = `FROM ${base}\nRUN --mount=type=ssh,id=missing,required=false test -S "$SSH_AUTH_SOCK"\n`
    const error = await solve('optional', dockerfile, new Map([['default', { socket: agentSocket }]]), calls).then(() => undefined, (e: unknown) => e)
    expect(error).toBeInstanceOf(Error)
    expect((error as Error).message).toContain('exit code: 1')
    expect(calls.checked).toEqual(['missing'])
  }, 120_000)

  it('fails a required ssh mount when the session serves no SSH at all', async () => {
    const calls: SshCalls = { checked: [], forwarded: [] }
    const dockerfile = `FROM ${base}\nRUN --mount=type=ssh,required=true test -S "$SSH_AUTH_SOCK"\n`
    const error = await solve('unserved', dockerfile, undefined, calls).then(() => undefined, (e: unknown) => e)
    // Unimplemented, which BuildKit reports as the agent not being forwarded.
    expect(error).toBeInstanceOf(Error)
    expect((error as Error).message).toContain('no SSH key "" forwarded from the client')
  }, 120_000)
})
