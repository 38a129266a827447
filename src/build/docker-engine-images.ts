/**
 * The Docker Engine API calls a build through dockerd needs: its version (which BuildKit it embeds), and,
 * for the classic image store, two more: that store takes
 * only the `moby` exporter (the image goes into dockerd), so the image reaches containerd as `docker save`
 * would write it (`GET /images/get`) and the name the build gave it in dockerd is removed afterwards.
 */

import { request, type IncomingMessage } from 'node:http'
import type { Readable } from 'node:stream'
import { CanceledError, NotFoundError, UnavailableError, UnknownError, type ContainerdError } from '../grpc/errors.js'

// The API version both dockerd 20.10 (1.41) and current ones answer; the paths used here did not change.
const API_PREFIX = '/v1.41'
// An error body is read up to this much: enough for dockerd's `{"message": …}`.
const MAX_ERROR_BODY = 64 * 1024

/** dockerd's version (`GET /version`'s `Version`, e.g. `28.5.1`). */
export async function dockerEngineVersion(socketPath: string, signal?: AbortSignal): Promise<string> {
  const response = await call(socketPath, 'GET', '/version', signal)
  if (response.statusCode !== 200) throw await responseError(response, 'asking dockerd its version')
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of response as AsyncIterable<Buffer>) {
    size += chunk.length
    if (size > MAX_ERROR_BODY) throw new UnknownError('dockerd answered /version with more than 64 KiB')
    chunks.push(chunk)
  }
  const body: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'))
  const version = typeof body === 'object' && body !== null ? (body as { Version?: unknown }).Version : undefined
  if (typeof version !== 'string') throw new UnknownError('dockerd answered /version without a Version')
  return version
}

/**
 * Streams `docker save <name>` from the dockerd at `socketPath`. The caller must consume or destroy the
 * returned stream. `signal` aborts the request (the stream then fails with a `CanceledError`).
 * @throws NotFoundError when dockerd does not have the image; UnavailableError when dockerd cannot be reached.
 */
export async function saveDockerImage(socketPath: string, name: string, signal?: AbortSignal): Promise<Readable> {
  const response = await call(socketPath, 'GET', `/images/get?names=${encodeURIComponent(name)}`, signal)
  if (response.statusCode !== 200) throw await responseError(response, `saving ${name} from dockerd`)
  return response
}

/**
 * Removes the name `name` from dockerd (`docker rmi`): the image goes with it when no other name holds it.
 * A name already gone is not an error.
 */
export async function removeDockerImage(socketPath: string, name: string, signal?: AbortSignal): Promise<void> {
  const response = await call(socketPath, 'DELETE', `/images/${encodeURIComponent(name)}`, signal)
  if (response.statusCode === 404) {
    response.resume()
    return
  }
  if (response.statusCode !== 200) throw await responseError(response, `removing ${name} from dockerd`)
  response.resume()
}

function call(socketPath: string, method: string, path: string, signal: AbortSignal | undefined): Promise<IncomingMessage> {
  return new Promise<IncomingMessage>((resolve, reject) => {
    if (signal?.aborted === true) {
      reject(new CanceledError(`${method} ${path} on dockerd was aborted`, { cause: signal.reason }))
      return
    }
    const req = request({ socketPath, method, path: `${API_PREFIX}${path}`, headers: { Host: 'docker' }, ...(signal !== undefined ? { signal } : {}) })
    req.once('response', (res) => {
      // From here on the caller reads (or drops) the body; a failure mid-body reaches it as the stream's error.
      resolve(res)
    })
    req.once('error', (err: NodeJS.ErrnoException) => {
      if (signal?.aborted === true) reject(new CanceledError(`${method} ${path} on dockerd was aborted`, { cause: signal.reason }))
      else reject(new UnavailableError(`dockerd at ${socketPath} is not reachable: ${err.message}`, { cause: err }))
    })
    req.end()
  })
}

async function responseError(response: IncomingMessage, what: string): Promise<ContainerdError> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of response as AsyncIterable<Buffer>) {
    if (size < MAX_ERROR_BODY) chunks.push(chunk)
    size += chunk.length
  }
  const body = Buffer.concat(chunks).toString('utf8').slice(0, MAX_ERROR_BODY)
  let message = body.trim()
  try {
    const parsed: unknown = JSON.parse(body)
    if (typeof parsed === 'object' && parsed !== null && typeof (parsed as { message?: unknown }).message === 'string') {
      message = (parsed as { message: string }).message
    }
  } catch {
    // Not JSON: the text as it came.
  }
  const text = `${what} failed: HTTP ${response.statusCode ?? '?'}: ${message}`
  return response.statusCode === 404 ? new NotFoundError(text) : new UnknownError(text)
}
