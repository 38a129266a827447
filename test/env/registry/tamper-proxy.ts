import { randomBytes } from 'node:crypto'
import { createServer, request, type IncomingHttpHeaders, type IncomingMessage, type OutgoingHttpHeaders, type ServerResponse } from 'node:http'
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
  /**
   * Answer blob GETs with a 307: `cdn` to the proxy's {@link TamperProxy.cdn} (a signed-URL-like query
   * names the request, so the CDN can fetch the blob from the registry with its credentials), `loop` to
   * the same path again, without end.
   */
  redirectBlobs: 'cdn' | 'loop' | undefined
}

/** A request the CDN received. */
export interface CdnRequest {
  method: string
  path: string
  headers: IncomingHttpHeaders
}

/** A running tampering proxy. */
export interface TamperProxy extends AsyncDisposable {
  /** `127.0.0.1:<port>`: use it as the registry host of a reference. */
  readonly host: string
  readonly rules: TamperRules
  /** Requests seen, as `METHOD path [range]`, oldest first. */
  readonly log: string[]
  /** The second server blob GETs are redirected to with `redirectBlobs: 'cdn'`, and what it received. */
  readonly cdn: { readonly host: string; readonly requests: CdnRequest[] }
  close(): Promise<void>
}

/**
 * An HTTP proxy in front of a plain registry that damages chosen responses, to test that a client
 * verifies digests, caps sizes and resumes broken downloads, and redirects blob GETs to a second server
 * (a "CDN") the way Docker Hub, S3 or GCS do. Loopback only.
 */
export async function startTamperProxy(target: string): Promise<TamperProxy> {
  const upstream = new URL(target)
  const rules: TamperRules = { corruptBlobs: new Set(), dropBlobsAfter: new Map(), oversizeManifests: undefined, manifestMediaType: undefined, redirectBlobs: undefined }
  const log: string[] = []
  // What the CDN needs to fetch a redirected blob: the registry request's headers, by the id in the Location.
  const signed = new Map<string, OutgoingHttpHeaders>()
  let cdnHost = ''
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = req.url ?? '/'
    log.push(`${req.method} ${path}${req.headers.range !== undefined ? ` ${req.headers.range}` : ''}`)
    if (rules.oversizeManifests !== undefined && req.method === 'GET' && path.includes('/manifests/')) {
      res.writeHead(200, { 'content-type': 'application/vnd.oci.image.manifest.v1+json', 'content-length': String(rules.oversizeManifests) })
      res.end(Buffer.alloc(rules.oversizeManifests, 0x20))
      return
    }
    if (rules.redirectBlobs !== undefined && req.method === 'GET' && path.includes('/blobs/sha256:')) {
      if (rules.redirectBlobs === 'loop') {
        res.writeHead(307, { location: path, 'content-length': '0' }).end()
        return
      }
      // Like S3 or Cloudflare: the credential is in the query, and the CDN knows nothing of the registry's auth.
      const id = randomBytes(12).toString('hex')
      signed.set(id, req.headers.authorization !== undefined ? { authorization: req.headers.authorization } : {})
      res.writeHead(307, { location: `http://${cdnHost}/cdn${path}?X-Signature=${id}`, 'content-length': '0' }).end()
      return
    }
    forward(req, res, path, { ...req.headers, host: upstream.host })
  })
  const cdnRequests: CdnRequest[] = []
  const cdn = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://cdn')
    cdnRequests.push({ method: req.method ?? '', path: url.pathname, headers: req.headers })
    const auth = signed.get(url.searchParams.get('X-Signature') ?? '')
    if (auth === undefined || !url.pathname.startsWith('/cdn/')) {
      res.writeHead(403, { 'content-length': '0' }).end()
      return
    }
    const path = url.pathname.slice('/cdn'.length)
    log.push(`${req.method} cdn:${path}${req.headers.range !== undefined ? ` ${req.headers.range}` : ''}`)
    forward(req, res, path, { ...auth, ...(req.headers.range !== undefined ? { range: req.headers.range } : {}), host: upstream.host })
  })

  function forward(req: IncomingMessage, res: ServerResponse, path: string, headers: OutgoingHttpHeaders): void {
    const digest = path.includes('/blobs/') ? path.slice(path.lastIndexOf('/') + 1) : undefined
    const toUpstream = request({ host: upstream.hostname, port: upstream.port, method: req.method, path, headers }, (up) => {
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
    toUpstream.on('error', () => res.destroy())
    req.pipe(toUpstream)
  }

  await Promise.all([server, cdn].map((s) => new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve))))
  const { port } = server.address() as AddressInfo
  cdnHost = `127.0.0.1:${(cdn.address() as AddressInfo).port}`
  const close = async (): Promise<void> => {
    await Promise.all([server, cdn].map((s) => new Promise<void>((resolve) => {
      s.closeAllConnections()
      s.close(() => resolve())
    })))
  }
  return { host: `127.0.0.1:${port}`, rules, log, cdn: { host: cdnHost, requests: cdnRequests }, close, [Symbol.asyncDispose]: close }
}
