import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

/** What the proxy does to the traffic it forwards. Mutable: tests change it between pulls. */
export interface TamperRules {
  /** Blobs (by digest) whose bytes are altered in flight: one byte flipped, length unchanged. */
  corruptBlobs: Set<string>
  /** Blobs (by digest) whose first full GET is cut off after this many bytes (the connection drops). */
  dropBlobsAfter: Map<string, number>
  /** Answer manifest GETs with this many bytes of padding instead of the manifest (a size-cap test). */
  oversizeManifests: number | undefined
  /** Report this Content-Type for manifests (an unknown media type test). */
  manifestMediaType: string | undefined
}

/** A running tampering proxy. */
export interface TamperProxy extends AsyncDisposable {
  /** `127.0.0.1:<port>`: use it as the registry host of a reference. */
  readonly host: string
  readonly rules: TamperRules
  /** Requests seen, as `METHOD path [range]`, oldest first. */
  readonly log: string[]
  close(): Promise<void>
}

/**
 * An HTTP proxy in front of a plain registry that damages chosen responses, to test that a client
 * verifies digests, caps sizes and resumes broken downloads. Loopback only.
 */
export async function startTamperProxy(target: string): Promise<TamperProxy> {
  const upstream = new URL(target)
  const rules: TamperRules = { corruptBlobs: new Set(), dropBlobsAfter: new Map(), oversizeManifests: undefined, manifestMediaType: undefined }
  const log: string[] = []
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = req.url ?? '/'
    log.push(`${req.method} ${path}${req.headers.range !== undefined ? ` ${req.headers.range}` : ''}`)
    if (rules.oversizeManifests !== undefined && req.method === 'GET' && path.includes('/manifests/')) {
      res.writeHead(200, { 'content-type': 'application/vnd.oci.image.manifest.v1+json', 'content-length': String(rules.oversizeManifests) })
      res.end(Buffer.alloc(rules.oversizeManifests, 0x20))
      return
    }
    const digest = path.includes('/blobs/') ? path.slice(path.lastIndexOf('/') + 1) : undefined
    const forward = request({ host: upstream.hostname, port: upstream.port, method: req.method, path, headers: { ...req.headers, host: upstream.host } }, (up) => {
      const headers = { ...up.headers }
      if (rules.manifestMediaType !== undefined && path.includes('/manifests/')) headers['content-type'] = rules.manifestMediaType
      res.writeHead(up.statusCode ?? 502, headers)
      const dropAfter = digest !== undefined && req.headers.range === undefined ? rules.dropBlobsAfter.get(digest) : undefined
      if (dropAfter !== undefined) rules.dropBlobsAfter.delete(digest as string)
      let sent = 0
      let flipped = false
      up.on('data', (chunk: Buffer) => {
        let out = chunk
        if (digest !== undefined && rules.corruptBlobs.has(digest) && !flipped && out.byteLength > 0) {
          out = Buffer.from(out)
          out[0] = (out[0] ?? 0) ^ 0xff
          flipped = true
        }
        if (dropAfter !== undefined && sent + out.byteLength > dropAfter) {
          res.write(out.subarray(0, dropAfter - sent))
          res.socket?.destroy()
          up.destroy()
          return
        }
        sent += out.byteLength
        res.write(out)
      })
      up.on('end', () => res.end())
    })
    forward.on('error', () => res.destroy())
    req.pipe(forward)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  const close = (): Promise<void> => new Promise<void>((resolve) => {
    server.closeAllConnections()
    server.close(() => resolve())
  })
  return { host: `127.0.0.1:${port}`, rules, log, close, [Symbol.asyncDispose]: close }
}
