import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable, Writable } from 'node:stream'
import { extract, type Header } from 'tar-stream'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { parseBuildKitAddress } from '../../src/build/buildkit-address.js'
import { dialBuildKit } from '../../src/build/buildkit-dial.js'
import type { ExportTarget } from '../../src/build/session/filesend-service.js'
import { serveGrpc } from '../../src/build/session/grpc-server.js'
import { sessionMethods } from '../../src/build/session/session-methods.js'
import { openSessionTunnel } from '../../src/build/session/session-tunnel.js'
import { Control } from '../../src/gen/moby/buildkit/api/services/control/control_pb.js'
import { Http2Channel } from '../../src/grpc/http2-channel.js'
import { createServiceClient } from '../../src/grpc/service-client.js'
import type { ContainerdLine } from '../../src/testing/index.js'
import { startDockerd, type DockerdDaemon, type DockerdLine } from '../env/dockerd.js'

// The exporters' way back: a Dockerfile build (FROM scratch, COPY, so no pull) exported by `tar` into a
// stream and by `local` into a directory, both over FileSend.DiffCopy in our session. dockerd's classic
// image store takes `moby`, `local` and `tar` only, so `oci`/`docker` are not tried here.
// The project's line straight from the global setup (test-client.ts would load the whole SDK for it).
const projectLine = inject('containerdLine')
const containerdLine: ContainerdLine = projectLine === '1.7' || projectLine === '2.x' ? projectLine : '1.6'

const CONTENT = 'exported through FileSend\n'
const EXPORTER_ID = 'buildkit-attachable-exporter-id'

/** A sink keeping what it is given. */
class Collector extends Writable {
  readonly chunks: Buffer[] = []
  override _write(chunk: Buffer, _enc: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.chunks.push(chunk)
    callback()
  }
}

/** The regular files of a tar, by path, with their contents. */
async function tarFiles(tar: Buffer): Promise<Map<string, string>> {
  const files = new Map<string, string>()
  const reader = extract()
  Readable.from([tar]).pipe(reader as unknown as NodeJS.WritableStream)
  for await (const entry of reader as unknown as AsyncIterable<AsyncIterable<Buffer> & { header: Header }>) {
    const chunks: Buffer[] = []
    for await (const chunk of entry) chunks.push(chunk)
    if (entry.header.type === 'file') files.set(entry.header.name, Buffer.concat(chunks).toString())
  }
  return files
}

describe.each<DockerdLine>(['20.10', '28.5'])(`BuildKit exports through dockerd %s (on containerd ${containerdLine})`, (line) => {
  let dockerd: DockerdDaemon
  let context: string
  beforeAll(async () => {
    context = await mkdtemp(join(tmpdir(), 'csdk-export-ctx-'))
    await writeFile(join(context, 'Dockerfile'), 'FROM scratch\nCOPY a.txt /a.txt\n')
    await writeFile(join(context, 'a.txt'), CONTENT)
    dockerd = await startDockerd(line, { containerdLine })
  }, 120_000)
  afterAll(async () => {
    await dockerd?.stop()
    if (context !== undefined) await rm(context, { recursive: true, force: true })
  })

  /**
   * Solves the Dockerfile with one exporter whose output goes to `target`; returns the exporter id
   * metadata of each FileSend call (undefined where the daemon sent none).
   */
  async function solveWith(name: string, type: string, target: ExportTarget): Promise<(string | undefined)[]> {
    const address = parseBuildKitAddress(dockerd.buildkitAddress)
    const channel = new Http2Channel(address.address, { dial: (signal) => dialBuildKit(address, signal) })
    const control = createServiceClient(Control, channel, () => ({}))
    const methods = sessionMethods({ locals: new Map([['context', { dir: context }], ['dockerfile', { dir: context }]]), exports: new Map([['0', target]]) })
    const ids: (string | undefined)[] = []
    const fileSend = methods.get('/moby.filesync.v1.FileSend/DiffCopy')!
    if (fileSend.kind === 'bidi') {
      methods.set('/moby.filesync.v1.FileSend/DiffCopy', {
        kind: 'bidi',
        handle: (requests, send, call) => {
          ids.push(call.metadata[EXPORTER_ID]?.[0])
          return fileSend.handle(requests, send, call)
        },
      })
    }
    const suffix = `${name}${process.pid}${line.replace('.', '')}`
    const session = `csdkexp${suffix}`
    const tunnel = openSessionTunnel(channel, { id: session, sharedKey: 'export', methods: [...methods.keys()] })
    tunnel.on('error', () => {})
    const server = serveGrpc(tunnel, methods)
    try {
      // Exporters (field 13) for BuildKit v0.13+, the deprecated single exporter (fields 3/4) for v0.8,
      // which reads only those; newer daemons read 3/4 only when 13 is empty.
      await control.solve(
        {
          Ref: `csdkexpref${suffix}`,
          Session: session,
          Frontend: 'dockerfile.v0',
          FrontendAttrs: {},
          Exporters: [{ Type: type, Attrs: {} }],
          ExporterDeprecated: type,
          ExporterAttrsDeprecated: {},
        },
        { timeoutMs: 60_000 },
      )
    } finally {
      server.close()
      await server.closed
      channel.close()
    }
    return ids
  }

  it('sends the tar exporter\'s archive into a stream', async () => {
    const sink = new Collector()
    const ids = await solveWith('tar', 'tar', { kind: 'stream', open: () => sink })
    const files = await tarFiles(Buffer.concat(sink.chunks))
    expect(files.get('a.txt')).toBe(CONTENT)
    // BuildKit v0.8 (20.10) names no exporter; v0.13+ (28.5) sends the index in Exporters.
    expect(ids).toEqual([line === '20.10' ? undefined : '0'])
  }, 90_000)

  it('receives the local exporter\'s files into a directory', async () => {
    const dest = await mkdtemp(join(tmpdir(), 'csdk-export-local-'))
    try {
      const ids = await solveWith('local', 'local', { kind: 'directory', dir: join(dest, 'out') })
      expect(await readFile(join(dest, 'out', 'a.txt'), 'utf8')).toBe(CONTENT)
      expect(ids).toEqual([line === '20.10' ? undefined : '0'])
    } finally {
      await rm(dest, { recursive: true, force: true })
    }
  }, 90_000)
})
